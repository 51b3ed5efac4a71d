// End-to-end latency under a steady load: events stamped with the wall clock are produced at a stated
// rate to their own topic, and each event's latency is the time from its produce acknowledgement to
// the first moment a window row that counts it can be read: from ClickHouse for Sluice (polled), from
// the output topic for the Kafka Streams peer (consumed read_committed). Rows are matched to events
// oldest first: a row counted c times covers the first c events of its identity. A row sums the
// partitions (Sluice re-keys its windows, Kafka Streams repartitions), so an event may be credited a
// little later than it was counted (never earlier).
import type { ClickHouseClient } from '@clickhouse/client';
import type { Kafka } from 'kafkajs';
import { userEventStream, type SampleEvent } from '../produce/sample-events.js';
import type { BenchFormat } from './bench-feed.js';
import { avroEncoder } from './bench-feed.js';
import type { LatencyResult } from './bench-report.js';

export interface SteadyLoadOptions {
  rate: number;
  seconds: number;
  partitions: number;
  seed: number;
  format: BenchFormat;
  /** Window size of the count the readers keep, ms: an event's row is (window start, type, url). */
  windowMs: number;
}

/** The produced events of one row identity, oldest first, with how many a reader has been seen to count. */
interface RowEvents {
  acks: number[];
  seen: number;
}

export class LatencyBook {
  private readonly rows = new Map<string, RowEvents>();
  private readonly latencies: number[] = [];

  add(identity: string, ackMs: number): void {
    let row = this.rows.get(identity);
    if (!row) this.rows.set(identity, (row = { acks: [], seen: 0 }));
    row.acks.push(ackMs);
  }

  /** A reader showed `count` for the row at `atMs`: every event up to that count not yet seen is now readable. */
  observe(identity: string, count: number, atMs: number): void {
    const row = this.rows.get(identity);
    if (!row) return;
    const upTo = Math.min(count, row.acks.length);
    for (let i = row.seen; i < upTo; i += 1) this.latencies.push(Math.max(0, atMs - row.acks[i]!));
    row.seen = Math.max(row.seen, upTo);
  }

  get produced(): number {
    let total = 0;
    for (const row of this.rows.values()) total += row.acks.length;
    return total;
  }

  get observed(): number {
    return this.latencies.length;
  }

  summary(): { samples: number; p50Ms: number; p99Ms: number; maxMs: number } {
    const sorted = [...this.latencies].sort((a, b) => a - b);
    const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
    return { samples: sorted.length, p50Ms: at(0.5), p99Ms: at(0.99), maxMs: sorted.at(-1) ?? 0 };
  }
}

/**
 * Produces `rate` events per second for `seconds` to `topic`, round-robin over its partitions (so
 * each partition's order is the send order), and books every acknowledged event under its row:
 * `identityOf(event, partition)`.
 */
export async function steadyLoad(
  kafka: Kafka,
  topic: string,
  options: SteadyLoadOptions,
  identityOf: (event: SampleEvent, partition: number) => string,
  book: LatencyBook,
): Promise<void> {
  const encode =
    options.format === 'avro' ? avroEncoder() : (e: SampleEvent) => Buffer.from(JSON.stringify(e));
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const events = userEventStream(options.seed, () => Date.now(), 0, 5_000);
  const total = options.rate * options.seconds;
  const started = Date.now();
  let sent = 0;
  try {
    while (sent < total) {
      const due = Math.min(total, Math.floor(((Date.now() - started) / 1000) * options.rate)) - sent;
      if (due <= 0) {
        await new Promise((resolve) => setTimeout(resolve, 10));
        continue;
      }
      const batch: { event: SampleEvent; partition: number }[] = [];
      for (let i = 0; i < due; i += 1) {
        const event = events.next().value as SampleEvent;
        // Stamped when sent: the clock is the event time, as for a live source.
        event.timestamp = Date.now();
        batch.push({ event, partition: (sent + i) % options.partitions });
      }
      sent += due;
      await producer.send({
        topic,
        acks: -1,
        messages: batch.map(({ event, partition }) => ({
          partition,
          key: event.userId,
          value: encode(event),
        })),
      });
      const ackedAt = Date.now();
      for (const { event, partition } of batch) book.add(identityOf(event, partition), ackedAt);
    }
  } finally {
    await producer.disconnect();
  }
}

export const windowStartOf = (timestamp: number, windowMs: number) => timestamp - (timestamp % windowMs);

/** Polls a Sluice window's view in ClickHouse (one row per window, type and url) into the book. */
export async function watchClickHouseCounts(
  clickhouse: ClickHouseClient,
  table: string,
  book: LatencyBook,
  until: () => boolean,
): Promise<void> {
  while (!until()) {
    try {
      const result = await clickhouse.query({
        query: `SELECT toString(window_start_ms) AS s, type, url, count AS c FROM ${table}`,
        format: 'JSONEachRow',
      });
      const at = Date.now();
      for (const row of await result.json<{ s: string; type: string; url: string; c: string }>())
        book.observe(`${row.s}|${row.type}|${row.url}`, Number(row.c), at);
    } catch {
      // The table appears with the first row: until then there is nothing to see.
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export function latencyResult(
  name: string,
  description: string,
  options: SteadyLoadOptions,
  book: LatencyBook,
): LatencyResult {
  return { name, description, rate: options.rate, seconds: options.seconds, ...book.summary() };
}
