// Before a restored partition's state is used: is it state this pipeline may take over? Refused (the
// pipeline stops, and says why and what to do) when a window changed meaning under the same name, when
// another consumer group wrote the changelog (two deployments under one pipeline name share it and the
// transactional ids), or when the group's committed offset was moved behind the checkpoint by another
// tool (the records in between would be skipped as counted). Windows removed from the pipeline are
// reported, to warn about. A committed offset ahead of the checkpoint that an aborted attempt of the
// changelog was checkpointing is reported too: the partition resumes at the checkpoint. Pure: the
// restorer reads the state and the offsets, and acts on the verdict.
import { SluiceError } from '../errors.js';
import { definitionChanges, type ChangedWindow } from '../windows/definition-changes.js';
import type { WindowDefinition } from '../windows/window-definition.js';
import type { RestoredPartition } from '../state/changelog-codec.js';

export interface StateCheckContext {
  pipeline: string;
  changelogTopic: string;
  groupId: string;
  windows: readonly Pick<WindowDefinition, 'name' | 'fingerprint'>[];
  /** Under exactly-once the checkpoint and the committed offset are written together. */
  exactlyOnce: boolean;
  /** The group's committed offset per partition (undefined: none committed). */
  committed: ReadonlyMap<number, bigint | undefined>;
}

export interface StateCheck {
  refusal?: SluiceError;
  /** Removed windows whose state is still in the changelog, with the partitions holding it. */
  removed: Map<string, number[]>;
  /**
   * Partitions whose committed offset came from a transaction that did not land in the changelog, so
   * the records between the checkpoint and it are in no state: they resume at the checkpoint.
   * Kafka can complete a transaction without ending it in every partition (orphaned-transactions.ts):
   * its offset commit then stands while its changelog records are aborted by the next restore's sweep.
   * Seen in the fault suite's broker freeze, as windows short of the events of one commit interval.
   */
  resumeAtCheckpoint: Map<number, { committed: bigint; checkpoint: bigint }>;
}

const WAYS_FORWARD =
  "Either give the changed window a new name (a new table and new state, computed from the group's " +
  "committed position on; drop the old name's state later with `sluice state drop-window`), or put the " +
  'old definition back, or reprocess: stop every member, run `sluice reset` (it rewinds the group and ' +
  'drops the state) and start again.';

export class WindowDefinitionChangedError extends SluiceError {
  constructor(
    readonly changed: readonly ChangedWindow[],
    where: string,
  ) {
    super(
      `refusing to restore ${where}: ${changed.length === 1 ? 'a window' : 'windows'} changed meaning under ` +
        `the same name, and its state would be read with the new meaning. ` +
        changed.map((c) => `Window ${c.name}: ${c.differences.join('; ')}.`).join(' ') +
        ` ${WAYS_FORWARD}`,
      { code: 'SLUICE_STATE_INVALID', retriable: false },
    );
  }
}

export class ChangelogOfAnotherGroupError extends SluiceError {
  constructor(context: StateCheckContext, partition: number, writer: string) {
    super(
      `refusing to restore partition ${partition} of changelog ${context.changelogTopic}: consumer group ` +
        `${writer} wrote it, and this member is in group ${context.groupId}. Two deployments under the ` +
        `pipeline name ${context.pipeline} share that changelog and their transactional ids, and would fence ` +
        `and overwrite each other. Give each deployment its own \`name\` (blue/green: a name per colour). ` +
        `If the pipeline moved to a new group on purpose, stop every member and run \`sluice reset\` for it first.`,
      { code: 'SLUICE_STATE_INVALID', retriable: false },
    );
  }
}

export class OffsetBehindCheckpointError extends SluiceError {
  constructor(context: StateCheckContext, partition: number, committed: bigint, checkpoint: bigint) {
    super(
      `refusing to restore partition ${partition}: group ${context.groupId} has offset ${committed} committed, ` +
        `behind the state's checkpoint at ${checkpoint} (changelog ${context.changelogTopic}). The offsets were ` +
        'moved back by another tool (kafka-consumer-groups --reset-offsets?); the records in between are ' +
        'already counted in the state and would be skipped, not recounted. To reprocess, stop every member ' +
        'and run `sluice reset` (it rewinds the group and drops the state it invalidates); to go on from the ' +
        `checkpoint, set the group's offset back to ${checkpoint}.`,
      { code: 'SLUICE_STATE_INVALID', retriable: false },
    );
  }
}

export function checkRestoredState(
  restored: ReadonlyMap<number, RestoredPartition | undefined>,
  context: StateCheckContext,
): StateCheck {
  const removed = new Map<string, number[]>();
  const resumeAtCheckpoint = new Map<number, { committed: bigint; checkpoint: bigint }>();
  for (const [partition, state] of restored) {
    const checkpoint = state?.checkpoint;
    if (!checkpoint) continue;
    if (checkpoint.group !== undefined && checkpoint.group !== context.groupId)
      return {
        refusal: new ChangelogOfAnotherGroupError(context, partition, checkpoint.group),
        removed,
        resumeAtCheckpoint,
      };
    if (checkpoint.definitions) {
      const changes = definitionChanges(checkpoint.definitions, context.windows);
      if (changes.changed.length > 0)
        return {
          refusal: new WindowDefinitionChangedError(
            changes.changed,
            `partition ${partition} from changelog ${context.changelogTopic}`,
          ),
          removed,
          resumeAtCheckpoint,
        };
      for (const name of changes.removed) removed.set(name, [...(removed.get(name) ?? []), partition]);
    }
    const committed = context.committed.get(partition);
    // Under at-least-once the checkpoint is legitimately ahead after a crash between its transaction
    // and the offset commit, so only exactly-once can tell a moved offset.
    if (context.exactlyOnce && committed !== undefined && committed < checkpoint.offset)
      return {
        refusal: new OffsetBehindCheckpointError(context, partition, committed, checkpoint.offset),
        removed,
        resumeAtCheckpoint,
      };
    // Ahead of the checkpoint: skipped on purpose by another tool (followed), unless an attempt whose
    // changelog records were aborted was checkpointing exactly that offset.
    if (
      committed !== undefined &&
      committed > checkpoint.offset &&
      state?.abortedCheckpoints?.has(committed) === true
    )
      resumeAtCheckpoint.set(partition, { committed, checkpoint: checkpoint.offset });
  }
  return { removed, resumeAtCheckpoint };
}
