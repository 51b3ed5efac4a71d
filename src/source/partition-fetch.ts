// Reads partitions of a topic over given offset ranges with plain Fetch requests to their leaders, no
// consumer group: what the changelog restore needs. A consumer of kafkajs always joins a group first
// (FindCoordinator, JoinGroup, SyncGroup, OffsetFetch), and a new group waits the broker's
// group.initial.rebalance.delay.ms (3 s by default) before its first fetch: seconds at every assignment,
// spent on offsets nobody commits. kafkajs has no public way around the group, so this takes its
// cluster (leaders, connections, retries) from the client's private factory, the way kafkajs' own
// consumer, producer and admin make theirs, and asks the leaders for records directly.
//
// Records come decoded by kafkajs, read_committed: the fetch decoders wrapped by kafkajs-fix.ts flag the
// records of aborted transactions as control records, and those are skipped here with the markers.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Kafka } from 'kafkajs';
import { SluiceError } from '../errors.js';

/** The parts of a record as kafkajs' fetch decoders give it. */
export interface FetchedRecord {
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  isControlRecord?: boolean;
}

interface FetchedPartition {
  partition: number;
  /** Below it every transaction is decided (read_committed reads stop there); fetch v4 and later. */
  lastStableOffset?: string;
  highWatermark: string;
  messages: FetchedRecord[];
}

interface FetchResponse {
  responses: { topicName: string; partitions: FetchedPartition[] }[];
}

interface ClusterBroker {
  fetch(request: {
    replicaId: number;
    isolationLevel: number;
    maxWaitTime: number;
    minBytes: number;
    maxBytes: number;
    topics: { topic: string; partitions: { partition: number; fetchOffset: string; maxBytes: number }[] }[];
  }): Promise<FetchResponse>;
}

interface Cluster {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  addTargetTopic(topic: string): Promise<void>;
  refreshMetadata(): Promise<void>;
  findLeaderForPartitions(topic: string, partitions: number[]): Record<string, number[]>;
  findBroker(node: { nodeId: string }): Promise<ClusterBroker>;
}

type ClusterFactory = (options: {
  allowAutoTopicCreation: boolean;
  isolationLevel: number;
  metadataMaxAge?: number;
}) => Cluster;

/** kafkajs' isolation levels (its src/protocol/isolationLevel.js). */
const READ_COMMITTED = 1;
/** A fetch request's replica id when a client, not a follower, sends it. */
const CLIENT_REPLICA_ID = -1;
/** Large fetches, few round trips: a restore reads whole partitions. */
const PARTITION_MAX_BYTES = 16 * 1024 * 1024;
const FETCH_MAX_BYTES = 64 * 1024 * 1024;
/** How long a leader may hold a fetch that finds nothing new (an open transaction holds the end back). */
const MAX_WAIT_MS = 100;
/** Retriable failures (a leader moved, a connection dropped) in a row before the read gives up. */
const ATTEMPTS = 6;

/** The offsets to read of one partition: from `from` up to, not including, `to`. */
export interface OffsetRange {
  from: bigint;
  to: bigint;
}

function clusterFactory(kafka: Kafka): ClusterFactory {
  const symbol = Object.getOwnPropertySymbols(kafka).find(
    (s) => s.description === 'private:Kafka:createCluster',
  );
  const factory = symbol === undefined ? undefined : (kafka as unknown as Record<symbol, unknown>)[symbol];
  if (typeof factory !== 'function')
    throw new SluiceError(
      'this kafkajs has no cluster factory where kafkajs 2.2 keeps it: install the kafkajs version ' +
        'package.json names (npm ci)',
      { code: 'SLUICE_INTERNAL', retriable: false },
    );
  return factory as ClusterFactory;
}

function isRetriable(error: unknown): boolean {
  return (error as { retriable?: unknown } | null)?.retriable === true;
}

/**
 * Reads each partition's range, in offset order per partition, handing every batch of data records
 * (control records and those of aborted transactions left out) to `onRecords`; resolves once every
 * partition reached its range's end. Partitions with the same leader share a request.
 */
export async function readPartitionRanges(
  kafka: Kafka,
  topic: string,
  ranges: ReadonlyMap<number, OffsetRange>,
  onRecords: (partition: number, records: readonly FetchedRecord[]) => void,
): Promise<void> {
  const next = new Map<number, bigint>();
  for (const [partition, range] of ranges) if (range.from < range.to) next.set(partition, range.from);
  if (next.size === 0) return;
  const cluster = clusterFactory(kafka)({ allowAutoTopicCreation: false, isolationLevel: READ_COMMITTED });
  await cluster.connect();
  try {
    await cluster.addTargetTopic(topic);
    let failures = 0;
    while (next.size > 0) {
      try {
        const leaders = cluster.findLeaderForPartitions(topic, [...next.keys()]);
        await Promise.all(
          Object.entries(leaders).map(([nodeId, partitions]) =>
            fetchOnce(cluster, nodeId, topic, partitions, ranges, next, onRecords),
          ),
        );
        failures = 0;
      } catch (error) {
        failures += 1;
        if (!isRetriable(error) || failures >= ATTEMPTS) throw error;
        await sleep(Math.min(2_000, 100 * 2 ** failures));
        await cluster.refreshMetadata();
      }
    }
  } finally {
    await cluster.disconnect().catch(() => undefined);
  }
}

async function fetchOnce(
  cluster: Cluster,
  nodeId: string,
  topic: string,
  partitions: number[],
  ranges: ReadonlyMap<number, OffsetRange>,
  next: Map<number, bigint>,
  onRecords: (partition: number, records: readonly FetchedRecord[]) => void,
): Promise<void> {
  const broker = await cluster.findBroker({ nodeId });
  const response = await broker.fetch({
    replicaId: CLIENT_REPLICA_ID,
    isolationLevel: READ_COMMITTED,
    maxWaitTime: MAX_WAIT_MS,
    minBytes: 1,
    maxBytes: FETCH_MAX_BYTES,
    topics: [
      {
        topic,
        partitions: partitions.map((partition) => ({
          partition,
          fetchOffset: next.get(partition)!.toString(),
          maxBytes: PARTITION_MAX_BYTES,
        })),
      },
    ],
  });
  for (const { topicName, partitions: fetched } of response.responses) {
    if (topicName !== topic) continue;
    for (const { partition, messages, lastStableOffset, highWatermark } of fetched) {
      const from = next.get(partition);
      const range = ranges.get(partition);
      if (from === undefined || range === undefined) continue;
      // Offsets fit a double exactly (below 2^53): no BigInt per record. A fetch starts at the batch
      // holding the offset asked for, so records below it come again and are skipped; so is anything
      // at or past the range's end.
      const start = Number(from);
      const end = Number(range.to);
      const data: FetchedRecord[] = [];
      let last = start - 1;
      for (const record of messages) {
        const offset = Number(record.offset);
        if (offset < start) continue;
        if (offset >= end) break;
        last = offset;
        if (record.isControlRecord !== true) data.push(record);
      }
      if (data.length > 0) onRecords(partition, data);
      // Nothing at or past the offset asked for while every transaction below the end is decided: the
      // records up to the end were compacted away (the end a marker or record the cleaner removed).
      const decided = Number(lastStableOffset ?? highWatermark) >= end;
      if (last + 1 >= end || (last < start && decided)) next.delete(partition);
      else if (last >= start) next.set(partition, BigInt(last + 1));
    }
  }
}
