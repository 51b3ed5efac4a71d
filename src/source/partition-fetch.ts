// Reads partitions of a topic over given offset ranges with plain Fetch requests to their leaders, no
// consumer group: what the changelog restore needs. A consumer of kafkajs always joins a group first
// (FindCoordinator, JoinGroup, SyncGroup, OffsetFetch), and a new group waits the broker's
// group.initial.rebalance.delay.ms (3 s by default) before its first fetch: seconds at every assignment,
// spent on offsets nobody commits. kafkajs has no public way around the group, so this takes its
// cluster (leaders, connections, retries) from the client's private factory, the way kafkajs' own
// consumer, producer and admin make theirs, and asks the leaders for records directly.
//
// kafkajs encodes the requests and keeps the connections; the responses are decoded here, straight from
// their bytes (fetch-response.ts), read_committed: the records of aborted transactions are handed on
// apart from the data (what an aborted transaction wrote can tell a restore where an offset came from),
// the markers not at all.
import { createRequire } from 'node:module';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Kafka } from 'kafkajs';
import { SluiceError } from '../errors.js';
import { decodeFetchResponse, type RecordList } from './fetch-response.js';

const require = createRequire(import.meta.url);
/** kafkajs' Fetch request builders (one per version) and its errors by protocol code. */
const FETCH_REQUESTS: unknown = require('kafkajs/src/protocol/requests/fetch/index.js');
const { createErrorFromCode } = require('kafkajs/src/protocol/error.js') as {
  createErrorFromCode: (code: number) => Error;
};
const FETCH_API_KEY = 1;
/** The connection hands the response's bytes (after the correlation id) on as they are. */
const RAW_RESPONSE: ProtocolRequest['response'] = {
  decode: (payload) => Promise.resolve(payload),
  parse: (payload) => Promise.resolve(payload),
};

/** What one fetch gave of a partition: its data records, and those of aborted transactions apart. */
export interface FetchedRange {
  /** Committed data records, in offset order; keys and values lie in the response. */
  records: RecordList;
  /** Records of transactions that were aborted. */
  aborted: RecordList;
}

/** A request as kafkajs' protocol modules make it, and the response's decoder its connection calls. */
interface ProtocolRequest {
  request: { apiKey: number; apiVersion: number };
  response: { decode(payload: Buffer): Promise<unknown>; parse(decoded: unknown): Promise<unknown> };
  requestTimeout: number;
}

interface ClusterBroker {
  lookupRequest(apiKey: number, definition: unknown): (args: FetchArgs) => ProtocolRequest;
  connectionPool: { send(request: ProtocolRequest): Promise<unknown> };
}

interface FetchArgs {
  replicaId: number;
  isolationLevel: number;
  maxWaitTime: number;
  minBytes: number;
  maxBytes: number;
  topics: { topic: string; partitions: { partition: number; fetchOffset: string; maxBytes: number }[] }[];
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

function asError(thrown: unknown): Error {
  return thrown instanceof Error
    ? thrown
    : new SluiceError(String(thrown), { code: 'SLUICE_KAFKA_UNAVAILABLE', retriable: false });
}

function isRetriable(error: unknown): boolean {
  return (error as { retriable?: unknown } | null)?.retriable === true;
}

/**
 * Reads each partition's range, in offset order per partition, handing every fetch's data records
 * (those of aborted transactions apart, markers left out) to `onRecords`; resolves once every partition
 * reached its range's end. Partitions with the same leader share a request. The next fetch is asked
 * for before `onRecords` takes the last one's records, so the leaders read and send while this
 * process rebuilds. (Only so far: the socket holds part of a response until this process reads on.
 * Yielding to the event loop within `onRecords` did not make it faster, nor did smaller fetches.)
 */
export async function readPartitionRanges(
  kafka: Kafka,
  topic: string,
  ranges: ReadonlyMap<number, OffsetRange>,
  onRecords: (partition: number, fetched: FetchedRange) => void,
): Promise<void> {
  const next = new Map<number, bigint>();
  for (const [partition, range] of ranges) if (range.from < range.to) next.set(partition, range.from);
  if (next.size === 0) return;
  const cluster = clusterFactory(kafka)({ allowAutoTopicCreation: false, isolationLevel: READ_COMMITTED });
  await cluster.connect();
  try {
    await cluster.addTargetTopic(topic);
    let failures = 0;
    let round: Promise<Round> | undefined = fetchRound(cluster, topic, ranges, next);
    while (round) {
      const { delivered, failure }: Round = await round;
      // Only one round is ever in flight, and this one has settled: the next may go out.
      round = failure === undefined && next.size > 0 ? fetchRound(cluster, topic, ranges, next) : undefined;
      for (const [partition, fetched] of delivered) onRecords(partition, fetched);
      if (failure === undefined) {
        failures = 0;
        continue;
      }
      failures += 1;
      if (!isRetriable(failure) || failures >= ATTEMPTS) throw failure;
      await sleep(Math.min(2_000, 100 * 2 ** failures));
      await cluster.refreshMetadata();
      round = fetchRound(cluster, topic, ranges, next);
    }
  } finally {
    await cluster.disconnect().catch(() => undefined);
  }
}

/** What one round of fetches gave: the records of the leaders that answered, and a failure if any did not. */
interface Round {
  delivered: [number, FetchedRange][];
  failure?: Error;
}

/**
 * A fetch from every leader of the partitions still to read, each partition's next offset moved past
 * what it gave. Every leader's fetch settles before the round does: a fetch still in flight when a
 * failure is retried would hand on records the retry hands on again, maybe after newer ones.
 */
async function fetchRound(
  cluster: Cluster,
  topic: string,
  ranges: ReadonlyMap<number, OffsetRange>,
  next: Map<number, bigint>,
): Promise<Round> {
  const delivered: [number, FetchedRange][] = [];
  let leaders: Record<string, number[]>;
  try {
    leaders = cluster.findLeaderForPartitions(topic, [...next.keys()]);
  } catch (failure) {
    return { delivered, failure: asError(failure) };
  }
  const settled = await Promise.allSettled(
    Object.entries(leaders).map(([nodeId, partitions]) =>
      fetchOnce(cluster, nodeId, topic, partitions, ranges, next, delivered),
    ),
  );
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  return failed ? { delivered, failure: asError(failed.reason) } : { delivered };
}

async function fetchOnce(
  cluster: Cluster,
  nodeId: string,
  topic: string,
  partitions: number[],
  ranges: ReadonlyMap<number, OffsetRange>,
  next: Map<number, bigint>,
  delivered: [number, FetchedRange][],
): Promise<void> {
  const broker = await cluster.findBroker({ nodeId });
  const build = broker.lookupRequest(FETCH_API_KEY, FETCH_REQUESTS);
  const request = build({
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
  const payload = (await broker.connectionPool.send({ ...request, response: RAW_RESPONSE })) as Buffer;
  const response = await decodeFetchResponse(payload, request.request.apiVersion);
  if (response.errorCode !== 0) throw createErrorFromCode(response.errorCode);
  for (const { topic: name, partitions: fetched } of response.topics) {
    if (name !== topic) continue;
    for (const { partition, errorCode, records, aborted, lastOffset, lastStableOffset } of fetched) {
      if (errorCode !== 0) throw createErrorFromCode(errorCode);
      const from = next.get(partition);
      const range = ranges.get(partition);
      if (from === undefined || range === undefined) continue;
      // A fetch starts at the batch holding the offset asked for, so records below it come again and
      // are skipped; so is anything at or past the range's end. Offsets fit a double exactly (< 2^53).
      const start = Number(from);
      const end = Number(range.to);
      const data = records.within(start, end);
      const abortedWithin = aborted.within(start, end);
      if (data.length > 0 || abortedWithin.length > 0)
        delivered.push([partition, { records: data, aborted: abortedWithin }]);
      // The next fetch starts after the last whole batch, markers included. Nothing at or past the
      // offset asked for while every transaction below the end is decided: the records up to the end
      // were compacted away (the end a marker or record the cleaner removed).
      const last = Math.min(lastOffset, end - 1);
      if (last + 1 >= end || (last < start && lastStableOffset >= end)) next.delete(partition);
      else if (last >= start) next.set(partition, BigInt(last + 1));
    }
  }
}
