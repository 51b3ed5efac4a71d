// Writes records that leave the main flow (dead letters, overflow) to their Kafka topic, creating the
// topic when missing. A write resolves only once the broker has it (acks from all in-sync replicas);
// while the broker refuses, it retries with backoff until the writer is closed, so a record is never
// marked done without its dead letter.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Kafka, Message, Producer } from 'kafkajs';
import { messageOf } from '../errors.js';
import type { Logger } from '../ops/logger.js';

export interface SideTopic {
  topic: string;
  partitions: number;
  retentionMs: number;
}

export class SideTopicWriter {
  private readonly producer: Producer;
  private closed = false;

  constructor(
    private readonly kafka: Kafka,
    private readonly logger: Logger,
  ) {
    this.producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 5,
      allowAutoTopicCreation: false,
    });
  }

  async connect(topics: readonly SideTopic[]): Promise<void> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const existing = new Set(await admin.listTopics());
      const missing = topics.filter((t) => !existing.has(t.topic));
      if (missing.length > 0) {
        await admin.createTopics({
          waitForLeaders: true,
          topics: missing.map((t) => ({
            topic: t.topic,
            numPartitions: t.partitions,
            configEntries: [
              { name: 'cleanup.policy', value: 'delete' },
              { name: 'retention.ms', value: String(t.retentionMs) },
            ],
          })),
        });
      }
    } catch (error) {
      // Another worker may have created it in between.
      if (!messageOf(error).includes('already exists')) throw error;
    } finally {
      await admin.disconnect();
    }
    await this.producer.connect();
  }

  /** Resolves once the broker acknowledged the record; retries until acknowledged or closed. */
  async write(topic: string, message: Message): Promise<void> {
    for (let attempt = 1; ; attempt += 1) {
      if (this.closed) throw new Error(`writer closed before ${topic} acknowledged the record`);
      try {
        await this.producer.send({ topic, acks: -1, messages: [message] });
        return;
      } catch (error) {
        const delay = Math.min(10_000, 100 * 2 ** Math.min(attempt, 7));
        this.logger.warn({ topic, attempt, err: messageOf(error) }, 'side-topic write failed; retrying');
        await sleep(delay);
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.producer.disconnect();
  }
}
