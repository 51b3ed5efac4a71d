// Reads a topic from a starting point up to the end it had when reading began, then stops: for tools
// (dead-letter inspect and replay) rather than pipelines. With a group id it resumes from, and commits,
// that group's offsets; without one it reads from the beginning and leaves no group behind.
import { randomBytes } from 'node:crypto';
import type { Kafka, KafkaMessage } from 'kafkajs';
import { topicOffsets } from './cluster-settling.js';

export type TopicMessage = KafkaMessage & { partition: number };

export interface ReadOptions {
  /** Resume from and commit this group's offsets; otherwise read from the beginning without committing. */
  groupId?: string;
  /**
   * Called per batch in offset order; returns how many of its messages it consumed. Fewer than given
   * means "stop here": reading ends and only the consumed ones are committed.
   */
  onBatch: (messages: TopicMessage[]) => Promise<number>;
  commit?: boolean;
}

export async function readTopicToEnd(kafka: Kafka, topic: string, options: ReadOptions): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  const ends = new Map((await topicOffsets(admin, topic)).map((p) => [p.partition, BigInt(p.high)]));
  const starts = new Map((await topicOffsets(admin, topic)).map((p) => [p.partition, BigInt(p.low)]));
  const groupId = options.groupId ?? `sluice-tool-${randomBytes(6).toString('hex')}`;
  if (options.groupId) {
    const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
    for (const p of committed?.partitions ?? [])
      if (p.offset !== '-1') starts.set(p.partition, BigInt(p.offset));
  }
  const remaining = new Set([...ends].filter(([p, end]) => (starts.get(p) ?? 0n) < end).map(([p]) => p));
  let handled = 0;
  if (remaining.size > 0) {
    const consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    let finish!: () => void;
    const finished = new Promise<void>((resolve) => (finish = resolve));
    // A batch of only transaction markers (the end of a transactional topic) never reaches eachBatch.
    consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
      if (
        remaining.has(payload.partition) &&
        BigInt(payload.lastOffset) + 1n >= (ends.get(payload.partition) ?? 0n)
      ) {
        remaining.delete(payload.partition);
        if (remaining.size === 0) finish();
      }
    });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: async (payload) => {
        const { batch } = payload;
        const end = ends.get(batch.partition) ?? 0n;
        if (remaining.size === 0) return;
        const inRange = batch.messages.filter((m) => BigInt(m.offset) < end);
        const done =
          inRange.length === 0
            ? 0
            : await options.onBatch(inRange.map((m) => ({ ...m, partition: batch.partition })));
        handled += done;
        const last = inRange[done - 1];
        if (last) {
          payload.resolveOffset(last.offset);
          if (options.commit) {
            await consumer.commitOffsets([
              { topic, partition: batch.partition, offset: (BigInt(last.offset) + 1n).toString() },
            ]);
          }
        }
        const reachedEnd =
          last !== undefined ? BigInt(last.offset) + 1n >= end : BigInt(batch.lastOffset()) + 1n >= end;
        if (done < inRange.length) remaining.clear();
        else if (reachedEnd) remaining.delete(batch.partition);
        if (remaining.size === 0) finish();
      },
    });
    // A partition with nothing new is never fetched; the admin offsets above already excluded those.
    await finished;
    await consumer.disconnect();
  }
  if (!options.groupId) await admin.deleteGroups([groupId]).catch(() => undefined);
  await admin.disconnect();
  return handled;
}
