// Runs a pipeline as one member of its consumer group. On assignment it fences the partitions' previous
// owners and restores their window state from the changelog before their first record; it hands
// fetched batches to each partition's worker under its buffer bounds, pauses partitions for
// backpressure, a failing sink, a restore or the user, hands closed windows to its sinks, and every
// commit interval makes a partition's state and offset durable together (the state in one
// transaction; the offset in it under exactly-once, right after it under at-least-once). Drain, stop
// and revoke commit what they can within the shutdown deadline.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import type { MetricObjectWithValues, MetricValue } from 'prom-client';
import type { Endpoints } from '../config/endpoints.js';
import type { Pipeline } from '../config/schema.js';
import { SluiceBugError, SluiceError, messageOf } from '../errors.js';
import type { Logger } from '../ops/logger.js';
import { PipelineMetrics, type PartitionLevels, type RecordTotals } from '../ops/metrics.js';
import { BatchClosedError } from '../sinks/batcher.js';
import { SinkSet, type SinkControls } from '../sinks/sink-set.js';
import { SideTopicWriter } from '../sinks/side-topic-writer.js';
import { checkKafka, createKafka } from '../source/kafka-client.js';
import { readCommittedFixed } from '../source/kafkajs-fix.js';
import { createDecoder, type DecoderHandle } from '../stages/record-decoders.js';
import { prepareStages, type PreparedStages } from '../stages/builtin-stages.js';
import { readChangelog, type RestoreProgress } from '../state/changelog-reader.js';
import type { WindowCounters } from '../state/partition-windows.js';
import type { WindowResult } from '../state/window-store.js';
import type { BufferFill } from './backpressure.js';
import { PartitionCommitter, isFenced } from './partition-committer.js';
import { PartitionPauses, type PauseCounts, type PauseReason } from './partition-pauses.js';
import {
  PartitionWorker,
  emptyCounters,
  type StageStats,
  type PartitionCounters,
  type RestoredPartition,
} from './partition-worker.js';
import { SideOutputs, changelogTopicOf, pipelineTopics } from './side-outputs.js';
import { topicOffsets } from '../source/cluster-settling.js';

const TICK_MS = 200;
/**
 * Fetches answer within maxWaitTimeInMs (500 ms) even when there is nothing to read; this long
 * without an answer means the broker is out of reach, not that the partitions are quiet.
 */
const FETCH_STALL_MS = 3_000;

export interface PartitionStatus extends PartitionCounters, WindowCounters {
  partition: number;
  openWindows: number;
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
}

export type MetricObject = MetricObjectWithValues<MetricValue<string>>;

export interface RunningPipeline {
  /** Per-partition counters of the partitions this member owns now. */
  status(): PartitionStatus[];
  /** The same, plus restores in progress. */
  pipelineStatus(): PipelineStatus;
  /** Joined its group and every assigned partition's state restored: ready for traffic (readiness). */
  isReady(): boolean;
  /** The pipeline's metrics in the Prometheus text format. */
  metrics(): Promise<string>;
  /** The same data as /status and /metrics, as objects: for embedding Sluice in another service. */
  getMetrics(): Promise<{ status: PipelineStatus; ready: boolean; metrics: MetricObject[] }>;
  /** Stops fetching every partition; in-flight records still finish. */
  pause(): void;
  resume(): void;
  /** Pauses, finishes in-flight records, flushes, commits; stays paused (for deploys). */
  drain(): Promise<void>;
  /** The sinks' batch controls: flush (all or one table/topic), pause, resume, drain, sizes. */
  readonly sinks: SinkControls;
  /** Drains within the shutdown deadline, commits, and leaves the group. */
  stop(): Promise<void>;
  /** Resolves when the pipeline has stopped; rejects if a stage aborted it. */
  readonly done: Promise<void>;
}

export async function startPipeline(
  pipeline: Pipeline,
  endpoints: Endpoints,
  logger: Logger,
): Promise<RunningPipeline> {
  const runner = new PipelineRunner(pipeline, endpoints, logger);
  await runner.start();
  return runner;
}

class SourceTopicMissingError extends SluiceError {
  constructor(topic: string, brokers: readonly string[]) {
    super(
      `source topic ${topic} does not exist on ${brokers.join(', ')}. Create it with the partition count you want ` +
        '(the changelog gets as many), e.g. `kafka-topics.sh --create --topic ' +
        `${topic} --partitions 8\`; \`sluice demo\` creates user-events for you.`,
      { code: 'SLUICE_CONFIG_INVALID', retriable: false },
    );
  }
}

class PipelineRunner implements RunningPipeline {
  readonly done: Promise<void>;
  private settle!: { resolve: () => void; reject: (error: Error) => void };
  private readonly kafka: Kafka;
  readonly sinks: SinkSet;
  private readonly sideTopics: SideTopicWriter;
  private readonly sideOutputs: SideOutputs;
  private readonly decoder: DecoderHandle;
  private stages: PreparedStages | undefined;
  private readonly consumer: Consumer;
  private readonly committer: PartitionCommitter;
  private readonly pauses: PartitionPauses;
  private readonly topic: string;
  private readonly workers = new Map<number, PartitionWorker>();
  /** One flush per partition at a time: the tick and the batch handler both flush. */
  private readonly flushing = new Map<number, Promise<void>>();
  /** Partitions with a flush queued behind the running one: ticks do not pile up more. */
  private readonly flushQueued = new Set<number>();
  private readonly lastCommitAt = new Map<number, number>();
  private readonly restoring = new Set<number>();
  private restoreProgress: RestoreProgress = { read: 0, total: 0 };
  private joined = false;
  /** When a fetch last came back: silence counts as idleness only while fetches do. */
  private lastFetchAt = Date.now();
  /** Counters of the partitions this member gave up, so pipeline totals never go down. */
  private readonly released: RecordTotals = emptyCounters();
  private readonly releasedStages = new Map<string, StageStats>();
  private readonly metricsRegistry: PipelineMetrics;
  private assigned = new Set<number>();
  private userPaused = false;
  private ticker: NodeJS.Timeout | undefined;
  private stopping: Promise<void> | undefined;

  constructor(
    private readonly pipeline: Pipeline,
    private readonly endpoints: Endpoints,
    private readonly logger: Logger,
  ) {
    this.topic = pipeline.source.topic;
    this.kafka = createKafka(endpoints.brokers, pipeline.source.clientId, logger);
    const groupId = pipeline.source.groupId ?? `sluice-${pipeline.name}`;
    this.consumer = this.kafka.consumer({
      groupId,
      sessionTimeout: pipeline.source.sessionTimeout,
      heartbeatInterval: pipeline.source.heartbeatInterval,
      // kafkajs sleeps this long when every partition is paused (restores, backpressure), and waits this
      // long for data: short, so a resumed partition and a stop are prompt.
      maxWaitTimeInMs: 500,
    });
    this.committer = new PartitionCommitter(
      this.kafka,
      this.consumer,
      {
        pipeline: pipeline.name,
        sourceTopic: this.topic,
        changelogTopic: changelogTopicOf(pipeline),
        groupId,
        exactlyOnce: pipeline.processing.guarantee === 'exactly-once',
      },
      logger,
    );
    this.pauses = new PartitionPauses(this.consumer, this.topic, logger);
    this.metricsRegistry = new PipelineMetrics(pipeline.name, {
      partitions: () => this.partitionLevels(),
      releasedTotals: () => this.released,
      stages: () => this.stageTotals(),
      sinks: () =>
        this.sinks.sinks.map((sink) => ({
          sink: sink.name,
          buffered: Object.values(sink.sizes()).reduce((a, b) => a + b, 0),
          circuitOpen: sink.circuitOpen,
        })),
    });
    // One decoder for every partition: Avro schemas (and the registry's cache) are shared.
    this.decoder = createDecoder(pipeline, { baseDir: process.cwd(), logger });
    this.sideTopics = new SideTopicWriter(this.kafka, logger);
    this.sideOutputs = new SideOutputs(pipeline, this.sideTopics);
    this.sinks = new SinkSet(pipeline, endpoints.clickhouse, this.kafka, {
      metrics: this.metricsRegistry.sinkMetrics(),
      logger,
      deadLetter: (sink, rows, group, error, reason) =>
        this.sideOutputs.sinkRows(sink, rows, group, error, reason),
      circuit: () => this.applySinkCircuit(),
    });
    this.done = new Promise((resolve, reject) => (this.settle = { resolve, reject }));
    // An abort is reported through `done`; callers that only await stop() must not see an unhandled rejection.
    this.done.catch(() => undefined);
  }

  async start(): Promise<void> {
    if (!readCommittedFixed)
      this.logger.warn(
        'kafkajs was loaded before sluice, so its read_committed filter could not be fixed: records of ' +
          'aborted transactions in a topic several transactional producers share may be read. Import sluice first.',
      );
    await checkKafka(this.endpoints.brokers);
    await this.sinks.check();
    const partitions = await this.sourcePartitions();
    await this.sideTopics.connect(pipelineTopics(this.pipeline, partitions));
    await this.sinks.prepare();
    this.stages = await prepareStages(this.pipeline, this.endpoints, {
      baseDir: process.cwd(),
      observedLookup: (stage, result) => this.metricsRegistry.lookups.inc({ stage, result }),
    });

    this.consumer.on(this.consumer.events.GROUP_JOIN, ({ payload }) =>
      this.onAssignment(payload.memberAssignment),
    );
    // Before kafkajs rejoins (and partitions may move), sink what has closed and commit it, still
    // under the old generation, so the next owner replays as little as possible.
    this.consumer.on(this.consumer.events.REBALANCING, () => {
      this.metricsRegistry.rebalances.inc();
      this.logger.info('group rebalancing; flushing and committing owned partitions');
      void this.tick(true);
    });
    this.consumer.on(this.consumer.events.FETCH, () => (this.lastFetchAt = Date.now()));
    // Fetches of only transaction markers (or aborted records) never reach eachBatch: this is how a
    // partition learns it has read to the end of a transactional topic.
    this.consumer.on(this.consumer.events.END_BATCH_PROCESS, ({ payload }) => {
      if (payload.topic !== this.topic || payload.batchSize !== 0) return;
      this.workers
        .get(payload.partition)
        ?.skippedTo(BigInt(payload.lastOffset), BigInt(payload.highWatermark));
    });
    // kafkajs restarts its consumer after retriable failures; any other crash stops the pipeline, so
    // the process exits and its supervisor restarts it from the last commit.
    this.consumer.on(this.consumer.events.CRASH, ({ payload }) => {
      if (payload.restart) return;
      this.abort(
        new SluiceError(`the Kafka consumer stopped: ${messageOf(payload.error)}`, {
          code: 'SLUICE_KAFKA_UNAVAILABLE',
          retriable: true,
          cause: payload.error,
        }),
      );
    });
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: this.topic, fromBeginning: this.pipeline.source.fromBeginning });
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: Math.max(1, Math.min(partitions, 16)),
      eachBatch: (payload) => this.onBatch(payload),
    });
    this.ticker = setInterval(() => void this.tick(false), TICK_MS);
    this.logger.info(
      {
        topic: this.topic,
        brokers: this.endpoints.brokers,
        clickhouse: this.endpoints.clickhouse?.url ?? 'disabled',
        guarantee: this.pipeline.processing.guarantee,
      },
      'pipeline started',
    );
  }

  private async sourcePartitions(): Promise<number> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const topics = await admin.listTopics();
      if (!topics.includes(this.topic)) throw new SourceTopicMissingError(this.topic, this.endpoints.brokers);
      return (await topicOffsets(admin, this.topic)).length;
    } finally {
      await admin.disconnect();
    }
  }

  status(): PartitionStatus[] {
    return [...this.workers.values()].map((w) => {
      const watermark = w.watermark();
      return {
        partition: w.partition,
        ...w.counters,
        openWindows: w.openWindows,
        stateBytes: w.stateBytes,
        ...w.windowCounters,
        buffer: w.fill(),
        peakBuffer: { ...w.peak },
        pausedFor: this.pauses.of(w.partition),
        pauses: this.pauses.countsOf(w.partition),
        watermark: Number.isFinite(watermark) ? watermark : null,
        committedOffset: w.committedOffset?.toString() ?? null,
        lag: w.lag() === undefined ? null : Number(w.lag()),
      };
    });
  }

  pipelineStatus(): PipelineStatus {
    const stages: Record<string, StageStatus> = {};
    for (const [stage, t] of this.stageTotals()) {
      const count = t.out + t.filtered + t.failed;
      stages[stage] = {
        processed: t.out,
        filtered: t.filtered,
        failed: t.failed,
        averageLatencyMs: count === 0 ? 0 : Math.round((t.totalMs / count) * 1000) / 1000,
      };
    }
    return {
      stages,
      partitions: this.status(),
      restoring: { partitions: [...this.restoring], progress: { ...this.restoreProgress } },
    };
  }

  private stageTotalsOf(worker: PartitionWorker): Map<string, StageStats> {
    const merged = new Map<string, StageStats>();
    for (const [stage, s] of worker.stageStats) {
      const before = this.releasedStages.get(stage) ?? { out: 0, filtered: 0, failed: 0, totalMs: 0 };
      merged.set(stage, {
        out: before.out + s.out,
        filtered: before.filtered + s.filtered,
        failed: before.failed + s.failed,
        totalMs: before.totalMs + s.totalMs,
      });
    }
    return merged;
  }

  /** Per stage, summed over the partitions this member owns and those it gave up (monotonic totals). */
  private stageTotals(): Map<string, StageStats> {
    const totals = new Map<string, StageStats>();
    const add = (stats: ReadonlyMap<string, StageStats>) => {
      for (const [stage, s] of stats) {
        const total = totals.get(stage) ?? { out: 0, filtered: 0, failed: 0, totalMs: 0 };
        total.out += s.out;
        total.filtered += s.filtered;
        total.failed += s.failed;
        total.totalMs += s.totalMs;
        totals.set(stage, total);
      }
    };
    add(this.releasedStages);
    for (const worker of this.workers.values()) add(worker.stageStats);
    return totals;
  }

  private partitionLevels(): PartitionLevels[] {
    const bounds = this.pipeline.backpressure;
    return [...this.workers.values()].map((w) => {
      const fill = w.fill();
      const watermark = w.watermark();
      return {
        partition: w.partition,
        ...w.counters,
        bufferRecords: fill.records,
        bufferBytes: fill.bytes,
        pressure: Math.max(fill.records / bounds.maxBufferSize, fill.bytes / bounds.maxBufferBytes),
        openWindows: w.openWindows,
        stateBytes: w.stateBytes,
        lag: w.lag() === undefined ? undefined : Number(w.lag()),
        watermark: Number.isFinite(watermark) ? watermark : null,
        pausedFor: this.pauses.of(w.partition),
      };
    });
  }

  isReady(): boolean {
    return this.joined && this.restoring.size === 0 && !this.stopping;
  }

  metrics(): Promise<string> {
    return this.metricsRegistry.registry.metrics();
  }

  async getMetrics(): Promise<{ status: PipelineStatus; ready: boolean; metrics: MetricObject[] }> {
    return {
      status: this.pipelineStatus(),
      ready: this.isReady(),
      metrics: await this.metricsRegistry.registry.getMetricsAsJSON(),
    };
  }

  pause(): void {
    this.userPaused = true;
    for (const partition of this.assigned) this.pauses.add(partition, 'user');
  }

  resume(): void {
    this.userPaused = false;
    for (const partition of this.assigned) this.pauses.remove(partition, 'user');
  }

  async drain(): Promise<void> {
    this.pause();
    await Promise.all([...this.workers.values()].map((w) => w.drained()));
    await this.tick(true);
  }

  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private async shutdown(error?: Error): Promise<void> {
    const deadline = this.pipeline.shutdown.timeout;
    // The deadline timer is cancelled once drained, so it does not hold the process open after stop.
    const timer = new AbortController();
    const drained = await Promise.race([
      this.drain().then(() => true),
      sleep(deadline, false, { signal: timer.signal }).catch(() => false),
    ]);
    timer.abort();
    if (!drained)
      this.logger.warn({ deadlineMs: deadline }, 'shutdown deadline reached; abandoning in-flight records');
    if (this.ticker) clearInterval(this.ticker);
    for (const worker of this.workers.values()) worker.close();
    await this.consumer.stop().catch(() => undefined);
    await this.consumer.disconnect().catch(() => undefined);
    await this.committer.closeAll();
    await this.sideTopics.close().catch(() => undefined);
    await this.sinks.close();
    await this.stages?.close().catch(() => undefined);
    this.logger.info('pipeline stopped');
    if (error) this.settle.reject(error);
    else this.settle.resolve();
  }

  private abort(error: Error): void {
    if (this.stopping) return;
    this.logger.error({ err: error.message }, 'pipeline aborted');
    this.stopping = this.shutdown(error);
  }

  private onAssignment(assignment: Record<string, number[]>): void {
    this.joined = true;
    this.assigned = new Set(assignment[this.topic] ?? []);
    // A revoked partition's uncommitted work is abandoned: its new owner restores the last committed
    // state and replays from the committed offset. Retained partitions keep their state and skip what
    // kafkajs fetches again.
    for (const partition of [...this.workers.keys()])
      if (!this.assigned.has(partition)) this.release(partition);
    const fresh = [...this.assigned].filter((p) => !this.workers.has(p) && !this.restoring.has(p));
    if (this.userPaused) this.pause();
    this.logger.info({ partitions: [...this.assigned], restoring: fresh }, 'partitions assigned');
    if (fresh.length > 0) void this.restore(fresh);
  }

  private release(partition: number): void {
    const worker = this.workers.get(partition);
    if (worker)
      for (const key of Object.keys(this.released) as (keyof RecordTotals)[])
        this.released[key] += worker.counters[key];
    if (worker) {
      // Fold the leaving partition's stage stats in, so totals never go down.
      for (const [stage, stats] of this.stageTotalsOf(worker)) this.releasedStages.set(stage, stats);
    }
    worker?.close();
    this.workers.delete(partition);
    this.pauses.forget(partition);
    this.sinks.forget(partition);
    this.lastCommitAt.delete(partition);
    void this.committer.close(partition);
  }

  /** Fences the partitions' previous owners, reads their state back, then lets their records in. */
  private async restore(partitions: number[]): Promise<void> {
    for (const partition of partitions) {
      this.restoring.add(partition);
      this.pauses.add(partition, 'restore');
    }
    const metrics = this.metricsRegistry;
    metrics.restoringPartitions.set(this.restoring.size);
    metrics.restoreProgress.set(0);
    let counted = 0;
    const started = Date.now();
    try {
      const opened = await Promise.all(partitions.map((p) => this.committer.open(p)));
      if (this.stopping) return;
      partitions = partitions.filter((p, i) => {
        if (!opened[i]) this.restoring.delete(p);
        return opened[i];
      });
      const restored = await readChangelog(this.kafka, changelogTopicOf(this.pipeline), partitions, {
        sourceTopic: this.topic,
        onProgress: (progress) => {
          this.restoreProgress = progress;
          metrics.restoreRecords.inc(progress.read - counted);
          counted = progress.read;
          metrics.restoreProgress.set(progress.total === 0 ? 1 : progress.read / progress.total);
        },
      });
      for (const partition of partitions) {
        this.restoring.delete(partition);
        if (!this.assigned.has(partition) || this.stopping) continue;
        this.workers.set(partition, this.createWorker(partition, restored.get(partition)));
        this.pauses.remove(partition, 'restore');
        if (this.sinks.circuitOpen) this.pauses.add(partition, 'sink');
      }
      metrics.restoringPartitions.set(this.restoring.size);
      metrics.restoreProgress.set(1);
      metrics.restoreSeconds.set((Date.now() - started) / 1000);
      this.logger.info(
        { partitions, records: this.restoreProgress.read, ms: Date.now() - started },
        'state restored from the changelog',
      );
    } catch (error) {
      partitions.forEach((p) => this.restoring.delete(p));
      this.abort(
        new SluiceError(
          `restoring partitions ${partitions.join(', ')} from the changelog failed: ${messageOf(error)}`,
          {
            code: 'SLUICE_KAFKA_UNAVAILABLE',
            retriable: true,
            cause: error,
          },
        ),
      );
    }
  }

  private createWorker(partition: number, restored: RestoredPartition | undefined): PartitionWorker {
    const logger = this.logger.child({ topic: this.topic, partition });
    return new PartitionWorker(
      this.topic,
      partition,
      // Enrichment stages as prepared processors, shared by every partition.
      { ...this.pipeline, stages: this.stages?.stages ?? this.pipeline.stages },
      logger,
      {
        deadLetter: (failure) => this.sideOutputs.deadLetter(partition, failure),
        overflow: (origin) => this.sideOutputs.overflow(partition, origin),
        late: (event) => this.sideOutputs.late(partition, event),
        abort: (error) => this.abort(error),
        // Counts per stage are read from the workers at scrape time; only the histogram needs each item.
        stageObserved: (stage, _outcome, ms) =>
          this.metricsRegistry.stageSeconds.observe({ stage }, ms / 1000),
        decode: (value) => this.decoder.decode(value),
        qualityViolation: (violation, offset) => {
          this.metricsRegistry.qualityViolations.inc({
            rule: violation.rule,
            field: violation.field,
            severity: violation.severity,
          });
          if (violation.severity === 'info')
            logger.info({ offset, violation: violation.message }, 'data-quality rule broken');
        },
      },
      Date.now,
      restored,
    );
  }

  private async onBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    if (!payload.isRunning() || payload.isStale() || this.stopping) return;
    const worker = this.workers.get(batch.partition);
    // Not ours, or still restoring: nothing is resolved, so kafkajs fetches these again later.
    if (!worker || !this.assigned.has(batch.partition)) return;
    let taken: number;
    try {
      taken = worker.accept(batch.messages, BigInt(batch.highWatermark), BigInt(batch.lastOffset()));
    } catch (error) {
      // A bug, not bad input (that is dead-lettered): the state may be half-updated, so stop uncommitted.
      this.abort(error instanceof Error ? error : new SluiceBugError(String(error), error));
      return;
    }
    // Only what the worker took is resolved; the rest is fetched again once the partition resumes.
    const last = batch.messages[taken - 1];
    if (last) payload.resolveOffset(last.offset);
    if (taken < batch.messages.length) this.pauses.add(batch.partition, 'backpressure');
    this.applyBackpressure(worker);
    await payload.heartbeat();
    void this.flush(worker, false);
  }

  private applyBackpressure(worker: PartitionWorker): void {
    const action = worker.decideBackpressure();
    if (action === 'pause') this.pauses.add(worker.partition, 'backpressure');
    if (action === 'resume') this.pauses.remove(worker.partition, 'backpressure');
  }

  private async tick(forceCommit: boolean): Promise<void> {
    // A broker that does not answer, or a paused partition (a sink down, say), is not a quiet log: no
    // partition may go idle meanwhile, and once it is read again idleness needs a full idleTimeout of
    // silence the broker confirmed.
    const stalled = Date.now() - this.lastFetchAt > FETCH_STALL_MS;
    await Promise.all(
      [...this.workers.values()].map(async (worker) => {
        if (stalled || this.pauses.of(worker.partition).length > 0) worker.notFetching();
        await this.flush(worker, forceCommit);
        this.applyBackpressure(worker);
      }),
    );
  }

  /** Sinks the partition's closed windows and, when due, commits; serial per partition. */
  private flush(worker: PartitionWorker, forceCommit: boolean): Promise<void> {
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
    if (this.workers.get(worker.partition) !== worker) return false;
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
    worker: PartitionWorker,
    results: readonly WindowResult[],
    now = false,
  ): Promise<boolean> {
    const written = this.sinks.write(results, worker.partition);
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

  /** A sink's circuit opened or closed: every partition pauses while any is open. */
  private applySinkCircuit(): void {
    const open = this.sinks.circuitOpen;
    for (const partition of this.assigned) {
      if (open) this.pauses.add(partition, 'sink');
      else this.pauses.remove(partition, 'sink');
    }
  }

  /**
   * Every commit interval (or when forced): at a barrier, the partition's changed windows and its
   * checkpoint go to the changelog in one transaction, with the offset under exactly-once (after it
   * under at-least-once).
   */
  private async commitIfDue(worker: PartitionWorker, force: boolean): Promise<void> {
    const last = this.lastCommitAt.get(worker.partition) ?? 0;
    if (!force && Date.now() - last < this.pipeline.processing.commitInterval) return;
    this.lastCommitAt.set(worker.partition, Date.now());
    await worker.quiesce();
    // Nothing changes while quiet: sink the last rows (a busy session window makes more all the time),
    // then snapshot a state that owes the sink nothing.
    const owed = worker.resultsBeforeSnapshot();
    if (owed.length > 0 && !(await this.writeResults(worker, owed, true))) {
      worker.release();
      return;
    }
    const snapshot = worker.snapshot();
    worker.release();
    // Never commit a partition this member no longer owns (or a worker already abandoned).
    if (!snapshot || this.workers.get(worker.partition) !== worker) return;
    const timer = this.metricsRegistry.commitSeconds.startTimer();
    try {
      const outputs = this.sinks.outputsFor(worker.partition);
      this.logger.debug({ partition: worker.partition, offset: snapshot.offset.toString() }, 'committing');
      await this.committer.commit(worker.partition, snapshot, outputs);
      timer();
      this.logger.debug(
        {
          partition: worker.partition,
          offset: snapshot.offset.toString(),
          records: snapshot.records.size,
          outputs: outputs.reduce((n, batch) => n + batch.messages.length, 0),
        },
        'committed',
      );
      this.metricsRegistry.commits.inc();
      worker.published(snapshot);
      this.sinks.outputsPublished(worker.partition, outputs.length);
    } catch (error) {
      this.metricsRegistry.commitFailures.inc();
      if (isFenced(error)) {
        this.logger.warn(
          { partition: worker.partition, err: messageOf(error) },
          'fenced by a newer owner; dropping the partition',
        );
        this.release(worker.partition);
        return;
      }
      // The snapshot's records stay unpublished and go out with the next commit.
      this.logger.warn(
        { partition: worker.partition, offset: snapshot.offset.toString(), err: messageOf(error) },
        'commit failed; retrying with the next one',
      );
    }
  }
}
