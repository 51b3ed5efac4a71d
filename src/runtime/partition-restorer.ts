// Brings partitions' window state back before their records flow: a new transactional producer per
// partition (whose epoch fences every earlier owner and aborts its open transaction), the changelog
// read to its end, and the sinks' rows of intervals that never committed withdrawn. Used on
// assignment and when a failed commit sends a partition back to its last checkpoint. Progress is
// shown in /status and the metrics; readiness waits for it.
import { setTimeout as sleep } from 'node:timers/promises';
import type { PipelineTopics } from '../config/pipeline-topics.js';
import { SluiceError, messageOf } from '../errors.js';
import type { Logger } from '../ops/logger.js';
import type { PipelineMetrics } from '../ops/metrics.js';
import type { SinkSet } from '../sinks/sink-set.js';
import { readChangelog, type RestoreProgress } from '../source/changelog-reader.js';
import type { KafkaConnection } from '../source/kafka-client.js';
import type { PartitionTransactions } from '../source/partition-transactions.js';
import type { RestoredPartition } from '../state/changelog-codec.js';
import type { PartitionWindows, RebuiltWindows } from '../windows/partition-windows.js';
import type { PartitionPauses } from './partition-pauses.js';
import { committedOffsetsOf } from '../source/topic-admin.js';
import {
  OffsetBehindCheckpointError,
  checkRestoredState,
  type StateCheckContext,
} from './restored-state-check.js';

/** Tries at withdrawing when the sinks give rows up, before the partitions go on without it. */
const WITHDRAW_ATTEMPTS_GIVING_UP = 3;

/** Attempts at restoring partitions (with backoff, about a minute in all) before the pipeline stops. */
const RESTORE_ATTEMPTS = 8;

/** What the restorer asks of, and tells, the member that owns the partitions. */
export interface RestorerHooks {
  /** The assignment since which the partition has been ours without a break; undefined when not ours. */
  assignedSince(partition: number): number | undefined;
  isAssigned(partition: number): boolean;
  stopping(): boolean;
  /** Empty windows for a partition, rebuilt from its changelog as it is read. */
  windowsFor(partition: number): PartitionWindows<Buffer>;
  /**
   * The partition's state is back: start its worker on the rebuilt windows; `rewindTo` moves its
   * consumer back first.
   */
  restored(
    partition: number,
    state: RestoredPartition | undefined,
    rewindTo: bigint | undefined,
    windows: RebuiltWindows<Buffer> | undefined,
  ): void;
  /** Kafka stayed out of reach: the pipeline stops. */
  abort(error: Error): void;
}

export class PartitionRestorer {
  /** Partitions being restored. */
  readonly restoring = new Set<number>();
  progress: RestoreProgress = { read: 0, total: 0 };

  constructor(
    private readonly kafka: KafkaConnection,
    private readonly topics: PipelineTopics,
    private readonly committer: PartitionTransactions,
    private readonly sinks: SinkSet,
    private readonly pauses: PartitionPauses,
    private readonly metrics: PipelineMetrics,
    private readonly logger: Logger,
    private readonly hooks: RestorerHooks,
    /** The sinks give up on rows they cannot write (onExhausted: dead-letter) instead of waiting. */
    private readonly sinksGiveUp: boolean,
    /** What restored state must fit (restored-state-check.ts). */
    private readonly stateCheck: Omit<StateCheckContext, 'committed'>,
  ) {}

  /** Removed windows already warned about (once per process). */
  private readonly warnedRemoved = new Set<string>();

  /**
   * Fences the partitions' previous owners (a new producer each), reads their state back, then lets
   * their records in. `rewind` (a recovery) also moves the consumer back to the restored checkpoint
   * (else to the given offset, where the dropped worker began). A partition revoked meanwhile has its
   * producer closed; one revoked and assigned again is restored again (someone else may have had it).
   * Kafka out of reach: retried with backoff, then the pipeline stops (its supervisor restarts it).
   */
  async restore(partitions: number[], rewind?: ReadonlyMap<number, bigint | undefined>): Promise<void> {
    const since = new Map(partitions.map((p) => [p, this.hooks.assignedSince(p)]));
    for (const partition of partitions) {
      this.restoring.add(partition);
      this.pauses.add(partition, 'restore');
    }
    const metrics = this.metrics;
    metrics.restoringPartitions.set(this.restoring.size);
    metrics.restoreProgress.set(0);
    const started = Date.now();
    for (let attempt = 1; ; attempt += 1) {
      try {
        const { restored, rebuilt, committed: first } = await this.readBack(partitions);
        if (this.hooks.stopping()) return;
        const { committed, check } = await this.checkState(restored, first);
        if (check.refusal) {
          // Before anything is withdrawn or processed: the state stays as it was for the fix.
          partitions.forEach((p) => this.restoring.delete(p));
          await Promise.all(partitions.map((p) => this.committer.close(p)));
          this.hooks.abort(check.refusal);
          return;
        }
        this.warnRemoved(check.removed);
        for (const [partition, at] of check.resumeAtCheckpoint)
          this.logger.warn(
            {
              partition,
              committed: at.committed.toString(),
              checkpoint: at.checkpoint.toString(),
              changelog: this.topics.changelog,
            },
            "the group's committed offset came from a transaction that Kafka completed without ending it in " +
              'the changelog (its state was aborted): the partition resumes at the checkpoint, so the ' +
              'records in between are counted',
          );
        if (this.hooks.stopping()) return;
        await this.withdraw(restored);
        if (this.hooks.stopping()) return;
        const again: number[] = [];
        for (const partition of partitions) {
          this.restoring.delete(partition);
          // Revoked meanwhile (its producer was closed, or opening it was called off): not ours now.
          if (this.hooks.assignedSince(partition) !== since.get(partition) || !restored.has(partition)) {
            void this.committer.close(partition);
            if (this.hooks.isAssigned(partition)) again.push(partition);
            continue;
          }
          const state = restored.get(partition);
          // A recovery goes back to the checkpoint; so does an assignment whose group has no committed
          // offset (expired, or lost) while the state has a checkpoint: the consumer would start elsewhere.
          // So does one whose committed offset came from an attempt that never landed in the changelog.
          const offset = rewind?.has(partition)
            ? (state?.checkpoint?.offset ?? rewind.get(partition))
            : committed.get(partition) === undefined || check.resumeAtCheckpoint.has(partition)
              ? state?.checkpoint?.offset
              : undefined;
          this.hooks.restored(partition, state, offset, rebuilt.get(partition));
        }
        metrics.restoringPartitions.set(this.restoring.size);
        metrics.restoreProgress.set(1);
        metrics.restoreSeconds.set((Date.now() - started) / 1000);
        this.logger.info(
          {
            partitions,
            records: this.progress.read,
            ms: Date.now() - started,
            // Where each partition goes on from: what an operator compares with the group's offsets.
            checkpoints: Object.fromEntries(
              [...restored].map(([p, state]) => [p, state?.checkpoint?.offset.toString() ?? null]),
            ),
          },
          'state restored from the changelog',
        );
        if (again.length > 0) void this.restore(again);
        return;
      } catch (error) {
        if (this.hooks.stopping()) return;
        if (attempt >= RESTORE_ATTEMPTS) {
          partitions.forEach((p) => this.restoring.delete(p));
          this.hooks.abort(
            new SluiceError(
              `restoring partitions ${partitions.join(', ')} from the changelog failed ${attempt} times: ${messageOf(error)}`,
              { code: 'SLUICE_KAFKA_UNAVAILABLE', retriable: true, cause: error },
            ),
          );
          return;
        }
        this.logger.warn({ partitions, attempt, err: messageOf(error) }, 'restore failed; retrying');
        await sleep(Math.min(10_000, 500 * 2 ** attempt));
      }
    }
  }

  /**
   * The restored state against the pipeline and the group's offsets. An offset behind the checkpoint is
   * asked again a few times first: the offset a just-fenced transaction committed may take a moment to
   * show in the group coordinator's answer.
   */
  private async checkState(
    restored: ReadonlyMap<number, RestoredPartition | undefined>,
    first: Map<number, bigint | undefined>,
  ) {
    for (let attempt = 1; ; attempt += 1) {
      const committed = attempt === 1 ? first : await this.committedOffsets();
      const check = checkRestoredState(restored, { ...this.stateCheck, committed });
      if (!(check.refusal instanceof OffsetBehindCheckpointError) || attempt >= 3)
        return { committed, check };
      await sleep(1_000);
    }
  }

  private warnRemoved(removed: ReadonlyMap<string, number[]>): void {
    for (const [name, partitions] of removed) {
      if (this.warnedRemoved.has(name)) continue;
      this.warnedRemoved.add(name);
      this.logger.warn(
        { window: name, partitions, changelog: this.topics.changelog },
        `window ${name} was removed from the pipeline; its state stays in the changelog until dropped: stop ` +
          `every member and run \`sluice state drop-window ${name} --config <file>\``,
      );
    }
  }

  /**
   * Rows the sinks got in intervals after each restored checkpoint were written by an attempt that
   * never committed: they go before the partitions resume, so a replay that computes something else
   * leaves nothing of the attempt behind.
   */
  /**
   * Withdraws with the sinks' own patience: while ClickHouse is down the partitions wait (as they do for
   * rows), for as long as it takes; a sink that gives rows up (`onExhausted: dead-letter`) gives this
   * up too after a few tries, and says so (rows of an attempt that never committed may then remain).
   */
  private async withdraw(restored: ReadonlyMap<number, RestoredPartition | undefined>): Promise<void> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        await this.withdrawUncommitted(restored);
        return;
      } catch (error) {
        if (this.hooks.stopping()) return;
        const partitions = [...restored.keys()];
        if (this.sinksGiveUp && attempt >= WITHDRAW_ATTEMPTS_GIVING_UP) {
          this.logger.warn(
            { partitions, err: messageOf(error) },
            'could not withdraw the rows of commit intervals that never committed; the sink gives rows up ' +
              '(onExhausted: dead-letter), so the partitions go on and such rows may remain',
          );
          return;
        }
        this.logger.warn(
          { partitions, attempt, err: messageOf(error) },
          'withdrawing rows of commit intervals that never committed failed; the partitions wait and it is retried',
        );
        await sleep(Math.min(10_000, 500 * 2 ** Math.min(attempt, 5)));
      }
    }
  }

  private async withdrawUncommitted(
    restored: ReadonlyMap<number, RestoredPartition | undefined>,
  ): Promise<void> {
    const checkpoints = new Map([...restored].map(([p, state]) => [p, state?.checkpoint?.interval ?? 0]));
    const withdrawn = await this.sinks.withdraw(checkpoints);
    const rows = [...withdrawn.values()].reduce((a, b) => a + b, 0);
    if (rows === 0) return;
    this.metrics.withdrawnRows.inc(rows);
    this.logger.info(
      { partitions: [...checkpoints.keys()], rows, tables: Object.fromEntries(withdrawn) },
      'withdrew rows of commit intervals that never committed',
    );
  }

  private committedOffsets(): Promise<Map<number, bigint | undefined>> {
    return committedOffsetsOf(this.kafka, this.stateCheck.groupId, this.topics.source);
  }

  /**
   * A new producer per partition (fencing), then the changelog read to its end and, meanwhile, the
   * group's committed offsets (the fencing completed any transaction that was committing them).
   */
  private async readBack(partitions: readonly number[]): Promise<{
    restored: Map<number, RestoredPartition | undefined>;
    rebuilt: Map<number, RebuiltWindows<Buffer>>;
    committed: Map<number, bigint | undefined>;
  }> {
    const opened = await Promise.all(partitions.map((p) => this.committer.open(p)));
    const open = partitions.filter((_, i) => opened[i]);
    const committed = this.committedOffsets();
    // Awaited below, with the read; a failure of either fails this attempt (retried).
    committed.catch(() => undefined);
    let counted = 0;
    const metrics = this.metrics;
    // The windows are rebuilt as the records come: no copy of the changelog is held meanwhile.
    const rebuilt = new Map<number, RebuiltWindows<Buffer>>();
    const rebuild = (partition: number) => {
      const windows = this.hooks.windowsFor(partition);
      const rebuilding = { windows, rebuild: windows.rebuilding() };
      rebuilt.set(partition, rebuilding);
      return rebuilding.rebuild;
    };
    const restored: Map<number, RestoredPartition | undefined> = await readChangelog(
      this.kafka,
      this.topics.changelog,
      open,
      {
        sourceTopic: this.topics.source,
        rebuild,
        onProgress: (progress) => {
          this.progress = progress;
          metrics.restoreRecords.inc(progress.read - counted);
          counted = progress.read;
          metrics.restoreProgress.set(progress.total === 0 ? 1 : progress.read / progress.total);
        },
      },
    );
    return { restored, rebuilt, committed: await committed };
  }
}
