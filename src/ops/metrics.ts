// The pipeline's Prometheus metrics, in a registry of its own (two pipelines in one process do not
// collide). The operations work serves them over HTTP; `RunningPipeline.metrics()` renders them now.
import { Counter, Gauge, Registry } from 'prom-client';

export class PipelineMetrics {
  readonly registry = new Registry();
  /** Changelog records read back while restoring partitions. */
  readonly restoreRecords: Counter;
  /** Share (0..1) of the current restore already read; 1 when nothing is being restored. */
  readonly restoreProgress: Gauge;
  /** Partitions assigned but still being restored. */
  readonly restoringPartitions: Gauge;
  readonly restoreSeconds: Gauge;

  constructor(pipeline: string) {
    this.registry.setDefaultLabels({ pipeline });
    this.restoreRecords = new Counter({
      name: 'sluice_restore_records_total',
      help: 'Changelog records read back while restoring window state.',
      registers: [this.registry],
    });
    this.restoreProgress = new Gauge({
      name: 'sluice_restore_progress_ratio',
      help: 'Share of the current state restore already read (1 when none is running).',
      registers: [this.registry],
    });
    this.restoringPartitions = new Gauge({
      name: 'sluice_restoring_partitions',
      help: 'Partitions assigned to this member whose state is still being restored.',
      registers: [this.registry],
    });
    this.restoreSeconds = new Gauge({
      name: 'sluice_restore_duration_seconds',
      help: 'How long the last state restore took.',
      registers: [this.registry],
    });
    this.restoreProgress.set(1);
  }
}
