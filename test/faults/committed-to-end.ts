// Whether a group's committed offsets reach its topic's end: what the commit-failure scenarios wait
// for before judging (a partition that stopped committing shows here, not in ClickHouse). Small on
// purpose: the shared verdict is getting the same check, and this goes when it lands.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Kafka } from 'kafkajs';

export interface CommittedProgress {
  reached: boolean;
  /** Per partition: the group's committed offset and the topic's end. */
  partitions: { partition: number; committed: string; end: string }[];
  /** e.g. `0: 1530/1530, 1: -1/1530`. */
  summary: string;
}

async function progress(kafka: Kafka, groupId: string, topic: string): Promise<CommittedProgress> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const ends = await admin.fetchTopicOffsets(topic);
    const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
    const partitions = ends
      .map(({ partition, high }) => ({
        partition,
        committed: committed?.partitions.find((p) => p.partition === partition)?.offset ?? '-1',
        end: high,
      }))
      .sort((a, b) => a.partition - b.partition);
    return {
      reached: partitions.every((p) => p.committed === p.end),
      partitions,
      summary: partitions.map((p) => `${p.partition}: ${p.committed}/${p.end}`).join(', '),
    };
  } finally {
    await admin.disconnect();
  }
}

/** Polls until every partition's committed offset is its end, or `timeoutMs`; returns what it saw last. */
export async function committedToEnd(
  kafka: Kafka,
  groupId: string,
  topic: string,
  timeoutMs: number,
): Promise<CommittedProgress> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const seen = await progress(kafka, groupId, topic).catch(() => undefined);
    if (seen?.reached || (seen && Date.now() >= deadline)) return seen;
    if (Date.now() >= deadline + 30_000) throw new Error(`could not read the offsets of group ${groupId}`);
    await sleep(500);
  }
}
