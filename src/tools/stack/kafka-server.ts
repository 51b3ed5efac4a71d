// A single-node Apache Kafka broker in KRaft mode (broker and controller in one JVM), run natively from
// the Maven jars with its own config, data folder and ports.
import { randomUUID } from 'node:crypto';
import { execFile } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { resolveKafkaJars } from './kafka-jars.js';
import { brokerLoggingOf, releaseProperties, selectedKafkaVersion } from './kafka-release.js';
import {
  createSecureListener,
  scramFormatArguments,
  secureListenerProperties,
  SECURE_LISTENER,
  type SecureListener,
} from './kafka-secure-listener.js';
import { startDetached, waitUntilReady } from './processes.js';
import { StackError } from './stack-error.js';
import type { KafkaState } from './stack-state.js';

const run = promisify(execFile);

function serverProperties(
  version: string,
  port: number,
  advertisedPort: number,
  controllerPort: number,
  logDir: string,
  secure: SecureListener,
): string {
  const secureUrl = `${SECURE_LISTENER}://127.0.0.1:${secure.port}`;
  return `# Written by sluice stack: single-node KRaft broker for local development and tests.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:${controllerPort}
listeners=PLAINTEXT://127.0.0.1:${port},${secureUrl},CONTROLLER://127.0.0.1:${controllerPort}
advertised.listeners=PLAINTEXT://127.0.0.1:${advertisedPort},${secureUrl}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,${SECURE_LISTENER}:${SECURE_LISTENER}
${secureListenerProperties(secure)}log.dirs=${logDir}
num.partitions=1
auto.create.topics.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=8
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=8
min.insync.replicas=1
group.initial.rebalance.delay.ms=0
log.segment.bytes=104857600
${releaseProperties(version, 1)}`;
}

/** The JVM flag naming the logging config of a broker of `version` in `dir`. */
function loggingFlag(dir: string, version: string): string {
  const logging = brokerLoggingOf(version);
  return logging.jvmFlag(join(dir, logging.file));
}

/** Writes the logging config a broker of `version` reads into `dir`; returns the JVM flag naming it. */
export async function writeBrokerLogging(dir: string, version: string): Promise<string> {
  const logging = brokerLoggingOf(version);
  await writeFile(join(dir, logging.file), logging.content);
  return loggingFlag(dir, version);
}

/**
 * Ready means a consumer group can join: the broker answers and its group coordinator is up. Asking
 * for a group makes the broker create __consumer_offsets now, not on the first real consumer's join.
 */
export async function brokerReady(brokers: string): Promise<boolean> {
  const admin = new Kafka({
    clientId: 'sluice-stack',
    brokers: [brokers],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 1_000,
    retry: { retries: 0 },
  }).admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    if (cluster.brokers.length === 0) return false;
    await admin.describeGroups(['sluice-stack-readiness']);
    return true;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

export interface KafkaStartOptions {
  dir: string;
  port: number;
  controllerPort: number;
  /** The SASL_SSL listener's port. */
  securePort: number;
  /**
   * The PLAINTEXT port the broker tells clients to connect to (its metadata), when something listens
   * there in front of it: a test's fault proxy. The broker itself still listens on `port`, which stays
   * the bootstrap address (`brokers`), and its own transaction markers go through the advertised one
   * too. Defaults to `port`.
   */
  advertisedPort?: number;
  /** The Apache Kafka release; defaults to SLUICE_KAFKA_VERSION or the stack's default. */
  version?: string;
  /** More broker settings, appended to its server.properties (a test's unusual broker). */
  extraProperties?: Readonly<Record<string, string>>;
  log?: (line: string) => void;
}

export async function startKafka(options: KafkaStartOptions): Promise<KafkaState> {
  const version = options.version ?? selectedKafkaVersion();
  const [libs, secure] = await Promise.all([
    resolveKafkaJars(version, options.log),
    createSecureListener(options.dir, options.securePort),
  ]);
  const dataDir = join(options.dir, 'data');
  const configFile = join(options.dir, 'server.properties');
  const logFile = join(options.dir, 'kafka.log');
  const classpath = `${libs}/*`;
  // Always formatted afresh: the SCRAM credentials live in the cluster metadata, and the password is new.
  await rm(dataDir, { recursive: true, force: true });
  await mkdir(dataDir, { recursive: true });
  const extra = Object.entries(options.extraProperties ?? {}).map(([key, value]) => `${key}=${value}\n`);
  await writeFile(
    configFile,
    serverProperties(
      version,
      options.port,
      options.advertisedPort ?? options.port,
      options.controllerPort,
      dataDir,
      secure,
    ) + extra.join(''),
  );
  const logging = await writeBrokerLogging(options.dir, version);

  try {
    const format = [
      'kafka.tools.StorageTool',
      'format',
      `--cluster-id=${clusterId()}`,
      '--config',
      configFile,
    ];
    await run('java', [logging, '-cp', classpath, ...format, ...scramFormatArguments(secure)], {
      timeout: 120_000,
    });
  } catch (error) {
    throw new StackError(
      `formatting the Kafka storage in ${dataDir} failed: ${(error as Error).message}`,
      error,
    );
  }

  const brokers = `127.0.0.1:${options.port}`;
  const pid = await launchBroker(options.dir, libs, brokers, version);
  return {
    pid,
    port: options.port,
    controllerPort: options.controllerPort,
    brokers,
    version,
    dataDir,
    logFile,
    secure: {
      brokers: secure.brokers,
      port: secure.port,
      protocol: SECURE_LISTENER,
      mechanisms: secure.mechanisms,
      username: secure.username,
      password: secure.password,
      caFile: secure.caFile,
    },
  };
}

/** Runs the broker of `dir` (its config and data as they are) and waits until a group can join. */
async function launchBroker(dir: string, libs: string, brokers: string, version: string): Promise<number> {
  const pid = startBrokerProcess(dir, libs, version);
  await waitUntilReady(`Kafka ${version}`, pid, join(dir, 'kafka.log'), 90_000, () => brokerReady(brokers));
  return pid;
}

/**
 * Starts the JVM of the broker of `version` in `dir` (server.properties and the logging config written
 * by writeBrokerLogging) without waiting for it.
 */
export function startBrokerProcess(dir: string, libs: string, version: string, heap = '1g'): number {
  const jvm = [
    '-Xms256m',
    `-Xmx${heap}`,
    '-XX:+UseG1GC',
    '-Djava.awt.headless=true',
    loggingFlag(dir, version),
  ];
  return startDetached(
    'java',
    [...jvm, '-cp', `${libs}/*`, 'kafka.Kafka', join(dir, 'server.properties')],
    join(dir, 'kafka.log'),
    dir,
  );
}

/**
 * Starts a stopped broker again with the data it had: topics, committed offsets, transactions and
 * producer state survive, as they do when a real broker restarts. Returns the new process id.
 */
export async function restartKafka(
  state: Pick<KafkaState, 'brokers' | 'dataDir' | 'version'>,
): Promise<number> {
  const libs = await resolveKafkaJars(state.version);
  return launchBroker(dirname(state.dataDir), libs, state.brokers, state.version);
}

/**
 * A KRaft cluster id: 16 random bytes in URL-safe base64, as `kafka-storage random-uuid` prints. It may
 * start with '-', which is why it is passed as `--cluster-id=<id>`.
 */
export function clusterId(): string {
  return Buffer.from(randomUUID().replace(/-/g, ''), 'hex').toString('base64url');
}
