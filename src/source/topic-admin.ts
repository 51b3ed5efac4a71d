// Admin operations on one topic, each through a short-lived admin client: how many partitions it has
// (none when it does not exist), and deleting its records older than a time.
import type { Kafka } from 'kafkajs';
import { topicOffsets } from './cluster-settling.js';

/** The topic's partition count; undefined when the topic does not exist. */
export async function partitionCountOf(kafka: Kafka, topic: string): Promise<number | undefined> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    if (!(await admin.listTopics()).includes(topic)) return undefined;
    return (await topicOffsets(admin, topic)).length;
  } finally {
    await admin.disconnect();
  }
}

/** Deletes every record written before `timestampMs`; resolves to how many there were. */
export async function deleteRecordsBefore(kafka: Kafka, topic: string, timestampMs: number): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const cut = await admin.fetchTopicOffsetsByTimestamp(topic, timestampMs);
    const lows = new Map((await topicOffsets(admin, topic)).map((p) => [p.partition, BigInt(p.low)]));
    const partitions = cut.map((p) => ({ partition: p.partition, offset: p.offset }));
    await admin.deleteTopicRecords({ topic, partitions });
    return partitions.reduce((sum, p) => sum + Number(BigInt(p.offset) - (lows.get(p.partition) ?? 0n)), 0);
  } finally {
    await admin.disconnect();
  }
}
