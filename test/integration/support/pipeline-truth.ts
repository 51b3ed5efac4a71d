// Events produced with known partitions and offsets, the per-window counts they must produce (the
// ground truth, computed here independently of Sluice), what actually landed in ClickHouse, and the
// group's committed offsets: what the runtime tests compare.
import type { ClickHouseClient } from '@clickhouse/client';
import type { Kafka, Producer } from 'kafkajs';
import { inject } from 'vitest';
import { sampleEvents, type SampleEvent } from '../../../src/tools/produce/sample-events.js';
import { tumblingWindowOf } from '../../../src/windows/tumbling.js';
import { queryRows, waitFor } from './fixtures.js';

export const MINUTE = 60_000;

export interface Produced {
  partition: number;
  offset: bigint;
  event?: SampleEvent;
}

export type Counts = Record<string, number>;

export interface ProduceOptions {
  partitions: number;
  perPartition: number;
  /** Event time of the first event, and the span the events cover. */
  base: number;
  span: number;
  seed: number;
  /** How far event times stray from their place in the stream (default 2 s). */
  jitterMs?: number;
  /** Raw values inserted among each partition's events at fixed places (records that cannot parse). */
  invalid?: readonly string[];
}

/** Produces each partition's events explicitly, so every record's partition and offset are known. */
export async function produceEvents(
  producer: Producer,
  topic: string,
  options: ProduceOptions,
): Promise<Produced[]> {
  const produced: Produced[] = [];
  for (let partition = 0; partition < options.partitions; partition += 1) {
    const events = sampleEvents(
      options.perPartition,
      options.base,
      options.span,
      options.seed + partition,
      options.jitterMs,
    );
    const values: { value: string; event?: SampleEvent }[] = events.map((event) => ({
      value: JSON.stringify(event),
      event,
    }));
    (options.invalid ?? []).forEach((value, i) =>
      values.splice(Math.min(values.length, 50 + i * 97), 0, { value }),
    );
    const [meta] = await producer.send({
      topic,
      acks: -1,
      messages: values.map((v) => ({ partition, value: v.value })),
    });
    const base = BigInt(meta!.baseOffset!);
    values.forEach((v, i) => produced.push({ partition, offset: base + BigInt(i), event: v.event }));
  }
  return produced;
}

export async function withProducer<T>(kafka: Kafka, use: (producer: Producer) => Promise<T>): Promise<T> {
  const producer = kafka.producer();
  await producer.connect();
  try {
    return await use(producer);
  } finally {
    await producer.disconnect();
  }
}

export function countKey(start: number, type: string, url: string): string {
  return `${new Date(start).toISOString().slice(0, 19).replace('T', ' ')}|${type}|${url}`;
}

/** Counts per (1-minute window, type, url) of the produced events that `include` selects. */
export function groundTruth(
  produced: readonly Produced[],
  include: (p: Produced) => boolean = () => true,
  size = MINUTE,
): Counts {
  const counts: Counts = {};
  for (const record of produced) {
    if (!record.event || !include(record)) continue;
    const key = countKey(
      tumblingWindowOf(record.event.timestamp, size).start,
      record.event.type,
      record.event.url,
    );
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

/** What landed, per (window, type, url), from the window's view (summed, should a window be computed per partition). */
export async function countsIn(client: ClickHouseClient, database: string, table = 'views'): Promise<Counts> {
  const rows = await queryRows<{ start: string; type: string; url: string; n: string }>(
    client,
    `SELECT toString(window_start) AS start, type, url, sum(count) AS n
     FROM ${database}.${table} GROUP BY window_start, type, url`,
  );
  return Object.fromEntries(rows.map((r) => [`${r.start}|${r.type}|${r.url}`, Number(r.n)]));
}

export const total = (counts: Counts): number => Object.values(counts).reduce((a, b) => a + b, 0);

export async function committedOffsets(
  kafka: Kafka,
  groupId: string,
  topic: string,
): Promise<Record<number, string>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
    return Object.fromEntries(offsets!.partitions.map((p) => [p.partition, p.offset]));
  } finally {
    await admin.disconnect();
  }
}

/** Every partition's end offset, as committed offsets look once everything is processed. */
export function endOffsets(produced: readonly Produced[]): Record<number, string> {
  const ends: Record<number, string> = {};
  for (const r of produced) {
    const next = r.offset + 1n;
    if (BigInt(ends[r.partition] ?? '0') < next) ends[r.partition] = String(next);
  }
  return ends;
}

/** A pipeline counting tumbling windows per (type, url) into table `views`: what the runtime tests run. */
export function countingPipeline(options: {
  name: string;
  topic: string;
  database: string;
  idleTimeout: string;
  clickhouseUrl?: string;
  /** Tumbling window size; the results land in table `views`. */
  windowSize?: string;
  /** Declares the topic keyed by these fields (source.keyedBy): `[type]` computes the window per partition. */
  keyedBy?: string[];
}) {
  return {
    name: options.name,
    source: {
      brokers: [inject('kafkaBrokers')],
      topic: options.topic,
      groupId: `sluice-${options.name}`,
      ...(options.keyedBy ? { keyedBy: options.keyedBy } : {}),
    },
    // User events, declared as the demo does: a record that breaks the contract is dead-lettered.
    parse: { events: 'user-event' as const },
    time: { field: 'timestamp', maxOutOfOrderness: 5_000, grace: 0, idleTimeout: options.idleTimeout },
    windows: [
      {
        name: 'views',
        type: 'tumbling' as const,
        size: options.windowSize ?? '1m',
        groupBy: ['type', 'url'],
      },
    ],
    sinks: {
      clickhouse: { url: options.clickhouseUrl ?? inject('clickhouseUrl'), database: options.database },
    },
    // Tests run several pipelines at once: each takes any free port for its endpoints.
    http: { port: 0 },
  };
}

/** Waits until ClickHouse holds as many events as `expected` counts, then returns what it holds. */
export function waitForCounts(
  client: ClickHouseClient,
  database: string,
  expected: Counts,
  timeoutMs = 90_000,
): Promise<Counts> {
  return waitFor(
    `${total(expected)} events counted in ${database}`,
    () => countsIn(client, database),
    (counts) => total(counts) >= total(expected),
    timeoutMs,
  );
}

/** Waits until the group has committed every produced record. */
export function waitForCommits(
  kafka: Kafka,
  groupId: string,
  topic: string,
  produced: readonly Produced[],
  timeoutMs = 90_000,
): Promise<Record<number, string>> {
  const ends = endOffsets(produced);
  return waitFor(
    `every offset of ${topic} committed`,
    () => committedOffsets(kafka, groupId, topic),
    (c) => JSON.stringify(c) === JSON.stringify(ends),
    timeoutMs,
  );
}
