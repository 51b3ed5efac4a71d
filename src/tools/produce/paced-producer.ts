// Sends a feed of records to a topic, as fast as the broker takes them or at a steady rate, in
// batches (a request per partition of a batch, not per record: see source/partitioned-sends.ts for why
// not one for all), until the count is reached, the feed ends or the signal aborts. Reports progress
// after every batch.
import { setTimeout as sleep } from 'node:timers/promises';
import { Partitioners, type Kafka } from 'kafkajs';
import { partitionedSends } from '../../source/partitioned-sends.js';
import type { FeedRecord, RecordKind } from './synthetic-feed.js';

export interface PaceOptions {
  topic: string;
  /** Records per second; unlimited when absent. */
  rate?: number;
  /** Stop after this many records; the feed's end (or the signal) otherwise. */
  count?: number;
  signal?: AbortSignal;
  onProgress?: (sent: ProduceTotals) => void;
  /** Records per send (default 1,000); sends go one at a time, so a partition keeps the feed's order. */
  batchSize?: number;
}

export type ProduceTotals = Record<RecordKind, number> & { sent: number; elapsedMs: number };

const BATCH = 1_000;
const TICK_MS = 100;

export async function producePaced(
  kafka: Kafka,
  feed: Iterator<FeedRecord> | AsyncIterator<FeedRecord>,
  options: PaceOptions,
): Promise<ProduceTotals> {
  const producer = kafka.producer({
    createPartitioner: Partitioners.DefaultPartitioner,
    allowAutoTopicCreation: false,
  });
  const sends = partitionedSends(kafka);
  await producer.connect();
  const totals: ProduceTotals = { sent: 0, event: 0, late: 0, malformed: 0, elapsedMs: 0 };
  const started = Date.now();
  const limit = options.count ?? Infinity;
  const batchSize = options.batchSize ?? BATCH;
  let ended = false;
  try {
    while (!ended && totals.sent < limit && !options.signal?.aborted) {
      // At a rate: what is due by now (in batches, so a slow broker is caught up on, not overrun).
      const due =
        options.rate === undefined
          ? batchSize
          : Math.min(batchSize, Math.floor(((Date.now() - started) / 1000) * options.rate) - totals.sent);
      if (due <= 0) {
        await sleep(TICK_MS);
        continue;
      }
      const batch: FeedRecord[] = [];
      while (batch.length < Math.min(due, limit - totals.sent)) {
        const next = await feed.next();
        if (next.done) {
          ended = true;
          break;
        }
        batch.push(next.value);
      }
      if (batch.length === 0) break;
      await sends.send(
        options.topic,
        batch.map((r) => ({ key: r.key, value: r.value })),
        async (topic, _, messages) => {
          await producer.send({ topic, messages });
        },
      );
      for (const r of batch) totals[r.kind] += 1;
      totals.sent += batch.length;
      totals.elapsedMs = Date.now() - started;
      options.onProgress?.(totals);
    }
  } finally {
    await producer.disconnect();
  }
  totals.elapsedMs = Date.now() - started;
  return totals;
}
