// Changes to a pipeline's state made while none of its members runs: dropping the state of a window
// removed from the pipeline (`sluice state drop-window`), and resetting the pipeline to reprocess from a
// point of its source topic (`sluice reset`, the counterpart of Kafka Streams' application reset tool).
// Each source partition's changelog partition is changed in one transaction under the partition's own
// transactional id: its last writer is fenced first (a member believed stopped cannot write over the
// change afterwards), and the change lands whole or not at all. A reset also commits the group's new
// offset in that transaction, so state and position move together.
import { SluiceError } from '../errors.js';
import type { PipelineTopics } from '../config/pipeline-topics.js';
import type { Logger } from '../ops/logger.js';
import { readChangelog } from '../source/changelog-reader.js';
import type { KafkaConnection } from '../source/kafka-client.js';
import { PartitionTransactions, type ChangelogSnapshot } from '../source/partition-transactions.js';
import {
  committedOffsetsOf,
  groupMembersOf,
  offsetsAt,
  partitionBoundsOf,
  partitionCountOf,
  setGroupOffsets,
} from '../source/topic-admin.js';
import {
  CHECKPOINT_KEY,
  encodeCheckpoint,
  isStateKey,
  readWindowRecord,
  type Checkpoint,
  type RestoredPartition,
} from '../state/changelog-codec.js';
import type { WindowDefinition } from '../windows/window-definition.js';

/** The pipeline whose state is changed, as its config names it. */
export interface MaintainedPipeline {
  name: string;
  groupId: string;
  topics: PipelineTopics;
  windows: readonly Pick<WindowDefinition, 'name' | 'fingerprint'>[];
}

export class GroupNotEmptyError extends SluiceError {
  constructor(groupId: string, members: readonly { memberId: string; clientId: string; host: string }[]) {
    super(
      `consumer group ${groupId} has ${members.length} member(s) running: ` +
        members.map((m) => `${m.clientId} on ${m.host} (${m.memberId})`).join(', ') +
        '. Stop every member of the pipeline first (scale its deployment to 0, or stop its processes), wait ' +
        'for the group to empty (its session timeout at most), and run this again.',
      { code: 'SLUICE_CONFIG_INVALID', retriable: false },
    );
  }
}

export async function requireEmptyGroup(kafka: KafkaConnection, groupId: string): Promise<void> {
  const members = await groupMembersOf(kafka, groupId);
  if (members.length > 0) throw new GroupNotEmptyError(groupId, members);
}

/**
 * Fences each partition's last writer, reads its state, and commits what `edit` makes of it (nothing
 * when it returns undefined). Partitions of a pipeline that never wrote state have no changelog yet:
 * `edit` sees undefined for them and what it returns is not written (nothing to change there).
 */
async function rewritePartitions(
  kafka: KafkaConnection,
  pipeline: MaintainedPipeline,
  partitions: readonly number[],
  options: { commitOffsets: boolean; logger: Logger },
  edit: (partition: number, state: RestoredPartition | undefined) => ChangelogSnapshot | undefined,
): Promise<void> {
  const transactions = new PartitionTransactions(
    kafka,
    {
      pipeline: pipeline.name,
      sourceTopic: pipeline.topics.source,
      changelogTopic: pipeline.topics.changelog,
      groupId: pipeline.groupId,
      exactlyOnce: options.commitOffsets,
    },
    // Outside a transaction nothing is committed: a drop leaves the group's offsets alone.
    () => Promise.resolve(),
    options.logger,
  );
  try {
    for (const partition of partitions) await transactions.open(partition);
    const restored = await readChangelog(kafka, pipeline.topics.changelog, partitions, {
      sourceTopic: pipeline.topics.source,
    });
    for (const partition of partitions) {
      const change = edit(partition, restored.get(partition));
      if (change) await transactions.commit(partition, change);
    }
  } finally {
    await transactions.closeAll();
  }
}

export interface DropReport {
  /** Window records tombstoned per partition (only partitions that held any, or named the window). */
  dropped: Map<number, number>;
}

/** Tombstones every window record of `name` and removes it from the checkpoints. */
export async function dropWindowState(
  kafka: KafkaConnection,
  pipeline: MaintainedPipeline,
  name: string,
  logger: Logger,
): Promise<DropReport> {
  if (pipeline.windows.some((w) => w.name === name))
    throw new SluiceError(
      `window ${name} is still defined in the pipeline: remove it from the config first, then drop its state`,
      { code: 'SLUICE_CONFIG_INVALID', retriable: false },
    );
  await requireEmptyGroup(kafka, pipeline.groupId);
  const dropped = new Map<number, number>();
  const partitions = await changelogPartitions(kafka, pipeline);
  if (partitions.length === 0) return { dropped };
  await rewritePartitions(
    kafka,
    pipeline,
    partitions,
    { commitOffsets: false, logger },
    (partition, state) => {
      if (!state) return undefined;
      const records = new Map<string, Buffer | string | null>();
      for (const [key, value] of state.records)
        if (isStateKey(key) && readWindowRecord(value).definition === name) records.set(key, null);
      const checkpoint = state.checkpoint;
      const named = checkpoint?.definitions !== undefined && name in checkpoint.definitions;
      if (records.size === 0 && !named) return undefined;
      if (checkpoint) {
        const definitions = { ...checkpoint.definitions };
        delete definitions[name];
        records.set(CHECKPOINT_KEY, encodeCheckpoint({ ...checkpoint, definitions }));
      }
      dropped.set(partition, records.size - (checkpoint ? 1 : 0));
      return { records, offset: checkpoint?.offset ?? 0n };
    },
  );
  return { dropped };
}

/** Where a reset moves the group: the topic's start, a time, or given offsets of some partitions. */
export type ResetTarget =
  | { kind: 'earliest' }
  | { kind: 'datetime'; ms: number }
  | { kind: 'offsets'; offsets: ReadonlyMap<number, bigint> };

export interface PartitionReset {
  partition: number;
  /** The group's committed offset before; undefined when none was. */
  from: bigint | undefined;
  to: bigint;
  /** Open windows whose state was dropped. */
  windowsDropped: number;
}

/**
 * Rewinds (or moves) the group to the target and drops the window state of every partition it moves:
 * a restart recomputes from there. The new checkpoint keeps the commit-interval count going, so rows
 * recomputed later carry higher versions than the rows already in ClickHouse and replace them.
 */
export async function resetPipeline(
  kafka: KafkaConnection,
  pipeline: MaintainedPipeline,
  target: ResetTarget,
  logger: Logger,
  /**
   * The side computing re-keyed windows, when the pipeline has any. A re-keyed window's keys take
   * events from every source partition, so only a reset of every partition recomputes them: its state
   * is dropped and its group moved to the end of the repartition topic, where the source side's replay
   * writes from. A reset of some partitions is refused.
   */
  rekeyed?: MaintainedPipeline,
): Promise<PartitionReset[]> {
  await requireEmptyGroup(kafka, pipeline.groupId);
  if (rekeyed) {
    await requireEmptyGroup(kafka, rekeyed.groupId);
    if (target.kind === 'offsets') {
      const count = await partitionCountOf(kafka, pipeline.topics.source);
      if (target.offsets.size !== count)
        throw new SluiceError(
          `--to-offsets names ${target.offsets.size} of ${pipeline.topics.source}'s ${count ?? 0} partitions, but ` +
            `windows ${rekeyed.windows.map((w) => w.name).join(', ')} are re-keyed: each of their keys takes events ` +
            'from every partition, so a reset must move every partition (name them all, or use --to-earliest or --to-datetime)',
          { code: 'SLUICE_CONFIG_INVALID', retriable: false },
        );
    }
    const ends = await partitionBoundsOf(kafka, rekeyed.topics.source);
    await resetSide(
      kafka,
      rekeyed,
      {
        kind: 'offsets',
        offsets: new Map([...ends].map(([partition, bounds]) => [partition, bounds.high])),
      },
      logger,
    );
  }
  return resetSide(kafka, pipeline, target, logger);
}

async function resetSide(
  kafka: KafkaConnection,
  pipeline: MaintainedPipeline,
  target: ResetTarget,
  logger: Logger,
): Promise<PartitionReset[]> {
  const bounds = await partitionBoundsOf(kafka, pipeline.topics.source);
  const targets = await targetOffsets(kafka, pipeline.topics.source, bounds, target);
  const committed = await committedOffsetsOf(kafka, pipeline.groupId, pipeline.topics.source);
  const reports: PartitionReset[] = [];
  const definitions = Object.fromEntries(pipeline.windows.map((w) => [w.name, w.fingerprint]));
  const fresh = (to: bigint, interval: number): Checkpoint => ({
    offset: to,
    watermark: { value: Number.NEGATIVE_INFINITY, fromEvents: Number.NEGATIVE_INFINITY },
    interval,
    definitions,
    group: pipeline.groupId,
  });
  const withState = new Set(await changelogPartitions(kafka, pipeline));
  const partitions = [...targets.keys()];
  await rewritePartitions(
    kafka,
    pipeline,
    partitions.filter((p) => withState.has(p)),
    { commitOffsets: true, logger },
    (partition, state) => {
      const to = targets.get(partition)!;
      const records = new Map<string, Buffer | string | null>();
      for (const key of state?.records.keys() ?? []) if (isStateKey(key)) records.set(key, null);
      records.set(CHECKPOINT_KEY, encodeCheckpoint(fresh(to, state?.checkpoint?.interval ?? 0)));
      reports.push({ partition, from: committed.get(partition), to, windowsDropped: records.size - 1 });
      return { records, offset: to };
    },
  );
  // Partitions without a changelog partition yet (the pipeline never wrote state): only the offset moves.
  const stateless = partitions.filter((p) => !withState.has(p));
  if (stateless.length > 0) {
    await setGroupOffsets(
      kafka,
      pipeline.groupId,
      pipeline.topics.source,
      new Map(stateless.map((p) => [p, targets.get(p)!])),
    );
    for (const partition of stateless)
      reports.push({
        partition,
        from: committed.get(partition),
        to: targets.get(partition)!,
        windowsDropped: 0,
      });
  }
  return reports.sort((a, b) => a.partition - b.partition);
}

async function targetOffsets(
  kafka: KafkaConnection,
  topic: string,
  bounds: ReadonlyMap<number, { low: bigint; high: bigint }>,
  target: ResetTarget,
): Promise<Map<number, bigint>> {
  if (target.kind === 'earliest') return new Map([...bounds].map(([p, b]) => [p, b.low]));
  if (target.kind === 'datetime') return offsetsAt(kafka, topic, target.ms);
  for (const [partition, offset] of target.offsets) {
    const bound = bounds.get(partition);
    if (!bound)
      throw new SluiceError(
        `--to-offsets: topic ${topic} has no partition ${partition} (it has ${bounds.size})`,
        {
          code: 'SLUICE_CONFIG_INVALID',
          retriable: false,
        },
      );
    if (offset < bound.low || offset > bound.high)
      throw new SluiceError(
        `--to-offsets: offset ${offset} of partition ${partition} is outside what ${topic} holds (${bound.low} to ${bound.high})`,
        { code: 'SLUICE_CONFIG_INVALID', retriable: false },
      );
  }
  return new Map(target.offsets);
}

/** The source partitions whose changelog partition exists (none when the changelog topic does not). */
async function changelogPartitions(kafka: KafkaConnection, pipeline: MaintainedPipeline): Promise<number[]> {
  const count = await partitionCountOf(kafka, pipeline.topics.changelog);
  return count === undefined ? [] : Array.from({ length: count }, (_, p) => p);
}
