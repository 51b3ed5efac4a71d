// Admin operations on one topic, each through a short-lived admin client: how many partitions it has
// (none when it does not exist), and deleting its records older than a time; a group's committed offsets.
import type { Kafka } from 'kafkajs';
import { topicOffsets, whileSettling } from './cluster-settling.js';

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

/** Per partition, the offset of the first record written at or after `timestampMs` (the end if none). */
export async function offsetsAt(
  kafka: Kafka,
  topic: string,
  timestampMs: number,
): Promise<Map<number, bigint>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const cut = await admin.fetchTopicOffsetsByTimestamp(topic, timestampMs);
    return new Map(cut.map((p) => [p.partition, BigInt(p.offset)]));
  } finally {
    await admin.disconnect();
  }
}

/** Deletes every record below each partition's offset. */
export async function deleteRecordsBefore(
  kafka: Kafka,
  topic: string,
  cut: ReadonlyMap<number, bigint>,
): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const partitions = [...cut].map(([partition, offset]) => ({ partition, offset: offset.toString() }));
    // The partitions' leaders take the deletes: this client must know them first.
    await admin.fetchTopicMetadata({ topics: [topic] });
    await admin.deleteTopicRecords({ topic, partitions });
  } finally {
    await admin.disconnect();
  }
}

/** The group's committed offset of each of the topic's partitions; undefined where none is committed. */
export async function committedOffsetsOf(
  kafka: Kafka,
  groupId: string,
  topic: string,
): Promise<Map<number, bigint | undefined>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const [found] = await whileSettling(() => admin.fetchOffsets({ groupId, topics: [topic] }));
    return new Map(
      (found?.partitions ?? []).map((p) => [
        p.partition,
        Number(p.offset) < 0 ? undefined : BigInt(p.offset),
      ]),
    );
  } finally {
    await admin.disconnect();
  }
}
