// The kafkajs client, with its logs routed through pino (retried errors at debug: kafka-log-level.ts)
// and a connection check that says which brokers it tried and how to get one running, instead of
// kafkajs' retry noise.
import { Kafka, Partitioners, logLevel, type LogEntry, type RetryOptions } from 'kafkajs';
import { SluiceError, messageOf } from '../errors.js';
import type { Logger } from '../ops/logger.js';
import { isAuthentication, isTls } from './kafka-errors.js';
import { kafkaSecurityFromEnv, type KafkaSecurity } from './kafka-security.js';
import { sluiceLevelOf } from './kafka-log-level.js';

export class KafkaUnavailableError extends SluiceError {
  constructor(brokers: readonly string[], cause: unknown) {
    super(
      `could not reach Kafka at ${brokers.join(', ')}: ${messageOf(cause)}. ` +
        'Start the local stack with `sluice stack up`, or point KAFKA_BROKERS (or source.brokers) at a running broker.',
      { code: 'SLUICE_KAFKA_UNAVAILABLE', retriable: true, cause },
    );
  }
}

/** The broker answered but refused the SASL credentials: retrying the same ones cannot help. */
export class KafkaAuthenticationError extends SluiceError {
  constructor(brokers: readonly string[], mechanism: string, username: string, cause: unknown) {
    super(
      `Kafka at ${brokers.join(', ')} refused SASL ${mechanism} authentication as "${username}": ${messageOf(cause)}. ` +
        'Check KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD and KAFKA_SASL_MECHANISM (the mechanism must be one the listener enables).',
      { code: 'SLUICE_KAFKA_AUTHENTICATION', retriable: false, cause },
    );
  }
}

/** TLS failed because the broker's certificate is not trusted (a private CA, or a self-signed one). */
export class KafkaTlsError extends SluiceError {
  constructor(brokers: readonly string[], cause: unknown) {
    super(
      `could not verify the TLS certificate of Kafka at ${brokers.join(', ')}: ${messageOf(cause)}. ` +
        'Set KAFKA_SSL_CA_FILE to the PEM file of the CA that signed the broker certificate.',
      { code: 'SLUICE_KAFKA_TLS', retriable: false, cause },
    );
  }
}

function kafkajsLogger(logger: Logger) {
  return () =>
    ({ level, namespace, log }: LogEntry) => {
      const { message, ...rest } = log;
      // kafkajs' own timestamp and logger name add nothing to pino's.
      const fields: Record<string, unknown> = rest;
      delete fields.timestamp;
      delete fields.logger;
      logger[sluiceLevelOf({ level, namespace, message, fields })]({ namespace, ...fields }, message);
    };
}

/**
 * Retries of every idempotent producer (plain or transactional): unbounded, kafkajs' own default for
 * them, which the client-wide `retry` below would otherwise cap. A send that gives up after the broker
 * wrote it rewinds kafkajs' sequence numbers, and the next send with those numbers is taken by the
 * broker for a duplicate and dropped: why kafkajs warns that limiting retries "may invalidate EoS
 * guarantees". Timing (initialRetryTime, maxRetryTime) stays the client's.
 */
export const idempotentRetry: RetryOptions = { retries: Number.MAX_SAFE_INTEGER };

/**
 * kafkajs' default partitioner, named: unnamed, kafkajs warns that its default changed in 2.0 (the
 * changelog names its partitions; keyed output records use this one).
 */
export const defaultPartitioner = Partitioners.DefaultPartitioner;

/** A client of the cluster: what the consumer, producers and admin calls of source/ are made from. */
export type KafkaConnection = Kafka;

export function createKafka(brokers: readonly string[], clientId: string, logger: Logger): KafkaConnection {
  return new Kafka({
    clientId,
    brokers: [...brokers],
    ...kafkaSecurityFromEnv(),
    logLevel: logLevel.WARN,
    logCreator: kafkajsLogger(logger.child({ component: 'kafkajs' })),
    retry: { retries: 8, initialRetryTime: 200, maxRetryTime: 5_000 },
  });
}

function saslUser(security: KafkaSecurity): string {
  const sasl = security.sasl as { username?: string } | undefined;
  return sasl?.username ?? '';
}

/** Connects an admin client once, failing fast with a KafkaUnavailableError when no broker answers. */
export async function checkKafka(brokers: readonly string[]): Promise<void> {
  const probe = new Kafka({
    clientId: 'sluice-probe',
    brokers: [...brokers],
    ...kafkaSecurityFromEnv(),
    logLevel: logLevel.NOTHING,
    connectionTimeout: 3_000,
    retry: { retries: 2, initialRetryTime: 300 },
  });
  const admin = probe.admin();
  try {
    await admin.connect();
    await admin.describeCluster();
  } catch (error) {
    const security = kafkaSecurityFromEnv();
    if (isAuthentication(error) && security.sasl)
      throw new KafkaAuthenticationError(brokers, security.sasl.mechanism, saslUser(security), error);
    if (security.ssl && isTls(error)) throw new KafkaTlsError(brokers, error);
    throw new KafkaUnavailableError(brokers, error);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}
