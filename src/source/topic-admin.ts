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

/** Which broker leads each partition of each topic (those that exist), by the cluster's metadata. */
export async function partitionLeadersOf(
  kafka: Kafka,
  topics: readonly string[],
): Promise<Map<string, Map<number, number>>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const metadata = await admin.fetchTopicMetadata({ topics: [...topics] });
    return new Map(
      metadata.topics.map((t) => [t.name, new Map(t.partitions.map((p) => [p.partitionId, p.leader]))]),
    );
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

/** A member of a consumer group, as an operator would recognise it. */
export interface GroupMember {
  memberId: string;
  clientId: string;
  host: string;
}

/** The group's current members (none when it is empty or unknown). */
export async function groupMembersOf(kafka: Kafka, groupId: string): Promise<GroupMember[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const { groups } = await whileSettling(() => admin.describeGroups([groupId]));
    return (groups[0]?.members ?? []).map((m) => ({
      memberId: m.memberId,
      clientId: m.clientId,
      host: m.clientHost,
    }));
  } finally {
    await admin.disconnect();
  }
}

/** Each partition's first and end offsets. */
export async function partitionBoundsOf(
  kafka: Kafka,
  topic: string,
): Promise<Map<number, { low: bigint; high: bigint }>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const offsets = await topicOffsets(admin, topic);
    return new Map(offsets.map((o) => [o.partition, { low: BigInt(o.low), high: BigInt(o.high) }]));
  } finally {
    await admin.disconnect();
  }
}

/** Commits the group's offsets of the given partitions (the group must have no members). */
export async function setGroupOffsets(
  kafka: Kafka,
  groupId: string,
  topic: string,
  offsets: ReadonlyMap<number, bigint>,
): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.setOffsets({
      groupId,
      topic,
      partitions: [...offsets].map(([partition, offset]) => ({ partition, offset: offset.toString() })),
    });
  } finally {
    await admin.disconnect();
  }
}
