// The kafkajs client, with its logs routed through pino and a connection check that says which
// brokers it tried and how to get one running, instead of kafkajs' retry noise.
import { Kafka, logLevel, type LogEntry } from 'kafkajs';
import { SluiceError, messageOf } from '../errors.js';
import type { Logger } from '../ops/logger.js';
import { kafkaSecurityFromEnv } from './kafka-security.js';

export class KafkaUnavailableError extends SluiceError {
  constructor(brokers: readonly string[], cause: unknown) {
    super(
      `could not reach Kafka at ${brokers.join(', ')}: ${messageOf(cause)}. ` +
        'Start the local stack with `sluice stack up`, or point KAFKA_BROKERS (or source.brokers) at a running broker.',
      { code: 'SLUICE_KAFKA_UNAVAILABLE', retriable: true, cause },
    );
  }
}

function kafkajsLogger(logger: Logger) {
  return () =>
    ({ level, log }: LogEntry) => {
      const { message, ...fields } = log;
      if (level <= logLevel.ERROR) logger.error(fields, message);
      else if (level === logLevel.WARN) logger.warn(fields, message);
      else logger.debug(fields, message);
    };
}

export function createKafka(brokers: readonly string[], clientId: string, logger: Logger): Kafka {
  return new Kafka({
    clientId,
    brokers: [...brokers],
    ...kafkaSecurityFromEnv(),
    logLevel: logLevel.WARN,
    logCreator: kafkajsLogger(logger.child({ component: 'kafkajs' })),
    retry: { retries: 8, initialRetryTime: 200, maxRetryTime: 5_000 },
  });
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
    throw new KafkaUnavailableError(brokers, error);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}
