// Every record Sluice writes to Kafka goes out in a send of its partition alone. kafkajs 2.2.4 loses
// records, without an error, when one send spans partitions led by different brokers and a leader moves
// between two of its attempts: it remembers, per send, which brokers have answered and retries only
// towards the others, so a partition whose leadership moved onto a broker that already answered (for
// other partitions of the same send) is never written, and the send resolves as if it had been. Seen in
// the unreachable-leader fault scenario: a transaction committed with late events whose partition's
// leader had just stopped, and those events were not in the topic. A send of one partition has one
// leader at a time, so its retries always go where the partition is.
//
// So records get their partition here first, over the topic's partition count (a keyed record lands
// where it always did, murmur2 as Java clients and kafkajs do, key-partition.ts; unkeyed ones
// round-robin, by kafkajs' own default partitioner), and each partition's records are sent apart, the
// partitions side by side. Inside a transaction the partitions one broker leads go in one request, its
// answer checked for every partition (transaction-requests.ts): this class splits them and knows the
// leaders.
import type { Kafka } from 'kafkajs';
import { SluiceError } from '../errors.js';
import { defaultPartitioner } from './kafka-client.js';
import { keyPartition } from './key-partition.js';
import type { OutgoingRecord } from './outgoing-record.js';
import { partitionCountOf, partitionLeadersOf } from './topic-admin.js';
import type { LeaderOf } from './transaction-requests.js';

/** How long a topic's partition count is trusted: kafkajs' own metadata age. */
const COUNT_TTL_MS = 5 * 60_000;

/** Picks an unkeyed record's partition (kafkajs' partitioner signature). */
export type Partitioner = ReturnType<typeof defaultPartitioner>;

/** Writes one partition's records (in order), resolving once the broker has them. */
export type SendPartition = (topic: string, partition: number, records: OutgoingRecord[]) => Promise<void>;

/**
 * The records by partition, each in its original order and with its partition set: an explicit one is
 * kept, else a keyed record's is its key's (of `partitions`), and the partitioner picks an unkeyed one's.
 */
export function splitByPartition(
  topic: string,
  records: readonly OutgoingRecord[],
  partitions: number,
  partitioner: Partitioner,
): Map<number, OutgoingRecord[]> {
  // Every partition counts as led (leader 0): an unkeyed record waits for its partition's leader
  // rather than moving elsewhere, which keeps the split independent of the cluster's state.
  const partitionMetadata = Array.from({ length: partitions }, (_, partitionId) => ({
    partitionId,
    leader: 0,
    partitionErrorCode: 0,
    replicas: [0],
    isr: [0],
  }));
  const split = new Map<number, OutgoingRecord[]>();
  for (const record of records) {
    const partition =
      record.partition ??
      (record.key !== null && record.key !== undefined
        ? keyPartition(record.key, partitions)
        : partitioner({ topic, partitionMetadata, message: { key: null, value: record.value } }));
    const list = split.get(partition) ?? [];
    list.push(record.partition === partition ? record : { ...record, partition });
    split.set(partition, list);
  }
  return split;
}

export class TopicMissingError extends SluiceError {
  constructor(topic: string) {
    super(
      `cannot write to Kafka topic ${topic}: it does not exist (Sluice creates its topics at start-up; ` +
        'was it deleted while the pipeline ran?)',
      { code: 'SLUICE_KAFKA_UNAVAILABLE', retriable: true },
    );
  }
}

/** Sends records a partition at a time (see the header); one per producer, for its partitioner's counters. */
export class PartitionedSends {
  private readonly partitioner = defaultPartitioner();
  private readonly counts = new Map<string, { count: Promise<number>; at: number }>();
  /** The partition leaders of the topics asked about, as the metadata last said (see leaderOf). */
  private leaders:
    { of: Promise<Map<string, Map<number, number>>>; topics: ReadonlySet<string>; at: number } | undefined;

  constructor(
    private readonly partitionCount: (topic: string) => Promise<number | undefined>,
    private readonly clock: () => number = Date.now,
    private readonly partitionLeaders: (
      topics: readonly string[],
    ) => Promise<Map<string, Map<number, number>>> = () =>
      Promise.resolve(new Map<string, Map<number, number>>()),
  ) {}

  /** The records by partition (splitByPartition over the topic's partition count). */
  async split(topic: string, records: readonly OutgoingRecord[]): Promise<Map<number, OutgoingRecord[]>> {
    const explicit = records.every((r) => r.partition !== undefined);
    const partitions = explicit ? 0 : await this.countOf(topic);
    return splitByPartition(topic, records, partitions, this.partitioner);
  }

  /**
   * Who leads the partitions of `topics`, as the metadata said within kafkajs' metadata age. Only a
   * grouping: a leader that moved since costs a request that kafkajs splits, whose answer is checked
   * anyway (transaction-requests.ts). Not known (undefined) when the metadata cannot be had.
   */
  async leaderOf(topics: readonly string[]): Promise<LeaderOf> {
    let entry = this.leaders;
    if (!entry || this.clock() - entry.at >= COUNT_TTL_MS || topics.some((t) => !entry!.topics.has(t))) {
      const wanted = new Set([...(entry?.topics ?? []), ...topics]);
      const asked: NonNullable<typeof entry> = {
        of: this.partitionLeaders([...wanted]).catch(() => {
          // Not known, not kept: the next commit asks again.
          if (this.leaders === asked) this.leaders = undefined;
          return new Map<string, Map<number, number>>();
        }),
        topics: wanted,
        at: this.clock(),
      };
      this.leaders = entry = asked;
    }
    const known = await entry.of;
    return (topic, partition) => known.get(topic)?.get(partition);
  }

  /**
   * What the metadata said is not to be trusted any more (a request missed a partition, or a transaction
   * failed): the leaders and the partition counts are asked anew, as a failed send() does for its topic.
   */
  forgetMetadata(): void {
    this.leaders = undefined;
    this.counts.clear();
  }

  /**
   * Resolves once every partition's records are written; rejects with the first failure once every
   * partition's send has settled (none is left running behind the caller's retry or abort).
   */
  async send(topic: string, records: readonly OutgoingRecord[], sendPartition: SendPartition): Promise<void> {
    if (records.length === 0) return;
    const split = await this.split(topic, records);
    const settled = await Promise.allSettled(
      [...split].map(([partition, list]) => sendPartition(topic, partition, list)),
    );
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) {
      // The topic may have changed (partitions added, or deleted and made again): ask anew next time.
      this.counts.delete(topic);
      throw failed.reason;
    }
  }

  private countOf(topic: string): Promise<number> {
    const cached = this.counts.get(topic);
    if (cached && this.clock() - cached.at < COUNT_TTL_MS) return cached.count;
    const count = this.partitionCount(topic).then((n) => {
      if (n === undefined) throw new TopicMissingError(topic);
      return n;
    });
    const entry = { count, at: this.clock() };
    this.counts.set(topic, entry);
    count.catch(() => {
      if (this.counts.get(topic) === entry) this.counts.delete(topic);
    });
    return count;
  }
}

/** PartitionedSends over a cluster's topics. */
export function partitionedSends(kafka: Kafka): PartitionedSends {
  return new PartitionedSends(
    (topic) => partitionCountOf(kafka, topic),
    Date.now,
    (topics) => partitionLeadersOf(kafka, topics),
  );
}
