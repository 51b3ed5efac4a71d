// The local broker's second listener: SASL over TLS, so that clients can be tried against what a
// production cluster asks for (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512; a private CA) without leaving the
// machine. Its certificate is self-signed for 127.0.0.1 and serves as its own CA file; its one user
// gets a fresh random password each time the stack is formatted.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { StackError } from './stack-error.js';

const run = promisify(execFile);

export const SECURE_LISTENER = 'SASL_SSL';
export const SASL_USERNAME = 'sluice';
const MECHANISMS = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'] as const;

export interface SecureListener {
  port: number;
  brokers: string;
  username: string;
  password: string;
  mechanisms: string[];
  /** PEM file to trust: what KAFKA_SSL_CA_FILE points at. */
  caFile: string;
  keystore: string;
  keystorePassword: string;
}

/** Creates the listener's keystore (keytool ships with the JDK that runs the broker) and credentials. */
export async function createSecureListener(dir: string, port: number): Promise<SecureListener> {
  const keystore = join(dir, 'broker.p12');
  const caFile = join(dir, 'ca.pem');
  const keystorePassword = randomBytes(12).toString('hex');
  await rm(keystore, { force: true });
  const keytool = (args: string[]) => run('keytool', args, { timeout: 60_000 });
  try {
    await keytool([
      '-genkeypair',
      '-alias',
      'broker',
      '-keyalg',
      'RSA',
      '-keysize',
      '2048',
      '-validity',
      '3650',
      '-dname',
      'CN=localhost',
      '-ext',
      'SAN=ip:127.0.0.1,dns:localhost',
      '-keystore',
      keystore,
      '-storetype',
      'PKCS12',
      '-storepass',
      keystorePassword,
      '-keypass',
      keystorePassword,
      '-noprompt',
    ]);
    const { stdout } = await keytool([
      '-exportcert',
      '-rfc',
      '-alias',
      'broker',
      '-keystore',
      keystore,
      '-storepass',
      keystorePassword,
    ]);
    await writeFile(caFile, stdout);
  } catch (error) {
    throw new StackError(
      `keytool could not create the TLS keystore for the broker's SASL_SSL listener in ${dir}: ${(error as Error).message}`,
      error,
    );
  }
  return {
    port,
    brokers: `127.0.0.1:${port}`,
    username: SASL_USERNAME,
    password: randomBytes(12).toString('hex'),
    mechanisms: [...MECHANISMS],
    caFile,
    keystore,
    keystorePassword,
  };
}

/** The server.properties lines for the listener (added to the PLAINTEXT and CONTROLLER ones). */
export function secureListenerProperties(listener: SecureListener): string {
  const prefix = `listener.name.${SECURE_LISTENER.toLowerCase()}`;
  const scram = 'org.apache.kafka.common.security.scram.ScramLoginModule required;';
  return `sasl.enabled.mechanisms=${MECHANISMS.join(',')}
${prefix}.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_${listener.username}="${listener.password}";
${prefix}.scram-sha-256.sasl.jaas.config=${scram}
${prefix}.scram-sha-512.sasl.jaas.config=${scram}
ssl.keystore.type=PKCS12
ssl.keystore.location=${listener.keystore}
ssl.keystore.password=${listener.keystorePassword}
ssl.key.password=${listener.keystorePassword}
`;
}

/** `kafka-storage format` arguments that store the SCRAM credentials in the cluster metadata. */
export function scramFormatArguments(listener: SecureListener): string[] {
  return MECHANISMS.filter((m) => m.startsWith('SCRAM')).flatMap((mechanism) => [
    '--add-scram',
    `${mechanism}=[name=${listener.username},password=${listener.password}]`,
  ]);
}
