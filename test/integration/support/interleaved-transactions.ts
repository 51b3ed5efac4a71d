// Transactional writers taking turns at random on one topic, as in any topic several transactional
// producers share (Sluice's own output topics, a Kafka Streams app's): each step sends a few items
// into its writer's open transaction, or ends it, mostly committing, now and then aborting. The sends
// are awaited one at a time, so offsets follow the order the items were sent in.
import type { CompressionTypes, Kafka, Message } from 'kafkajs';
import { seededRandom } from '../../../src/tools/produce/sample-events.js';

export interface InterleavedOptions<T> {
  writers: number;
  seed: number;
  /** The most items one send holds (at least one). */
  maxPerSend: number;
  /** Of the steps that could either send or end a transaction, the share that sends. */
  sendShare: number;
  /** Of the transactions ended before the items run out, the share committed (the rest abort). */
  commitShare: number;
  message: (item: T) => Message;
  /** Each send's codec (none when absent). */
  compression?: CompressionTypes;
}

/** Writes `items`; returns those committed, in the order their transactions committed, and how many aborted. */
export async function interleavedTransactions<T>(
  kafka: Kafka,
  topic: string,
  items: readonly T[],
  options: InterleavedOptions<T>,
): Promise<{ committed: T[]; aborted: number }> {
  const next = seededRandom(options.seed);
  const writers = await Promise.all(
    Array.from({ length: options.writers }, async (_, i) => {
      const producer = kafka.producer({
        transactionalId: `${topic}-writer-${i}`,
        idempotent: true,
        maxInFlightRequests: 1,
      });
      await producer.connect();
      return {
        producer,
        open: undefined as Awaited<ReturnType<typeof producer.transaction>> | undefined,
        pending: [] as T[],
      };
    }),
  );
  const committed: T[] = [];
  let aborted = 0;
  let cursor = 0;
  while (cursor < items.length || writers.some((w) => w.open)) {
    const writer = writers[Math.floor(next() * options.writers)]!;
    const roll = next();
    if (cursor < items.length && (roll < options.sendShare || !writer.open)) {
      writer.open ??= await writer.producer.transaction();
      const batch = items.slice(cursor, cursor + 1 + Math.floor(next() * options.maxPerSend));
      cursor += batch.length;
      await writer.open.send({
        topic,
        messages: batch.map(options.message),
        ...(options.compression === undefined ? {} : { compression: options.compression }),
      });
      writer.pending.push(...batch);
    } else if (writer.open) {
      const commitBelow = options.sendShare + (1 - options.sendShare) * options.commitShare;
      if (roll < commitBelow || cursor >= items.length) {
        await writer.open.commit();
        committed.push(...writer.pending);
      } else {
        await writer.open.abort();
        aborted += writer.pending.length;
      }
      writer.open = undefined;
      writer.pending = [];
    }
  }
  await Promise.all(writers.map((w) => w.producer.disconnect()));
  return { committed, aborted };
}
