// Kafka SASL and TLS settings, from the environment only (the Helm chart fills it from Secrets), so
// credentials never sit in a pipeline file or a log line.
import { readFileSync } from 'node:fs';
import type { SASLOptions } from 'kafkajs';
import { ConfigError } from '../config/config-error.js';

export interface KafkaSecurity {
  sasl?: SASLOptions;
  ssl?: boolean | { ca: string[] };
}

const MECHANISMS = ['plain', 'scram-sha-256', 'scram-sha-512'] as const;

/**
 * KAFKA_SASL_MECHANISM (plain | scram-sha-256 | scram-sha-512) with KAFKA_SASL_USERNAME and
 * KAFKA_SASL_PASSWORD; KAFKA_SSL=true for TLS, KAFKA_SSL_CA_FILE for a private CA.
 */
export function kafkaSecurityFromEnv(env: NodeJS.ProcessEnv = process.env): KafkaSecurity {
  const security: KafkaSecurity = {};
  const mechanism = env.KAFKA_SASL_MECHANISM?.trim().toLowerCase();
  if (mechanism) {
    if (!(MECHANISMS as readonly string[]).includes(mechanism))
      throw new ConfigError([
        { path: 'KAFKA_SASL_MECHANISM', expected: `one of ${MECHANISMS.join(', ')}`, found: mechanism },
      ]);
    const username = env.KAFKA_SASL_USERNAME;
    const password = env.KAFKA_SASL_PASSWORD;
    if (!username || !password)
      throw new ConfigError([
        {
          path: username ? 'KAFKA_SASL_PASSWORD' : 'KAFKA_SASL_USERNAME',
          expected: `a value with KAFKA_SASL_MECHANISM=${mechanism}`,
          found: undefined,
        },
      ]);
    security.sasl = { mechanism, username, password } as SASLOptions;
  }
  const ssl = env.KAFKA_SSL?.trim().toLowerCase();
  if (ssl === 'true' || ssl === '1' || env.KAFKA_SSL_CA_FILE) {
    const caFile = env.KAFKA_SSL_CA_FILE;
    if (caFile) {
      let ca: string;
      try {
        ca = readFileSync(caFile, 'utf8');
      } catch (error) {
        throw new ConfigError(
          [{ path: 'KAFKA_SSL_CA_FILE', expected: 'a readable PEM file', found: caFile }],
          undefined,
          error,
        );
      }
      security.ssl = { ca: [ca] };
    } else security.ssl = true;
  } else if (ssl !== undefined && ssl !== '' && ssl !== 'false' && ssl !== '0') {
    throw new ConfigError([{ path: 'KAFKA_SSL', expected: 'true or false', found: env.KAFKA_SSL }]);
  }
  return security;
}
