// Reads partitions of the changelog topic from the beginning to the end they had when reading began,
// keeping the newest value per key (as compaction would): the state a newly assigned partition starts
// from. It reads committed transactions only; the caller fences older producers of the partition
// first, so no open transaction holds the end back. Its write side is partition-transactions.ts.
import type { Kafka } from 'kafkajs';
import { decodeCheckpoint, CHECKPOINT_KEY, type RestoredPartition } from '../state/changelog-codec.js';
import { topicOffsets } from './cluster-settling.js';
import { readPartitionRanges } from './partition-fetch.js';

/** Where a partition's window records go as they are read, oldest first, when it is rebuilt meanwhile. */
export interface ChangelogRecords {
  put(key: string, value: Buffer): void;
  /** A tombstone. */
  remove(key: string): void;
}

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
    /**
     * Rebuilds a partition's windows from its records as they come (their values are views into the
     * fetched bytes, read once): the restored partition's `records` then hold only its other records.
     */
    rebuild?: (partition: number) => ChangelogRecords;
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
  const rebuilds = new Map(options.rebuild ? partitions.map((p) => [p, options.rebuild!(p)] as const) : []);
  await readPartitionRanges(kafka, topic, ranges, (partition, { records: batch, aborted }) => {
    const state = records.get(partition)!;
    const rebuild = rebuilds.get(partition);
    for (let i = 0; i < batch.length; i += 1) {
      const key = batch.keyText(i);
      if (key === CHECKPOINT_KEY) {
        const value = batch.value(i);
        if (value) checkpoints.set(partition, value.toString());
        else checkpoints.delete(partition);
      } else if (rebuild) {
        if (batch.hasValue(i)) rebuild.put(key, batch.value(i)!);
        else rebuild.remove(key);
      } else {
        const value = batch.value(i);
        if (value === null) state.delete(key);
        else state.set(key, value);
      }
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
