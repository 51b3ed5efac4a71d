// Moves each partition's closed windows to the sinks and commits the partition when its interval has
// passed: one flush at a time per partition (the tick and the batch handler both ask), each waiting
// until every sink has the rows, then the partition's checkpoint protocol (partition-checkpoint.ts).
// A failed commit is handed back to the member, which sends the partition back to its checkpoint.
import type { Logger } from '../ops/logger.js';
import type { PipelineMetrics } from '../ops/metrics.js';
import { BatchClosedError } from '../sinks/batcher.js';
import type { SinkSet } from '../sinks/sink-set.js';
import type { PartitionTransactions } from '../source/partition-transactions.js';
import type { TransactionOutbox } from '../source/transaction-outbox.js';
import type { WindowResult } from '../windows/window-result.js';
import {
  PartitionCheckpoint,
  type CheckpointEffects,
  type CheckpointedWorker,
} from './partition-checkpoint.js';
import type { PartitionWorker } from './partition-worker.js';

export interface FlushHooks {
  /** This member still owns the worker's partition, and this worker is its worker. */
  owns(worker: CheckpointedWorker): boolean;
  /** The worker's commit failed: its partition goes back to its last checkpoint (if still its worker's). */
  recover(worker: CheckpointedWorker, error: unknown): void;
}

export class PartitionFlushing {
  /** One flush per partition at a time: the tick and the batch handler both flush. */
  private readonly flushing = new Map<number, Promise<void>>();
  /** Partitions with a flush queued behind the running one: ticks do not pile up more. */
  private readonly flushQueued = new Set<number>();
  private readonly checkpoints = new Map<number, PartitionCheckpoint>();
  /** When each partition last committed (or started): for the stall check of /healthz. */
  private readonly lastCommit = new Map<number, number>();
  private readonly effects: CheckpointEffects;

  constructor(
    private readonly sinks: SinkSet,
    committer: PartitionTransactions,
    outbox: TransactionOutbox | undefined,
    private readonly commitIntervalMs: number,
    private readonly metrics: PipelineMetrics,
    private readonly logger: Logger,
    private readonly hooks: FlushHooks,
  ) {
    this.effects = {
      writeResults: (worker, results, now) => this.writeResults(worker, results, now),
      outputs: (partition) => outbox?.pendingFor(partition) ?? [],
      commit: async (partition, snapshot, outputs) => {
        // The fault suite kills a worker on this line: mid-transaction.
        logger.debug({ partition, offset: snapshot.offset.toString() }, 'committing');
        await committer.commit(partition, snapshot, outputs);
      },
      outputsPublished: (partition, count) => outbox?.published(partition, count),
      owns: (worker) => hooks.owns(worker),
    };
  }

  /** A partition's worker starts: its commits start counting from now. */
  add(worker: PartitionWorker): void {
    this.checkpoints.set(
      worker.partition,
      new PartitionCheckpoint(worker, this.effects, this.commitIntervalMs, Date.now),
    );
    this.lastCommit.set(worker.partition, Date.now());
  }

  remove(partition: number): void {
    this.checkpoints.delete(partition);
    this.lastCommit.delete(partition);
  }

  /** When the partition last committed, or its worker started. */
  lastCommitAt(partition: number): number | undefined {
    return this.lastCommit.get(partition);
  }

  /** Sinks the partition's closed windows and, when due, commits; serial per partition. */
  flush(worker: PartitionWorker, forceCommit: boolean): Promise<void> {
    const previous = this.flushing.get(worker.partition) ?? Promise.resolve();
    // A tick while one is already waiting adds nothing (a batch may hold the partition for maxWaitMs).
    if (!forceCommit && this.flushQueued.has(worker.partition)) return previous;
    this.flushQueued.add(worker.partition);
    const next = previous.then(async () => {
      this.flushQueued.delete(worker.partition);
      if (await this.sinkResults(worker)) await this.commitIfDue(worker, forceCommit);
    });
    this.flushing.set(worker.partition, next);
    return next;
  }

  /** Hands what closed to the sinks and waits until every sink has it (batched by size or age). */
  private async sinkResults(worker: PartitionWorker): Promise<boolean> {
    // A released worker's results are its next owner's to make (from the restored state): handing them
    // to the sinks now would put stale rows in the outbox of a partition that may come back here.
    if (!this.hooks.owns(worker)) return false;
    const results = worker.resultsToSink();
    if (results.length === 0) return true;
    return this.writeResults(worker, results);
  }

  /**
   * Resolves true once every sink has the results (or dead-lettered rows it refused); the worker then
   * lets go of them. While a sink fails it keeps retrying them: the partition waits, its results count
   * against its buffer, and an open circuit pauses the source. False when the sinks were closed.
   */
  private async writeResults(
    worker: CheckpointedWorker,
    results: readonly WindowResult[],
    now = false,
  ): Promise<boolean> {
    // Checked here, where the rows enter the sinks (synchronously), not only before: a worker released
    // while it waited at its barrier (a rebalance, an eviction, a recovery) must not hand rows over after
    // its partition's restore withdrew the rows of intervals that never committed. They would outlive it.
    if (!this.hooks.owns(worker)) return false;
    const written = this.sinks.write(results, worker.partition, worker.interval);
    if (now) void this.sinks.flush();
    try {
      await written;
    } catch (error) {
      if (error instanceof BatchClosedError) return false;
      throw error;
    }
    worker.sunk(results.length);
    return true;
  }

  /** Commits the partition when its interval has passed (or when forced); see PartitionCheckpoint. */
  private async commitIfDue(worker: PartitionWorker, force: boolean): Promise<void> {
    const checkpoint = this.checkpoints.get(worker.partition);
    if (!checkpoint || !this.hooks.owns(worker)) return;
    const timer = this.metrics.commitSeconds.startTimer();
    const outcome = await checkpoint.commitIfDue(force);
    if (outcome.kind === 'committed') {
      this.lastCommit.set(worker.partition, Date.now());
      timer();
      this.metrics.commits.inc();
      this.logger.debug(
        {
          partition: worker.partition,
          offset: outcome.snapshot.offset.toString(),
          records: outcome.snapshot.records.size,
          outputs: outcome.outputs,
        },
        'committed',
      );
    }
    if (outcome.kind !== 'failed') return;
    this.metrics.commitFailures.inc();
    this.hooks.recover(worker, outcome.error);
  }
}
