// Reads partitions of the changelog topic from the beginning to the end they had when reading began,
// keeping the newest value per key (as compaction would): the state a newly assigned partition starts
// from. It reads committed transactions only; the caller fences older producers of the partition
// first, so no open transaction holds the end back. Its write side is partition-transactions.ts.
import { randomBytes } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import { decodeCheckpoint, CHECKPOINT_KEY, type RestoredPartition } from '../state/changelog-codec.js';
import { topicOffsets } from './cluster-settling.js';

export interface RestoreProgress {
  /** Changelog records read so far, and how many there were to read when restoring began. */
  read: number;
  total: number;
}

export async function readChangelog(
  kafka: Kafka,
  topic: string,
  partitions: readonly number[],
  options: {
    /** The source topic, whose ends tell whether a restored partition has anything left to read. */
    sourceTopic: string;
    onProgress?: (progress: RestoreProgress) => void;
  },
): Promise<Map<number, RestoredPartition>> {
  const records = new Map(partitions.map((p) => [p, new Map<string, Buffer>()]));
  const checkpoints = new Map<number, string>();
  const admin = kafka.admin();
  await admin.connect();
  const offsets = await topicOffsets(admin, topic);
  const sourceEnds = new Map(
    (await topicOffsets(admin, options.sourceTopic)).map((o) => [o.partition, BigInt(o.high)]),
  );
  const ends = new Map(offsets.map((o) => [o.partition, BigInt(o.high)]));
  const remaining = new Set(
    offsets
      .filter((o) => partitions.includes(o.partition) && BigInt(o.high) > BigInt(o.low))
      .map((o) => o.partition),
  );
  const total = offsets
    .filter((o) => partitions.includes(o.partition))
    .reduce((sum, o) => sum + Number(BigInt(o.high) - BigInt(o.low)), 0);
  let read = 0;
  options.onProgress?.({ read, total });

  if (remaining.size > 0) {
    const groupId = `sluice-restore-${randomBytes(6).toString('hex')}`;
    const consumer = kafka.consumer({
      groupId,
      // Snapshots are transactions (under either guarantee): only committed ones are state.
      readUncommitted: false,
      allowAutoTopicCreation: false,
      // A restore reads whole partitions as fast as it can: large fetches, few round trips.
      maxBytesPerPartition: 16 * 1024 * 1024,
      maxBytes: 64 * 1024 * 1024,
      maxWaitTimeInMs: 100,
    });
    let finish!: () => void;
    const finished = new Promise<void>((resolve) => (finish = resolve));
    const reached = (partition: number, lastOffset: string) => {
      if (remaining.has(partition) && BigInt(lastOffset) + 1n >= (ends.get(partition) ?? 0n)) {
        remaining.delete(partition);
        if (remaining.size === 0) finish();
      }
    };
    // Batches of only transaction markers never reach eachBatch; their end does show here.
    consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) =>
      reached(payload.partition, payload.lastOffset),
    );
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        const partition = batch.partition;
        const state = records.get(partition);
        if (!state) return;
        // Offsets fit a double exactly (below 2^53): no BigInt per record.
        const end = Number(ends.get(partition) ?? 0n);
        for (const message of batch.messages) {
          if (Number(message.offset) >= end) break;
          const key = message.key?.toString() ?? '';
          if (key === CHECKPOINT_KEY) {
            if (message.value) checkpoints.set(partition, message.value.toString());
            else checkpoints.delete(partition);
          } else if (message.value === null) state.delete(key);
          else state.set(key, message.value);
          read += 1;
        }
        options.onProgress?.({ read, total });
        await Promise.resolve();
      },
    });
    await finished;
    await consumer.disconnect();
    await admin.deleteGroups([groupId]).catch(() => undefined);
  }
  await admin.disconnect();
  return new Map(
    partitions.map((p) => {
      const checkpoint = checkpoints.get(p);
      return [
        p,
        {
          records: records.get(p)!,
          checkpoint: checkpoint ? decodeCheckpoint(checkpoint) : undefined,
          highWatermark: sourceEnds.get(p) ?? 0n,
        },
      ];
    }),
  );
}
