// The pipelines the bench measures. The simple one: JSON, one tumbling count per (type, url),
// at-least-once, re-keyed by (type, url) through the repartition topic (and once more without, to
// measure what re-keying costs). The full one: Avro, enrichment by a ClickHouse lookup behind its LRU
// cache, three windows of the three types (two re-keyed, the sessions per user where the topic's keying
// puts them), exactly-once. Both sink into ClickHouse (database sluice_bench).
import { ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client';
import type { Kafka } from 'kafkajs';
import { validatePipeline } from '../../config/validate.js';
import type { Pipeline } from '../../config/schema.js';
import { SAMPLE_REGIONS } from '../produce/sample-events.js';
import { topicsToCreate } from '../../config/pipeline-topics.js';
import type { Endpoints } from '../../config/endpoints.js';

export const BENCH_DATABASE = 'sluice_bench';
/** The full pipeline's lookup table (country → region), which the Kafka Streams peer loads too. */
export const REGIONS_TABLE = `${BENCH_DATABASE}.regions`;

/** A client of the bench's ClickHouse server. */
export function benchClickHouse(server: NonNullable<Endpoints['clickhouse']>): ClickHouseClient {
  return createClient({
    // Polls of a table that does not exist yet are expected: the client must not log them as errors.
    log: { level: ClickHouseLogLevel.OFF },
    url: server.url,
    username: server.username,
    password: server.password,
  });
}

/** Creates the full pipeline's lookup table (idempotent). */
export async function createLookupTable(clickhouse: ClickHouseClient): Promise<void> {
  await clickhouse.command({ query: `CREATE DATABASE IF NOT EXISTS ${BENCH_DATABASE}` });
  await clickhouse.command({
    query: `CREATE TABLE IF NOT EXISTS ${REGIONS_TABLE} (country String, region String) ENGINE = MergeTree ORDER BY country`,
  });
  await clickhouse.command({ query: `TRUNCATE TABLE ${REGIONS_TABLE}` });
  await clickhouse.insert({
    table: REGIONS_TABLE,
    values: Object.entries(SAMPLE_REGIONS).map(([country, region]) => ({ country, region })),
    format: 'JSONEachRow',
  });
}

const nameFor = (prefix: string, topic: string) => `${prefix}_${topic.replace(/[^A-Za-z0-9_]/g, '_')}`;

const benchTime = { field: 'timestamp', maxOutOfOrderness: '5s', grace: '0s', idleTimeout: '2s' };

/**
 * `perPartition` declares the topic keyed by `type` (it is keyed by user), so the window skips
 * re-keying and is computed per source partition, as Sluice 0.1 computed every window: its rows are per
 * partition, not per key. Measured beside the re-keyed run, it is what re-keying costs.
 */
export function simplePipeline(topic: string, perPartition = false, round = 1): Pipeline {
  return validatePipeline({
    name: `${nameFor(perPartition ? 'bench_simple_pp' : 'bench_simple', topic)}${round > 1 ? `_r${round}` : ''}`,
    source: { topic, fromBeginning: true, ...(perPartition ? { keyedBy: ['type'] } : {}) },
    parse: { events: 'user-event' },
    processing: { guarantee: 'at-least-once', commitInterval: '1s' },
    time: benchTime,
    // Its own table without re-keying: rows per partition and rows per key do not share a table.
    windows: [
      {
        name: perPartition ? 'counts_1m_per_partition' : 'counts_1m',
        type: 'tumbling',
        size: '1m',
        groupBy: ['type', 'url'],
      },
    ],
    sinks: { clickhouse: { database: BENCH_DATABASE } },
    http: { enabled: false },
  });
}

export interface FullPipelineOptions {
  /** Emit mode of the tumbling count: final rows (throughput) or updates every `every` (latency). */
  updateEvery?: string;
  /** Window size of the tumbling count. */
  countWindow?: string;
  commitInterval?: string;
  name?: string;
  database?: string;
  /** The ClickHouse sink's longest wait before a batch is written, ms. */
  batchWaitMs?: number;
}

export function fullPipeline(topic: string, options: FullPipelineOptions = {}): Pipeline {
  const sum = [{ fn: 'sum', field: 'value' }];
  return validatePipeline({
    name: options.name ?? nameFor('bench_full', topic),
    // The bench feed keys each event by its user: sessions are computed in place, the others re-keyed.
    source: { topic, fromBeginning: true, keyedBy: ['userId'] },
    // The user-event contract, checked on top of the Avro reader schema, as the demo declares it.
    parse: { format: 'avro', events: 'user-event' },
    processing: { guarantee: 'exactly-once', commitInterval: options.commitInterval ?? '1s' },
    time: benchTime,
    stages: [
      {
        name: 'regions',
        type: 'lookup',
        key: 'country',
        from: { clickhouse: { table: REGIONS_TABLE, column: 'country' } },
        cache: { maxEntries: 1_000, ttl: '10m' },
      },
    ],
    windows: [
      {
        name: 'counts',
        type: 'tumbling',
        size: options.countWindow ?? '1m',
        groupBy: ['type', 'url'],
        ...(options.updateEvery ? { emit: { mode: 'update', every: options.updateEvery } } : {}),
      },
      {
        name: 'regions_5m',
        type: 'sliding',
        size: '5m',
        advance: '1m',
        groupBy: ['region'],
        aggregations: sum,
      },
      { name: 'sessions', type: 'session', gap: '30s', groupBy: ['userId'], aggregations: sum },
    ],
    sinks: {
      clickhouse: {
        database: options.database ?? BENCH_DATABASE,
        ...(options.batchWaitMs ? { batch: { maxWaitMs: options.batchWaitMs } } : {}),
      },
    },
    http: { enabled: false },
  });
}

/**
 * Deletes the topics a bench pipeline made (changelog, dead letters, late events), and `more`: a bench
 * run leaves nothing behind on the broker, a 2M-event run's changelog least of all.
 */
export async function deletePipelineTopics(
  kafka: Kafka,
  pipeline: Pipeline,
  more: string[] = [],
): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const topics = [...topicsToCreate(pipeline).map((t) => t.topic), ...more].filter((t) => existing.has(t));
    if (topics.length > 0) await admin.deleteTopics({ topics });
  } finally {
    await admin.disconnect();
  }
}
