// Whether a consumer group has committed offsets up to the end of a topic: the bench's common finish
// line for every reader that commits (Sluice under either guarantee, Kafka Streams under
// exactly_once_v2), so their spans end at the same kind of moment; and, for a topic whose end a group
// never commits to (Sluice's repartition topic), when the group's commits have come to rest.
import type { Kafka } from 'kafkajs';
import { BenchPeerError } from './bench-peer-error.js';

/** Resolves once `groupId` has committed the end offset of every partition of `topic`. */
export async function committedToEnd(
  kafka: Kafka,
  groupId: string,
  topic: string,
  signal?: AbortSignal,
): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const ends = new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, p.offset]));
    for (;;) {
      if (signal?.aborted)
        throw new BenchPeerError(`stopped waiting for ${groupId} to commit ${topic} to its end`);
      const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
      const done = (committed?.partitions ?? []).filter((p) => ends.get(p.partition) === p.offset).length;
      if (done === ends.size) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    await admin.disconnect();
  }
}

/**
 * Resolves once `groupId`'s committed offsets on `topic` have not moved for `quietMs`, calling
 * `advanced` at the first reading and at every move. For a topic whose end a group never commits to:
 * Sluice's repartition topic ends with watermark markers (and transaction markers) that the re-keyed
 * side reads but commits only with its next window state, which no more events bring.
 */
export async function committedUntilQuiet(
  kafka: Kafka,
  groupId: string,
  topic: string,
  quietMs: number,
  advanced: () => Promise<void> | void,
  signal?: AbortSignal,
): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    let last: string | undefined;
    let movedAt = performance.now();
    for (;;) {
      const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
      const now = (committed?.partitions ?? []).map((p) => `${p.partition}:${p.offset}`).join(' ');
      if (now !== last) {
        last = now;
        movedAt = performance.now();
        await advanced();
      } else if (performance.now() - movedAt >= quietMs) return;
      if (signal?.aborted) throw new BenchPeerError(`stopped waiting for ${groupId}'s commits on ${topic}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    await admin.disconnect();
  }
}
