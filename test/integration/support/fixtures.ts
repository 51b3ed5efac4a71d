// What every integration test needs: its own topics and database (random suffixes), clients for the
// run's Kafka and ClickHouse, and waiting on a condition with a deadline that reports what it saw.
import { ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Kafka, logLevel, type KafkaMessage } from 'kafkajs';
import { inject } from 'vitest';
import { messageOf } from '../../../src/errors.js';

export function uniqueName(prefix: string): string {
  return `${prefix}_${randomBytes(4).toString('hex')}`;
}

/** A client of the run's broker, or of `brokers` (a broker a test started for itself). */
export function testKafka(brokers = inject('kafkaBrokers')): Kafka {
  return new Kafka({
    clientId: 'sluice-test',
    brokers: [brokers],
    logLevel: logLevel.NOTHING,
  });
}

export function testClickHouse(): ClickHouseClient {
  // Its own logging is off: waits poll tables that do not exist yet, and failures surface as assertions.
  return createClient({ url: inject('clickhouseUrl'), log: { level: ClickHouseLogLevel.OFF } });
}

export async function createTopic(kafka: Kafka, topic: string, numPartitions: number): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    try {
      await admin.createTopics({ topics: [{ topic, numPartitions }], waitForLeaders: true });
    } catch (error) {
      // kafkajs' waitForLeaders gives up when a metadata answer says "does not host this topic-partition"
      // while the new topic reaches the broker's metadata cache: the topic is made; wait for its leaders.
      if (!/does not host this topic-partition/.test(String(error))) throw error;
    }
    await waitFor(
      `leaders of every partition of ${topic}`,
      () => admin.fetchTopicMetadata({ topics: [topic] }).catch(() => undefined),
      (metadata) =>
        metadata?.topics[0]?.partitions.length === numPartitions &&
        metadata.topics[0].partitions.every((p) => p.leader >= 0),
      30_000,
    );
  } finally {
    await admin.disconnect();
  }
}

/** Polls `probe` until `done(value)`; on timeout says what it waited for and the last value seen. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      last = await probe();
      if (done(last)) return last;
    } catch (error) {
      lastError = error;
    }
    await sleep(250);
  }
  const seen = last === undefined ? `no value (last error: ${String(lastError)})` : JSON.stringify(last);
  throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}; last seen: ${seen}`);
}

export async function queryRows<T>(client: ClickHouseClient, query: string): Promise<T[]> {
  const result = await client.query({ query, format: 'JSONEachRow' });
  return result.json<T>();
}

export type ReadMessage = KafkaMessage & { partition: number };

/**
 * Every record of a topic from the beginning, once at least `count` have arrived; then waits
 * `settleMs` more so that a test also sees records beyond the count it expected.
 */
export async function readTopic(
  kafka: Kafka,
  topic: string,
  count: number,
  settleMs = 1_000,
  /** On timeout, resolve with what arrived (the caller compares) instead of rejecting. */
  partial = false,
): Promise<ReadMessage[]> {
  const consumer = kafka.consumer({ groupId: uniqueName('reader') });
  const seen: ReadMessage[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: ({ partition, message }) => {
      seen.push({ ...message, partition });
      return Promise.resolve();
    },
  });
  try {
    await waitFor(
      `${count} records in ${topic}`,
      () => Promise.resolve(seen.length),
      (n) => n >= count,
      30_000,
    ).catch((error: unknown) => {
      if (!partial) throw error;
      console.warn(messageOf(error));
    });
    await sleep(settleMs);
  } finally {
    await consumer.disconnect();
  }
  return seen;
}
