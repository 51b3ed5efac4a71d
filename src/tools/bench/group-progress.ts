// Whether a consumer group has committed offsets up to the end of a topic: the bench's common finish
// line for every reader that commits (Sluice under either guarantee, Kafka Streams under
// exactly_once_v2), so their spans end at the same kind of moment.
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
