// Writes records that leave the main flow (dead letters, overflow, late events) to their Kafka topic,
// creating the topic when missing (and the compacted changelog topic, which the committer writes, after
// checking an existing one's cleanup policy and partition count: changelog-topic.ts). A
// write resolves only once the broker has it (acks from all in-sync replicas); while the broker
// refuses, it retries with backoff until the writer is closed, so a record is never marked done
// without its dead letter.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Kafka, Producer } from 'kafkajs';
import type { OutgoingRecord } from './outgoing-record.js';
import { SluiceError, messageOf } from '../errors.js';
import type { Logger } from '../ops/logger.js';
import { whileSettling } from './cluster-settling.js';
import { isTopicAlreadyExists } from './kafka-errors.js';
import { defaultPartitioner, idempotentRetry } from './kafka-client.js';
import { partitionedSends, type PartitionedSends } from './partitioned-sends.js';
import { CHANGELOG_CREATION_CONFIG, changelogProblem, describeChangelog } from './changelog-topic.js';

export interface SideTopic {
  topic: string;
  partitions: number;
  /** Time-retained (dead letters, overflow, late events); without it the topic is compacted (changelog). */
  retentionMs?: number;
  /** Neither: the broker's defaults (output topics, which users own). */
  brokerDefaults?: boolean;
}

/** The writer was closed (shutdown, revoke) before the broker acknowledged the record. */
export class SideTopicClosedError extends SluiceError {
  constructor(topic: string) {
    super(`writer closed before ${topic} acknowledged the record`, {
      code: 'SLUICE_CLOSED',
      retriable: false,
    });
  }
}

interface PendingWrite {
  message: OutgoingRecord;
  resolve: () => void;
  reject: (error: Error) => void;
}

/** Records per request. */
const BATCH = 500;

/** The changelog: neither time-retained nor left to the broker's defaults. */
function isStateTopic(topic: SideTopic): boolean {
  return topic.retentionMs === undefined && !topic.brokerDefaults;
}

function creationConfig(topic: SideTopic): Readonly<Record<string, string>> {
  if (topic.brokerDefaults) return {};
  if (topic.retentionMs === undefined) return CHANGELOG_CREATION_CONFIG;
  return { 'cleanup.policy': 'delete', 'retention.ms': String(topic.retentionMs) };
}

export class SideTopicWriter {
  private readonly producer: Producer;
  /** One send per partition (partitioned-sends.ts). */
  private readonly sends: PartitionedSends;
  private closed = false;
  private readonly queues = new Map<string, PendingWrite[]>();
  private readonly sending = new Set<string>();

  constructor(
    private readonly kafka: Kafka,
    /** The brokers, for the commands an error message tells the operator to run. */
    private readonly brokers: readonly string[],
    private readonly logger: Logger,
  ) {
    this.sends = partitionedSends(kafka);
    this.producer = kafka.producer({
      idempotent: true,
      retry: idempotentRetry,
      createPartitioner: defaultPartitioner,
      maxInFlightRequests: 5,
      allowAutoTopicCreation: false,
    });
  }

  async connect(topics: readonly SideTopic[]): Promise<void> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      // Each attempt asks again what is missing: a retried call may have created some already.
      await whileSettling(async () => {
        const existing = new Set(await admin.listTopics());
        const missing = topics.filter((t) => !existing.has(t.topic));
        if (missing.length === 0) return;
        await admin.createTopics({
          waitForLeaders: true,
          topics: missing.map((t) => ({
            topic: t.topic,
            numPartitions: t.partitions,
            configEntries: Object.entries(creationConfig(t)).map(([name, value]) => ({ name, value })),
          })),
        });
        for (const t of missing.filter(isStateTopic))
          this.logger.info(
            { topic: t.topic, partitions: t.partitions, configs: CHANGELOG_CREATION_CONFIG },
            'created the changelog topic, compacted and configured for short restores',
          );
      });
    } catch (error) {
      // Another worker may have created it in between.
      if (!isTopicAlreadyExists(error)) throw error;
    } finally {
      await admin.disconnect();
    }
    await this.checkStateTopics(topics);
    await this.producer.connect();
  }

  /**
   * A state topic must be compacted and have one partition per source partition, or state is lost or
   * lands in the wrong place: checked before any partition is restored from it.
   */
  private async checkStateTopics(topics: readonly SideTopic[]): Promise<void> {
    const stateTopics = topics.filter(isStateTopic);
    if (stateTopics.length === 0) return;
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      for (const t of stateTopics) {
        const found = await describeChangelog(admin, t.topic);
        const problem = changelogProblem(found, t.partitions, this.brokers);
        if (problem) throw problem;
        if (found.cleanupPolicy.includes('delete'))
          this.logger.warn(
            { topic: t.topic, cleanupPolicy: found.cleanupPolicy },
            'the changelog also deletes by age: windows not updated within its retention.ms lose their state',
          );
      }
    } finally {
      await admin.disconnect();
    }
  }

  /**
   * Resolves once the broker acknowledged the record; retries until acknowledged or closed. Records
   * queue per topic and go out in batches, one request at a time per topic: a burst of thousands of
   * dead letters or late events costs a few requests, not thousands of concurrent ones.
   */
  write(topic: string, message: OutgoingRecord): Promise<void> {
    if (this.closed) return Promise.reject(new SideTopicClosedError(topic));
    return new Promise((resolve, reject) => {
      const queue = this.queues.get(topic) ?? [];
      queue.push({ message, resolve, reject });
      this.queues.set(topic, queue);
      if (!this.sending.has(topic)) void this.drain(topic);
    });
  }

  private async drain(topic: string): Promise<void> {
    this.sending.add(topic);
    const queue = this.queues.get(topic) ?? [];
    while (queue.length > 0 && !this.closed) {
      const batch = queue.splice(0, BATCH);
      for (let attempt = 1; ; attempt += 1) {
        if (this.closed) {
          batch.forEach((w) => w.reject(new SideTopicClosedError(topic)));
          break;
        }
        try {
          await this.sends.send(
            topic,
            batch.map((w) => w.message),
            async (_, __, messages) => {
              await this.producer.send({ topic, acks: -1, messages });
            },
          );
          batch.forEach((w) => w.resolve());
          break;
        } catch (error) {
          const delay = Math.min(10_000, 100 * 2 ** Math.min(attempt, 7));
          this.logger.warn(
            { topic, records: batch.length, attempt, err: messageOf(error) },
            'side-topic write failed; retrying',
          );
          await sleep(delay);
        }
      }
    }
    queue.splice(0).forEach((w) => w.reject(new SideTopicClosedError(topic)));
    this.sending.delete(topic);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.producer.disconnect();
  }
}
