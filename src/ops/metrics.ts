// The pipeline's Prometheus metrics, in a registry of its own (two pipelines in one process do not
// collide). Per-partition levels (buffer, windows, lag, pauses) are read from the pipeline's status at
// scrape time; totals that must never go down survive a partition leaving (they are pipeline-wide);
// events the status does not keep (sink batches, commits, rebalances, restores) are counted as they
// happen. Served by the operations endpoint as /metrics.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** What the metrics read at scrape time: the running pipeline's status. */
export interface MetricsSource {
  partitions(): readonly PartitionLevels[];
  /** Totals of partitions this member no longer owns, so counters stay monotonic. */
  releasedTotals(): Readonly<RecordTotals>;
  /** Items per stage and outcome, over every partition this member has owned. */
  stages(): ReadonlyMap<string, { out: number; filtered: number; failed: number }>;
  /** Per sink: rows buffered and whether its circuit is open. */
  sinks(): readonly { sink: string; buffered: number; circuitOpen: boolean }[];
}

/** A partition's record counters (and, summed, the pipeline's). */
export interface RecordTotals {
  fetched: number;
  completed: number;
  filtered: number;
  skipped: number;
  deadLettered: number;
  late: number;
  shed: number;
  /** Events dropped from, or put under `__other__` in, a window at its key cap. */
  keyCapped: number;
  /** Late events (per window definition) taken by a fired window kept for its allowed lateness. */
  lateUpdates: number;
  /** Re-keyed events that came a second time from their source partition, dropped (source-positions.ts). */
  replaysDropped: number;
}

/** Per-sink metrics, labelled by sink. */
export interface SinkMetrics {
  rows: Counter<'sink'>;
  batches: Counter<'sink'>;
  batchRows: Histogram<'sink'>;
  flushSeconds: Histogram<'sink'>;
  retries: Counter<'sink'>;
  failures: Counter<'sink'>;
  deadLetteredRows: Counter<'sink'>;
}

export interface PartitionLevels extends RecordTotals {
  partition: number;
  bufferRecords: number;
  bufferBytes: number;
  /** Fill against the tighter of the two bounds, 0..1 (can exceed 1 briefly under shedding). */
  pressure: number;
  openWindows: number;
  /** Windows that fired and are kept for their allowed lateness. */
  retainedWindows: number;
  stateBytes: number;
  lag: number | undefined;
  watermark: number | null;
  pausedFor: readonly string[];
}

const RECORD_TOTALS: [keyof RecordTotals, string, string][] = [
  ['fetched', 'sluice_records_fetched_total', 'Records fetched from the source topic.'],
  [
    'completed',
    'sluice_records_completed_total',
    'Records done with every stage (absorbed, filtered, skipped or dead-lettered).',
  ],
  ['filtered', 'sluice_records_filtered_total', 'Records a stage filtered out.'],
  ['skipped', 'sluice_records_skipped_total', 'Records skipped after a stage error (policy skip).'],
  ['deadLettered', 'sluice_dead_letters_total', 'Records sent to the dead-letter topic.'],
  [
    'late',
    'sluice_late_events_total',
    'Events that arrived after their window closed (sent to the late-events topic).',
  ],
  [
    'shed',
    'sluice_records_shed_total',
    'Records dropped or rejected to the overflow topic by a shedding backpressure strategy.',
  ],
  [
    'keyCapped',
    'sluice_window_key_cap_total',
    'Events dropped from (each to the dead-letter topic), or put under __other__ in, a window at its key cap.',
  ],
  [
    'lateUpdates',
    'sluice_late_updates_total',
    'Late events (per window definition) taken by a fired window kept for its allowed lateness; its row is written again.',
  ],
  [
    'replaysDropped',
    'sluice_rekeyed_replays_dropped_total',
    'Re-keyed events that came a second time from their source partition (a transaction Kafka completed without ending it in every partition), dropped: their first copies are counted.',
  ],
];

export class PipelineMetrics {
  readonly registry = new Registry();
  /** Changelog records read back while restoring partitions. */
  readonly restoreRecords: Counter;
  /** Share (0..1) of the current restore already read; 1 when nothing is being restored. */
  readonly restoreProgress: Gauge;
  /** Partitions assigned but still being restored. */
  readonly restoringPartitions: Gauge;
  readonly restoreSeconds: Gauge;
  readonly sinkRows: Counter<'sink'>;
  readonly sinkBatches: Counter<'sink'>;
  readonly sinkFailures: Counter<'sink'>;
  readonly sinkFlushSeconds: Histogram<'sink'>;
  readonly sinkBatchRows: Histogram<'sink'>;
  readonly sinkRetries: Counter<'sink'>;
  readonly sinkDeadLetteredRows: Counter<'sink'>;
  readonly commits: Counter;
  /** Partitions taken back to their last checkpoint after a failed commit. */
  readonly partitionRecoveries: Counter;
  /** Sink rows of intervals that never committed, withdrawn before a restored partition resumed. */
  readonly withdrawnRows: Counter;
  readonly commitFailures: Counter;
  readonly commitSeconds: Histogram;
  readonly rebalances: Counter;
  readonly qualityViolations: Counter<'rule' | 'field' | 'severity'>;
  readonly lookups: Counter<'stage' | 'result'>;
  readonly stageSeconds: Histogram<'stage'>;

  /** The per-sink metrics, as the sinks take them. */
  sinkMetrics(): SinkMetrics {
    return {
      rows: this.sinkRows,
      batches: this.sinkBatches,
      batchRows: this.sinkBatchRows,
      flushSeconds: this.sinkFlushSeconds,
      retries: this.sinkRetries,
      failures: this.sinkFailures,
      deadLetteredRows: this.sinkDeadLetteredRows,
    };
  }

  /**
   * `side` labels every series of the member that computes re-keyed windows (`rekeyed`); the source
   * side's series have none, as before re-keying.
   */
  constructor(pipeline: string, side?: string, source?: MetricsSource) {
    this.registry.setDefaultLabels({ pipeline, ...(side === undefined ? {} : { side }) });
    const registers = [this.registry];
    this.restoreRecords = new Counter({
      name: 'sluice_restore_records_total',
      help: 'Changelog records read back while restoring window state.',
      registers,
    });
    this.restoreProgress = new Gauge({
      name: 'sluice_restore_progress_ratio',
      help: 'Share of the current state restore already read (1 when none is running).',
      registers,
    });
    this.restoringPartitions = new Gauge({
      name: 'sluice_restoring_partitions',
      help: 'Partitions assigned to this member whose state is still being restored.',
      registers,
    });
    this.restoreSeconds = new Gauge({
      name: 'sluice_restore_duration_seconds',
      help: 'How long the last state restore took.',
      registers,
    });
    this.restoreProgress.set(1);
    this.qualityViolations = new Counter({
      name: 'sluice_quality_violations_total',
      help: 'Events that broke a data-quality rule, by rule, field and severity (error: dead-lettered; warning: flagged; info: logged).',
      labelNames: ['rule', 'field', 'severity'],
      registers,
    });
    this.lookups = new Counter({
      name: 'sluice_lookups_total',
      help: 'Lookups of enrichment stages: cache hits, misses (fetched), and keys the source does not have.',
      labelNames: ['stage', 'result'],
      registers,
    });
    this.sinkRows = new Counter({
      name: 'sluice_sink_rows_total',
      help: 'Rows a sink acknowledged.',
      labelNames: ['sink'],
      registers,
    });
    this.sinkBatches = new Counter({
      name: 'sluice_sink_batches_total',
      help: 'Batches a sink acknowledged.',
      labelNames: ['sink'],
      registers,
    });
    this.sinkFailures = new Counter({
      name: 'sluice_sink_failures_total',
      help: 'Writes to a sink that failed (each retried, or its rows dead-lettered).',
      labelNames: ['sink'],
      registers,
    });
    this.sinkFlushSeconds = new Histogram({
      name: 'sluice_sink_flush_duration_seconds',
      help: 'Time for a sink to acknowledge a batch.',
      labelNames: ['sink'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.sinkBatchRows = new Histogram({
      name: 'sluice_sink_batch_rows',
      help: 'Rows per batch a sink acknowledged.',
      labelNames: ['sink'],
      buckets: [1, 10, 100, 500, 1_000, 5_000, 10_000, 50_000, 100_000],
      registers,
    });
    this.sinkRetries = new Counter({
      name: 'sluice_sink_retries_total',
      help: 'Writes a sink tried again after a failure (backoff with jitter).',
      labelNames: ['sink'],
      registers,
    });
    this.sinkDeadLetteredRows = new Counter({
      name: 'sluice_sink_dead_lettered_rows_total',
      help: 'Result rows a sink refused (or gave up on) and sent to the dead-letter topic.',
      labelNames: ['sink'],
      registers,
    });
    this.commits = new Counter({
      name: 'sluice_commits_total',
      help: 'Commits: changed windows to the changelog and the offset, together.',
      registers,
    });
    this.partitionRecoveries = new Counter({
      name: 'sluice_partition_recoveries_total',
      help: 'Partitions restored from their last checkpoint with a new producer after a failed commit.',
      registers,
    });
    this.withdrawnRows = new Counter({
      name: 'sluice_withdrawn_rows_total',
      help: 'Result rows of commit intervals that never committed, withdrawn from the sinks before a restored partition resumed.',
      registers,
    });
    this.commitFailures = new Counter({
      name: 'sluice_commit_failures_total',
      help: 'Commits that failed (retried).',
      registers,
    });
    this.commitSeconds = new Histogram({
      name: 'sluice_commit_duration_seconds',
      help: 'Time for one commit (the transaction under exactly-once).',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.rebalances = new Counter({
      name: 'sluice_rebalances_total',
      help: 'Consumer group rebalances seen.',
      registers,
    });
    this.stageSeconds = new Histogram({
      name: 'sluice_stage_duration_seconds',
      help: 'Time an item spends in a stage, retries included.',
      labelNames: ['stage'],
      buckets: [0.00001, 0.0001, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
      registers,
    });
    if (source) this.observe(source);
  }

  /** Registers the gauges and totals read from the pipeline's status at scrape time. */
  observe(source: MetricsSource): void {
    const registers = [this.registry];
    new Gauge({
      name: 'sluice_sink_buffered_rows',
      help: 'Rows waiting in a sink for their batch to be written.',
      labelNames: ['sink'],
      registers,
      collect() {
        this.reset();
        for (const s of source.sinks()) this.set({ sink: s.sink }, s.buffered);
      },
    });
    new Gauge({
      name: 'sluice_sink_circuit_open',
      help: "1 while a sink's circuit breaker is open (the source is paused), else 0.",
      labelNames: ['sink'],
      registers,
      collect() {
        this.reset();
        for (const s of source.sinks()) this.set({ sink: s.sink }, s.circuitOpen ? 1 : 0);
      },
    });
    new Counter({
      name: 'sluice_stage_records_total',
      help: 'Items through each stage (parse included), by outcome: out, filtered or failed.',
      labelNames: ['stage', 'outcome'],
      registers,
      collect() {
        this.reset();
        for (const [stage, counts] of source.stages()) {
          for (const outcome of ['out', 'filtered', 'failed'] as const)
            this.inc({ stage, outcome }, counts[outcome]);
        }
      },
    });
    for (const [key, name, help] of RECORD_TOTALS) {
      new Counter({
        name,
        help,
        registers,
        collect() {
          const total = source.partitions().reduce((sum, p) => sum + p[key], source.releasedTotals()[key]);
          this.reset();
          this.inc(total);
        },
      });
    }
    const perPartition = (name: string, help: string, value: (p: PartitionLevels) => number | undefined) =>
      new Gauge({
        name,
        help,
        labelNames: ['partition'],
        registers,
        collect() {
          this.reset();
          for (const p of source.partitions()) {
            const v = value(p);
            if (v !== undefined) this.set({ partition: String(p.partition) }, v);
          }
        },
      });
    perPartition(
      'sluice_consumer_lag',
      'Records between the partition’s position and its end.',
      (p) => p.lag,
    );
    perPartition('sluice_buffer_records', 'Records between fetch and sink.', (p) => p.bufferRecords);
    perPartition(
      'sluice_buffer_bytes',
      'Bytes of record values between fetch and the windows.',
      (p) => p.bufferBytes,
    );
    perPartition('sluice_buffer_pressure_ratio', 'Buffer fill against its bound.', (p) => p.pressure);
    perPartition('sluice_open_windows', 'Windows open in memory.', (p) => p.openWindows);
    perPartition(
      'sluice_windows_retained',
      'Windows that fired and are kept in memory for their allowed lateness.',
      (p) => p.retainedWindows,
    );
    perPartition('sluice_state_bytes', 'Estimated bytes of window state.', (p) => p.stateBytes);
    perPartition('sluice_watermark_seconds', 'The partition’s event-time watermark (epoch seconds).', (p) =>
      p.watermark === null ? undefined : p.watermark / 1000,
    );
    new Gauge({
      name: 'sluice_paused_partitions',
      help: 'Partitions paused, by reason (one partition may have several).',
      labelNames: ['reason'],
      registers,
      collect() {
        this.reset();
        for (const reason of ['backpressure', 'sink', 'restore', 'user']) {
          this.set({ reason }, source.partitions().filter((p) => p.pausedFor.includes(reason)).length);
        }
      },
    });
  }
}

function labelText(labels: Readonly<Record<string, string | number>>): string {
  const entries = Object.entries(labels);
  if (entries.length === 0) return '';
  const escape = (v: string | number) =>
    String(v).replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('\n', '\\n');
  return `{${entries.map(([k, v]) => `${k}="${escape(v)}"`).join(',')}}`;
}

function valueText(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(value);
}

/**
 * Several registries as one Prometheus text exposition: each metric once (HELP, TYPE), with the series
 * of every registry under it. prom-client cannot merge registries holding the same metric names, and
 * the two sides of a re-keyed pipeline do (told apart by their `side` label).
 */
export async function renderMetrics(registries: readonly Registry[]): Promise<string> {
  const metrics = new Map<string, { help: string; type: string; lines: string[] }>();
  for (const registry of registries) {
    for (const metric of await registry.getMetricsAsJSON()) {
      const entry = metrics.get(metric.name) ?? { help: metric.help, type: String(metric.type), lines: [] };
      for (const v of metric.values as {
        metricName?: string;
        labels: Record<string, string | number>;
        value: number;
      }[])
        entry.lines.push(`${v.metricName ?? metric.name}${labelText(v.labels)} ${valueText(v.value)}`);
      metrics.set(metric.name, entry);
    }
  }
  const blocks = [...metrics].map(
    ([name, m]) =>
      `# HELP ${name} ${m.help.replaceAll('\\', '\\\\').replaceAll('\n', '\\n')}\n# TYPE ${name} ${m.type}\n${m.lines.join('\n')}`,
  );
  return `${blocks.join('\n')}\n`;
}
