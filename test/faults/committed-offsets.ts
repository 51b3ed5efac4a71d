// Whether a scenario's consumer group committed its offsets to the end of the source topic's data: the
// verdict's check that the pipeline not only landed its rows but also recorded that it did. A commit
// that fails forever still lands rows in ClickHouse; only the group's offsets show that a restart would
// replay the whole stream.
import type { Kafka } from 'kafkajs';
import { readTopicToEnd } from '../../src/source/topic-reader.js';
import { topicOffsets } from '../../src/source/cluster-settling.js';
import { waitFor } from '../integration/support/fixtures.js';

export interface PartitionEnd {
  partition: number;
  /**
   * The offset after the partition's last record that a read_committed reader is given; undefined when
   * it has none. Sluice commits the position after the last record it completed, and a transaction
   * marker or aborted records after that record are skipped by kafkajs, never completed: so a pipeline
   * at the end of a transactional topic commits exactly this, one or more below the log end.
   */
  dataEnd: bigint | undefined;
  /** The log end (high watermark, markers included): no committed offset may pass it. */
  logEnd: bigint;
}

/** Where each partition of `topic` ends, read once the stream is over (the ends no longer move). */
export async function topicEnds(kafka: Kafka, topic: string): Promise<PartitionEnd[]> {
  const admin = kafka.admin();
  await admin.connect();
  const offsets = await topicOffsets(admin, topic).finally(() => admin.disconnect());
  const lastRecord = new Map<number, bigint>();
  await readTopicToEnd(kafka, topic, {
    onBatch: (messages) => {
      for (const m of messages) {
        const offset = BigInt(m.offset);
        if ((lastRecord.get(m.partition) ?? -1n) < offset) lastRecord.set(m.partition, offset);
      }
      return Promise.resolve(messages.length);
    },
  });
  return offsets
    .map((p) => {
      const last = lastRecord.get(p.partition);
      return {
        partition: p.partition,
        dataEnd: last === undefined ? undefined : last + 1n,
        logEnd: BigInt(p.high),
      };
    })
    .sort((a, b) => a.partition - b.partition);
}

export interface CommittedVerdict {
  /** The report's line: "3/3 partitions at the end", or which partitions are behind and by how much. */
  line: string;
  /** One entry per partition not at the end: `p1 1200 of 1500`; empty when every partition is. */
  behind: string[];
}

/** A partition's committed offset against its end: undefined when at the end, else what is wrong. */
function shortfall(end: PartitionEnd, committed: bigint): string | undefined {
  const shown = committed < 0n ? 'none' : String(committed);
  // A partition without a record to commit has nothing to be behind on.
  if (end.dataEnd !== undefined && committed < end.dataEnd) {
    const markers = end.dataEnd < end.logEnd ? ` (log end ${end.logEnd}: markers after the data)` : '';
    return `p${end.partition} ${shown} of ${end.dataEnd}${markers}`;
  }
  if (committed > end.logEnd) return `p${end.partition} ${shown} past the log end ${end.logEnd}`;
  return undefined;
}

/** Every partition's committed offset of `groupId` on `topic` (-1 when it has none). */
async function committedOffsets(kafka: Kafka, groupId: string, topic: string): Promise<Map<number, bigint>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
    return new Map((offsets?.partitions ?? []).map((p) => [p.partition, BigInt(p.offset)]));
  } finally {
    await admin.disconnect();
  }
}

function judge(ends: readonly PartitionEnd[], committed: Map<number, bigint>): CommittedVerdict {
  const behind = ends.flatMap((end) => shortfall(end, committed.get(end.partition) ?? -1n) ?? []);
  const atEnd = `${ends.length - behind.length}/${ends.length} partitions at the end`;
  return { behind, line: behind.length === 0 ? atEnd : `offsets behind: ${behind.join(', ')} (${atEnd})` };
}

/**
 * Waits until `groupId` has committed every partition of `topic` to its end (or the time is up), and
 * says how far it got. Commits come every commit interval, so the end is reached within seconds of the
 * last record; a pipeline whose commits fail stays behind for good.
 */
export async function committedToEnd(
  kafka: Kafka,
  groupId: string,
  topic: string,
  ends: readonly PartitionEnd[],
  timeoutMs: number,
): Promise<CommittedVerdict> {
  const current = async () => judge(ends, await committedOffsets(kafka, groupId, topic));
  return waitFor(
    `${groupId} to commit ${topic} to its end`,
    current,
    (v) => v.behind.length === 0,
    timeoutMs,
  ).catch(current);
}
