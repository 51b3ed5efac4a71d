// What this member reports about its partitions, assembled in one place for /status, getMetrics() and
// the Prometheus scrape: per-partition counters and levels read from the workers at call time, per
// stage totals, and the counters of partitions it gave up, folded in so pipeline totals never go down.
import type { BackpressureConfig } from '../config/schema.js';
import type { MetricsSource, PartitionLevels, RecordTotals } from '../ops/metrics.js';
import type { WindowCounters } from '../windows/partition-windows.js';
import type { RestoreProgress } from '../source/changelog-reader.js';
import type { BufferFill } from './backpressure.js';
import type { PartitionPauses, PauseCounts, PauseReason } from './partition-pauses.js';
import {
  emptyCounters,
  type PartitionCounters,
  type PartitionWorker,
  type StageStats,
} from './partition-worker.js';

export interface PartitionStatus extends PartitionCounters, WindowCounters {
  partition: number;
  openWindows: number;
  /** Windows that fired and are kept for their allowed lateness. */
  retainedWindows: number;
  /** Estimated bytes of the partition's window state. */
  stateBytes: number;
  buffer: BufferFill;
  peakBuffer: BufferFill;
  pausedFor: PauseReason[];
  /** How many times the partition was paused, by reason, since this member got it. */
  pauses: PauseCounts;
  watermark: number | null;
  /** The offset of the last commit (state and offset made durable together). */
  committedOffset: string | null;
  /** Records between this member's position and the partition's end as last fetched; null before a fetch. */
  lag: number | null;
}

export interface StageStatus {
  /** Items the stage let through, filtered out, or failed for good (after retries), on this member. */
  processed: number;
  filtered: number;
  failed: number;
  averageLatencyMs: number;
}

export interface PipelineStatus {
  /** Per stage (parse included), over the partitions this member owns. */
  stages: Record<string, StageStatus>;
  /** Partitions this member owns and has restored. */
  partitions: PartitionStatus[];
  /** Partitions assigned but still being restored from the changelog, with progress. */
  restoring: { partitions: number[]; progress: RestoreProgress };
  /** The member computing the pipeline's re-keyed windows (in this process), when it has any. */
  rekeyed?: PipelineStatus;
}

function noStats(): StageStats {
  return { out: 0, filtered: 0, failed: 0, totalMs: 0 };
}

function addStats(into: StageStats, s: StageStats): void {
  into.out += s.out;
  into.filtered += s.filtered;
  into.failed += s.failed;
  into.totalMs += s.totalMs;
}

export class MemberStatus implements Omit<MetricsSource, 'sinks'> {
  /** Counters of the partitions this member gave up. */
  private readonly released: RecordTotals = emptyCounters();
  private readonly releasedStages = new Map<string, StageStats>();

  constructor(
    private readonly workers: ReadonlyMap<number, PartitionWorker>,
    private readonly pauses: PartitionPauses,
    private readonly bounds: BackpressureConfig,
  ) {}

  /** The partition leaves this member: its counters join the released totals. */
  release(worker: PartitionWorker): void {
    for (const key of Object.keys(this.released) as (keyof RecordTotals)[])
      this.released[key] += worker.counters[key];
    for (const [stage, stats] of worker.stageStats) {
      const total = this.releasedStages.get(stage) ?? noStats();
      addStats(total, stats);
      this.releasedStages.set(stage, total);
    }
  }

  releasedTotals(): Readonly<RecordTotals> {
    return this.released;
  }

  /** Per stage, summed over the partitions this member owns and those it gave up (monotonic totals). */
  stages(): Map<string, StageStats> {
    const totals = new Map<string, StageStats>();
    const add = (stats: ReadonlyMap<string, StageStats>) => {
      for (const [stage, s] of stats) {
        const total = totals.get(stage) ?? noStats();
        addStats(total, s);
        totals.set(stage, total);
      }
    };
    add(this.releasedStages);
    for (const worker of this.workers.values()) add(worker.stageStats);
    return totals;
  }

  partitionStatus(): PartitionStatus[] {
    return [...this.workers.values()].map((w) => {
      const watermark = w.watermark();
      const lag = w.lag();
      return {
        partition: w.partition,
        ...w.counters,
        openWindows: w.openWindows,
        retainedWindows: w.retainedWindows,
        stateBytes: w.stateBytes,
        ...w.windowCounters,
        buffer: w.fill(),
        peakBuffer: { ...w.peak },
        pausedFor: this.pauses.of(w.partition),
        pauses: this.pauses.countsOf(w.partition),
        watermark: Number.isFinite(watermark) ? watermark : null,
        committedOffset: w.committedOffset?.toString() ?? null,
        lag: lag === undefined ? null : Number(lag),
      };
    });
  }

  pipelineStatus(restoring: { partitions: number[]; progress: RestoreProgress }): PipelineStatus {
    const stages: Record<string, StageStatus> = {};
    for (const [stage, t] of this.stages()) {
      const count = t.out + t.filtered + t.failed;
      stages[stage] = {
        processed: t.out,
        filtered: t.filtered,
        failed: t.failed,
        averageLatencyMs: count === 0 ? 0 : Math.round((t.totalMs / count) * 1000) / 1000,
      };
    }
    return { stages, partitions: this.partitionStatus(), restoring };
  }

  /** The levels the metrics read at scrape time. */
  partitions(): PartitionLevels[] {
    return [...this.workers.values()].map((w) => {
      const fill = w.fill();
      const watermark = w.watermark();
      const lag = w.lag();
      return {
        partition: w.partition,
        ...w.counters,
        bufferRecords: fill.records,
        bufferBytes: fill.bytes,
        pressure: Math.max(fill.records / this.bounds.maxBufferSize, fill.bytes / this.bounds.maxBufferBytes),
        openWindows: w.openWindows,
        retainedWindows: w.retainedWindows,
        stateBytes: w.stateBytes,
        lag: lag === undefined ? undefined : Number(lag),
        watermark: Number.isFinite(watermark) ? watermark : null,
        pausedFor: this.pauses.of(w.partition),
      };
    });
  }
}
