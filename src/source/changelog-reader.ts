// Reads partitions of the changelog topic from the beginning to the end they had when reading began,
// keeping the newest value per key (as compaction would): the state a newly assigned partition starts
// from. It reads committed transactions only; the caller fences older producers of the partition
// first, so no open transaction holds the end back. Its write side is partition-transactions.ts.
import type { Kafka } from 'kafkajs';
import { decodeCheckpoint, CHECKPOINT_KEY, type RestoredPartition } from '../state/changelog-codec.js';
import { topicOffsets } from './cluster-settling.js';
import { readPartitionRanges } from './partition-fetch.js';

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
  let offsets: Awaited<ReturnType<typeof topicOffsets>>;
  let sourceEnds: Map<number, bigint>;
  try {
    offsets = await topicOffsets(admin, topic);
    sourceEnds = new Map(
      (await topicOffsets(admin, options.sourceTopic)).map((o) => [o.partition, BigInt(o.high)]),
    );
  } finally {
    await admin.disconnect();
  }
  const total = offsets
    .filter((o) => partitions.includes(o.partition))
    .reduce((sum, o) => sum + Number(BigInt(o.high) - BigInt(o.low)), 0);
  let read = 0;
  options.onProgress?.({ read, total });

  // Without a consumer group (partition-fetch.ts): no join, no rebalance delay, nothing to delete after.
  const ranges = new Map(
    offsets
      .filter((o) => partitions.includes(o.partition))
      .map((o) => [o.partition, { from: BigInt(o.low), to: BigInt(o.high) }]),
  );
  const abortedCheckpoints = new Map(partitions.map((p) => [p, new Set<bigint>()]));
  await readPartitionRanges(kafka, topic, ranges, (partition, { records: batch, aborted }) => {
    const state = records.get(partition)!;
    for (const message of batch) {
      const key = message.key?.toString() ?? '';
      if (key === CHECKPOINT_KEY) {
        if (message.value) checkpoints.set(partition, message.value.toString());
        else checkpoints.delete(partition);
      } else if (message.value === null) state.delete(key);
      else state.set(key, message.value);
    }
    // The offsets that transactions which did not land in the changelog were checkpointing.
    for (const message of aborted)
      if (message.value && message.key?.toString() === CHECKPOINT_KEY) {
        try {
          abortedCheckpoints.get(partition)!.add(decodeCheckpoint(message.value.toString()).offset);
        } catch {
          // Not a checkpoint this version wrote: it tells nothing, and the state does not depend on it.
        }
      }
    read += batch.length;
    options.onProgress?.({ read, total });
  });
  return new Map(
    partitions.map((p) => {
      const checkpoint = checkpoints.get(p);
      return [
        p,
        {
          records: records.get(p)!,
          checkpoint: checkpoint ? decodeCheckpoint(checkpoint) : undefined,
          highWatermark: sourceEnds.get(p) ?? 0n,
          abortedCheckpoints: abortedCheckpoints.get(p)!,
        },
      ];
    }),
  );
}
