// The commit protocol of one partition, in one place. Every commit interval (or when forced) it
// quiesces the partition's worker, hands the sinks every row the snapshot must not leave behind, takes
// the snapshot, lets the worker go on, and makes the snapshot durable; then tells the worker it is.
// Invariants (DESIGN.md, "Offsets"):
//  1. A snapshot is taken only at a barrier: nothing in the stage chain, no side write pending, and
//     every result the windows produced acknowledged by every sink. So an offset is never committed
//     ahead of a row some sink has not got.
//  2. The snapshot's changelog records, the Kafka sink's rows and, under exactly-once, the offset are
//     made durable together by `commit` (one transaction); the state an offset covers is durable
//     before the offset is.
//  3. A commit that fails leaves the snapshot's records unpublished: the next commit carries them.
//  4. Nothing is committed, and no row handed to the sinks, for a partition this member no longer owns
//     (or whose worker it no longer is): its restore withdraws rows of uncommitted intervals, and a row
//     handed over after that would outlive the attempt.
// No Kafka or ClickHouse here: the sinks and the commit are injected, so the protocol is tested alone.
import type { OutputBatch } from '../sinks/kafka-sink.js';
import type { WindowResult } from '../windows/window-result.js';
import type { Snapshot } from './partition-worker.js';

/** What the protocol needs of a partition's worker (PartitionWorker). */
export interface CheckpointedWorker {
  readonly partition: number;
  /** The commit interval rows handed to the sinks now belong to. */
  readonly interval: number;
  /** Stops feeding the chain; resolves once nothing is in flight. */
  quiesce(): Promise<void>;
  /** At the barrier: every row the snapshot must not leave behind. */
  resultsBeforeSnapshot(): readonly WindowResult[];
  /** At the barrier: the changed state and checkpoint offset, or undefined when there is nothing to commit. */
  snapshot(): Snapshot | undefined;
  /** The sinks have the first `count` results handed out. */
  sunk(count: number): void;
  /** Ends the barrier: the chain is fed again. */
  release(): void;
  /** The snapshot is durable and its offset committed. */
  published(snapshot: Snapshot): void;
}

export interface CheckpointEffects {
  /**
   * Resolves true once every sink has the results (the worker has let go of them), false when the
   * sinks were closed meanwhile; `now` asks the sinks to write at once instead of on size or age.
   */
  writeResults(worker: CheckpointedWorker, results: readonly WindowResult[], now: boolean): Promise<boolean>;
  /** The Kafka sink's rows the partition's next commit carries (exactly-once output). */
  outputs(partition: number): OutputBatch[];
  /** Makes the snapshot and the outputs durable together; rejects when it could not. */
  commit(partition: number, snapshot: Snapshot, outputs: readonly OutputBatch[]): Promise<void>;
  /** The outputs handed to a successful commit went out. */
  outputsPublished(partition: number, count: number): void;
  /** This member still owns the partition and this worker is still its worker. */
  owns(worker: CheckpointedWorker): boolean;
}

export type CheckpointOutcome =
  /** The interval has not passed. */
  | { kind: 'not-due' }
  /** The sinks were closed, the partition left, or nothing changed since the last commit. */
  | { kind: 'skipped' }
  | { kind: 'committed'; snapshot: Snapshot; outputs: number }
  /** Nothing was published; the snapshot's records go out with the next commit. */
  | { kind: 'failed'; snapshot: Snapshot; error: unknown };

export class PartitionCheckpoint {
  private lastCommitAt = 0;

  constructor(
    private readonly worker: CheckpointedWorker,
    private readonly effects: CheckpointEffects,
    private readonly intervalMs: number,
    private readonly clock: () => number,
  ) {}

  /** Commits when the interval has passed since the last attempt, or when forced (rebalance, drain). */
  async commitIfDue(force: boolean): Promise<CheckpointOutcome> {
    const now = this.clock();
    if (!force && now - this.lastCommitAt < this.intervalMs) return { kind: 'not-due' };
    this.lastCommitAt = now;
    const worker = this.worker;
    await worker.quiesce();
    // Released while it quiesced (closing a worker ends its quiesce): its rows are not its to hand over.
    if (!this.effects.owns(worker)) {
      worker.release();
      return { kind: 'skipped' };
    }
    // Nothing changes while quiet: sink the last rows (a busy session window makes more all the time),
    // then snapshot a state that owes the sinks nothing.
    const owed = worker.resultsBeforeSnapshot();
    if (owed.length > 0 && !(await this.effects.writeResults(worker, owed, true))) {
      worker.release();
      return { kind: 'skipped' };
    }
    const snapshot = worker.snapshot();
    // Still at the barrier: the outputs are exactly those of the records the snapshot covers (once
    // released, the records after it may add more, which belong to the next transaction).
    const outputs = snapshot ? this.effects.outputs(worker.partition) : [];
    worker.release();
    if (!snapshot || !this.effects.owns(worker)) return { kind: 'skipped' };
    try {
      await this.effects.commit(worker.partition, snapshot, outputs);
    } catch (error) {
      return { kind: 'failed', snapshot, error };
    }
    worker.published(snapshot);
    // Released while committing (a rebalance, an eviction, a recovery): the outbox was emptied and now
    // holds the next worker's outputs, which this commit never carried; they must stay.
    if (this.effects.owns(worker)) this.effects.outputsPublished(worker.partition, outputs.length);
    return {
      kind: 'committed',
      snapshot,
      outputs: outputs.reduce((n, batch) => n + batch.messages.length, 0),
    };
  }
}
