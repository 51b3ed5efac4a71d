// Runs a pipeline as one member of its consumer group. On assignment it fences the partitions' previous
// owners and restores their window state from the changelog before their first record; it hands
// fetched batches to each partition's worker under its buffer bounds, pauses partitions for
// backpressure, a failing sink, a restore or the user, hands closed windows to its sinks, and every
// commit interval makes a partition's state and offset durable together (the state in one
// transaction; the offset in it under exactly-once, right after it under at-least-once). Drain, stop
// and revoke commit what they can within the shutdown deadline.
import { setTimeout as sleep } from 'node:timers/promises';
import type { MetricObjectWithValues, MetricValue } from 'prom-client';
import type { Endpoints } from '../config/endpoints.js';
import { SluiceBugError, SluiceError, messageOf } from '../errors.js';
import type { Logger } from '../ops/logger.js';
import type { PipelineMetrics } from '../ops/metrics.js';
import { SinkSet, type SinkControls } from '../sinks/sink-set.js';
import { SideTopicWriter } from '../source/side-topic-writer.js';
import { GroupConsumer, type FetchedBatch } from '../source/group-consumer.js';
import { checkKafka, createKafka, type KafkaConnection } from '../source/kafka-client.js';
import { isFenced } from '../source/kafka-errors.js';
import { PartitionTransactions } from '../source/partition-transactions.js';
import { idempotentProducer } from '../source/record-producer.js';
import { TransactionOutbox } from '../source/transaction-outbox.js';
import { packBoundsOf } from '../source/repartition-packing.js';
import { partitionCountOf } from '../source/topic-admin.js';
import { PartitionEnds } from '../source/partition-ends.js';
import { readCommittedFixed } from '../source/kafkajs-fix.js';
import type { CompiledPipeline } from './compiled-pipeline.js';
import { MemberStatus, type PartitionStatus, type PipelineStatus } from './member-status.js';
import { PartitionFlushing } from './partition-flushing.js';
import { PartitionPauses } from './partition-pauses.js';
import type { CheckpointedWorker } from './partition-checkpoint.js';
import { PartitionRestorer } from './partition-restorer.js';
import { PartitionWorker, partitionWindowsOf } from './partition-worker.js';
import { IdleEvidence, sampling } from './idle-evidence.js';
import type { RestoredPartition } from '../state/changelog-codec.js';
import type { RebuiltWindows } from '../windows/partition-windows.js';
import { SideOutputs } from './side-outputs.js';

export type { PartitionStatus, PipelineStatus, StageStatus } from './member-status.js';

const TICK_MS = 200;
/**
 * Fetches answer within maxWaitTimeInMs (500 ms) even when there is nothing to read; this long
 * without an answer means the broker is out of reach, not that the partitions are quiet.
 */
const FETCH_STALL_MS = 3_000;

export type MetricObject = MetricObjectWithValues<MetricValue<string>>;

export interface RunningPipeline {
  /** Per-partition counters of the partitions this member owns now. */
  status(): PartitionStatus[];
  /** The same, plus restores in progress. */
  pipelineStatus(): PipelineStatus;
  /** Joined its group and every assigned partition's state restored: ready for traffic (readiness). */
  isReady(): boolean;
  /**
   * False when a partition holding uncommitted records has not committed for
   * `processing.stalledAfterIntervals` commit intervals (liveness: a restart may help), with why.
   */
  health(): { healthy: boolean; reason?: string };
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

/** One member of one consumer group: a pipeline's source side, or the side computing its re-keyed windows. */
export class PipelineRunner implements RunningPipeline {
  readonly done: Promise<void>;
  private settle!: { resolve: () => void; reject: (error: Error) => void };
  private readonly kafka: KafkaConnection;
  readonly sinks: SinkSet;
  private readonly sideTopics: SideTopicWriter;
  private readonly sideOutputs: SideOutputs;
  private readonly outbox: TransactionOutbox | undefined;
  private readonly consumer: GroupConsumer;
  private readonly committer: PartitionTransactions;
  private readonly pauses: PartitionPauses;
  private readonly topic: string;
  private readonly workers = new Map<number, PartitionWorker>();
  private readonly flushing: PartitionFlushing;
  private readonly restorer: PartitionRestorer;
  private joined = false;
  /** When a fetch last came back: silence counts as idleness only while fetches do. */
  private lastFetchAt = Date.now();
  /** Each partition's log end, sampled for it: its silence counts as idleness only on that evidence. */
  private readonly idleEvidence: IdleEvidence;
  private readonly partitionEnds: PartitionEnds;
  private readonly memberStatus: MemberStatus;
  private assigned = new Set<number>();
  /** Bumped by every assignment; per partition, the one since which it has been ours without a break. */
  private assignment = 0;
  private readonly assignedSince = new Map<number, number>();
  /** The member id of the last join: a new one means the group had dropped this member meanwhile. */
  private memberId: string | undefined;
  private userPaused = false;
  private ticker: NodeJS.Timeout | undefined;
  private stopping: Promise<void> | undefined;
  private partitionCount: number | undefined;

  constructor(
    private readonly pipeline: CompiledPipeline,
    private readonly endpoints: Endpoints,
    private readonly logger: Logger,
    private readonly metricsRegistry: PipelineMetrics,
  ) {
    this.topic = pipeline.topics.source;
    this.kafka = createKafka(endpoints.brokers, pipeline.source.clientId, logger);
    this.consumer = new GroupConsumer(this.kafka, {
      groupId: pipeline.groupId,
      topic: this.topic,
      sessionTimeout: pipeline.source.sessionTimeout,
      heartbeatInterval: pipeline.source.heartbeatInterval,
      fromBeginning: pipeline.source.fromBeginning,
    });
    this.committer = new PartitionTransactions(
      this.kafka,
      {
        pipeline: pipeline.name,
        sourceTopic: this.topic,
        changelogTopic: pipeline.topics.changelog,
        groupId: pipeline.groupId,
        exactlyOnce: pipeline.exactlyOnce,
        // Every topic but the changelogs (compacted, each written by its own producers) may hold records
        // of this side's transactions.
        sweepTopics: pipeline.topicsToCreate
          .filter((t) => t.retentionMs !== undefined || t.brokerDefaults === true)
          .map((t) => t.topic),
      },
      (partition, offset) => this.consumer.commitOffset(partition, offset),
      logger,
    );
    this.pauses = new PartitionPauses(this.consumer, logger);
    const { everyMs, maxAgeMs } = sampling(pipeline.windows.time.idleTimeout);
    this.idleEvidence = new IdleEvidence(maxAgeMs);
    this.partitionEnds = new PartitionEnds(
      this.kafka,
      this.topic,
      everyMs,
      (ends, at) => this.idleEvidence.sampled(ends, at),
      logger,
    );
    this.memberStatus = new MemberStatus(this.workers, this.pauses, pipeline.backpressure);
    const status = this.memberStatus;
    metricsRegistry.observe({
      partitions: () => status.partitions(),
      releasedTotals: () => status.releasedTotals(),
      stages: () => status.stages(),
      sinks: () =>
        this.sinks.sinks.map((sink) => ({
          sink: sink.name,
          buffered: Object.values(sink.sizes()).reduce((a, b) => a + b, 0),
          circuitOpen: sink.circuitOpen,
        })),
    });
    this.sideTopics = new SideTopicWriter(this.kafka, endpoints.brokers, logger);
    // Exactly-once: the Kafka sink's rows and the partitions' side records go in the commit transaction.
    // Under exactly-once every record Sluice writes rides in the commit transaction; under either, the
    // repartition topic's do (they are what the offsets of their source records stand for).
    const repartition = pipeline.repartition;
    this.outbox =
      pipeline.exactlyOnce || repartition
        ? new TransactionOutbox(
            repartition && {
              topic: repartition.topic,
              partitions: () => repartition.partitions,
              bounds: packBoundsOf(pipeline.backpressure),
            },
          )
        : undefined;
    const transactional = pipeline.exactlyOnce ? this.outbox : undefined;
    this.sideOutputs = new SideOutputs(pipeline.name, pipeline.topics, this.sideTopics, transactional);
    this.sinks = new SinkSet(
      pipeline.sinks,
      endpoints.clickhouse,
      () => idempotentProducer(this.kafka),
      {
        metrics: this.metricsRegistry.sinkMetrics(),
        logger,
        deadLetter: (sink, rows, group, error, reason) =>
          this.sideOutputs.sinkRows(sink, rows, group, error, reason),
        circuit: () => this.applySinkCircuit(),
      },
      transactional,
    );
    this.restorer = new PartitionRestorer(
      this.kafka,
      pipeline.topics,
      this.committer,
      this.sinks,
      this.pauses,
      metricsRegistry,
      logger,
      {
        assignedSince: (partition) => this.assignedSince.get(partition),
        isAssigned: (partition) => this.assigned.has(partition),
        stopping: () => this.stopping !== undefined,
        windowsFor: () => partitionWindowsOf(this.pipeline),
        restored: (partition, state, rewindTo, windows) => {
          if (rewindTo !== undefined) this.consumer.seek(partition, rewindTo);
          this.startWorker(partition, state, windows);
        },
        abort: (error) => this.abort(error),
      },
      pipeline.sinks.clickhouse.enabled && pipeline.sinks.clickhouse.onExhausted === 'dead-letter',
      {
        pipeline: pipeline.name,
        changelogTopic: pipeline.topics.changelog,
        groupId: pipeline.groupId,
        windows: pipeline.windows.windows,
        exactlyOnce: pipeline.exactlyOnce,
      },
    );
    this.flushing = new PartitionFlushing(
      this.sinks,
      this.committer,
      this.outbox,
      pipeline.commitIntervalMs,
      metricsRegistry,
      logger,
      {
        owns: (worker) => this.workers.get(worker.partition) === worker,
        recover: (worker, error) => this.recover(worker.partition, worker, error),
      },
    );
    this.done = new Promise((resolve, reject) => (this.settle = { resolve, reject }));
    // An abort is reported through `done`; callers that only await stop() must not see an unhandled rejection.
    this.done.catch(() => undefined);
  }

  async start(): Promise<void> {
    if (!readCommittedFixed) {
      const why =
        "kafkajs' read_committed filter could not be fixed (this kafkajs is not the 2.2.4 Sluice was built " +
        'for): records of aborted transactions in a topic several transactional producers share would be read';
      if (this.pipeline.exactlyOnce)
        throw new SluiceError(
          `refusing to start under exactly-once: ${why}. Install the kafkajs version in Sluice's package.json, ` +
            'or set processing.guarantee: at-least-once.',
          { code: 'SLUICE_CONFIG_INVALID', retriable: false },
        );
      this.logger.warn(`${why}.`);
    }
    await checkKafka(this.endpoints.brokers);
    await this.sinks.check();
    const partitions = await this.countSourcePartitions();
    this.partitionCount = partitions;
    await this.sideTopics.connect(this.pipeline.topicsToCreate.map((t) => ({ ...t, partitions })));
    const repartition = this.pipeline.repartition;
    if (repartition) {
      // Created above with the source's partition count, or there already: markers go to each it has.
      repartition.partitions = (await partitionCountOf(this.kafka, repartition.topic)) ?? partitions;
      if (repartition.partitions !== partitions)
        this.logger.warn(
          { topic: repartition.topic, partitions: repartition.partitions, source: partitions },
          'the repartition topic has another partition count than the source; re-keyed windows are computed in its partitions',
        );
    }
    await this.sinks.prepare();

    await this.consumer.start(
      {
        assigned: (partitions, memberId) => this.onAssignment(partitions, memberId),
        // Before kafkajs rejoins (and partitions may move), sink what has closed and commit it, still
        // under the old generation, so the next owner replays as little as possible.
        rebalancing: () => {
          this.metricsRegistry.rebalances.inc();
          this.logger.info('group rebalancing; flushing and committing owned partitions');
          void this.tick(true);
        },
        fetched: () => (this.lastFetchAt = Date.now()),
        // On a transactional topic the end is always a marker: this is how a partition learns it has
        // read to the end.
        skipped: (partition, lastOffset, highWatermark) =>
          this.workers.get(partition)?.skippedTo(lastOffset, highWatermark),
        // kafkajs restarts its consumer after retriable failures; any other crash stops the pipeline,
        // so the process exits and its supervisor restarts it from the last commit.
        crashed: (error, restarting) => {
          if (restarting) return;
          this.abort(
            new SluiceError(`the Kafka consumer stopped: ${messageOf(error)}`, {
              code: 'SLUICE_KAFKA_UNAVAILABLE',
              retriable: true,
              cause: error,
            }),
          );
        },
        batch: (batch) => this.onBatch(batch),
      },
      Math.max(1, Math.min(partitions, 16)),
    );
    this.partitionEnds.start();
    this.ticker = setInterval(() => void this.tick(false), TICK_MS);
    this.logger.info(
      {
        topic: this.topic,
        brokers: this.endpoints.brokers,
        clickhouse: this.endpoints.clickhouse?.url ?? 'disabled',
        guarantee: this.pipeline.exactlyOnce ? 'exactly-once' : 'at-least-once',
      },
      'pipeline started',
    );
  }

  private async countSourcePartitions(): Promise<number> {
    const partitions = await partitionCountOf(this.kafka, this.topic);
    if (partitions === undefined) throw new SourceTopicMissingError(this.topic, this.endpoints.brokers);
    return partitions;
  }

  status(): PartitionStatus[] {
    return this.memberStatus.partitionStatus();
  }

  pipelineStatus(): PipelineStatus {
    return this.memberStatus.pipelineStatus({
      partitions: [...this.restorer.restoring],
      progress: { ...this.restorer.progress },
    });
  }

  health(): { healthy: boolean; reason?: string } {
    const now = Date.now();
    const stalled = [...this.workers.values()].filter(
      (w) =>
        w.hasUncommittedWork() &&
        !this.pauses.of(w.partition).includes('sink') &&
        now - (this.flushing.lastCommitAt(w.partition) ?? now) > this.pipeline.stalledAfterMs,
    );
    if (stalled.length === 0) return { healthy: true };
    return {
      healthy: false,
      reason:
        `partitions ${stalled.map((w) => w.partition).join(', ')} hold uncommitted records and have not ` +
        `committed for over ${this.pipeline.stalledAfterMs / 1000} s`,
    };
  }

  isReady(): boolean {
    return this.joined && this.restorer.restoring.size === 0 && !this.stopping;
  }

  metrics(): Promise<string> {
    return this.metricsRegistry.registry.metrics();
  }

  /** The registry behind metrics(): a re-keyed pipeline renders both sides' together. */
  get registry(): PipelineMetrics['registry'] {
    return this.metricsRegistry.registry;
  }

  /** The source topic's partition count, known once started. */
  get sourcePartitions(): number | undefined {
    return this.partitionCount;
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
    const deadline = this.pipeline.shutdownTimeoutMs;
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
    await this.consumer.stop();
    await this.partitionEnds.stop();
    await this.committer.closeAll();
    await this.sideTopics.close().catch(() => undefined);
    await this.sinks.close();
    await this.pipeline.close().catch(() => undefined);
    this.logger.info('pipeline stopped');
    if (error) this.settle.reject(error);
    else this.settle.resolve();
  }

  private abort(error: Error): void {
    if (this.stopping) return;
    this.logger.error({ err: error.message }, 'pipeline aborted');
    this.stopping = this.shutdown(error);
  }

  private onAssignment(partitions: readonly number[], memberId: string): void {
    this.joined = true;
    this.assignment += 1;
    // Evicted and back (a long GC pause, a network cut): other members may have owned and committed
    // our partitions meanwhile, so what we hold is stale; every partition is restored afresh.
    const evicted = this.memberId !== undefined && memberId !== this.memberId;
    this.memberId = memberId;
    this.assigned = new Set(partitions);
    for (const partition of [...this.assignedSince.keys()])
      if (!this.assigned.has(partition) || evicted) this.assignedSince.delete(partition);
    for (const partition of this.assigned)
      if (!this.assignedSince.has(partition)) this.assignedSince.set(partition, this.assignment);
    // A revoked partition's uncommitted work is abandoned: its new owner restores the last committed
    // state and replays from the committed offset. Retained partitions keep their state and skip what
    // kafkajs fetches again.
    for (const partition of [...this.workers.keys()])
      if (!this.assigned.has(partition) || evicted) this.release(partition);
    const fresh = [...this.assigned].filter((p) => !this.workers.has(p) && !this.restorer.restoring.has(p));
    if (this.userPaused) this.pause();
    this.pauses.reapply();
    this.logger.info(
      { partitions: [...this.assigned], restoring: fresh, ...(evicted ? { evicted } : {}) },
      'partitions assigned',
    );
    if (fresh.length > 0) void this.restorer.restore(fresh);
  }

  private release(partition: number): void {
    this.dropWorker(partition);
    this.pauses.forget(partition);
    void this.committer.close(partition);
  }

  /** The partition's worker and everything pending for it go; its counters stay in the totals. */
  private dropWorker(partition: number): PartitionWorker | undefined {
    const worker = this.workers.get(partition);
    if (worker) this.memberStatus.release(worker);
    worker?.close();
    this.workers.delete(partition);
    this.flushing.remove(partition);
    this.outbox?.forget(partition);
    return worker;
  }

  /**
   * A commit failed (at any step: begin, send, offsets, commit, abort; fenced or not): the partition
   * goes back to its last durable checkpoint. Its worker is dropped, a new producer fences the old
   * one (and aborts its transaction), the state is read back from the changelog, and the partition is
   * read again from the checkpoint's offset. Other partitions carry on.
   */
  private recover(partition: number, failed: CheckpointedWorker, error: unknown): void {
    const worker = this.workers.get(partition);
    // A released worker's commit failing says nothing of the partition's current worker (restored since,
    // with a producer of its own).
    if (!worker || worker !== failed || this.stopping) return;
    this.metricsRegistry.partitionRecoveries.inc();
    this.logger.warn(
      { partition, err: messageOf(error), fenced: isFenced(error) },
      'commit failed; restoring the partition from its last checkpoint with a new producer',
    );
    const from = worker.startOffset;
    this.dropWorker(partition);
    this.pauses.add(partition, 'restore');
    // Fenced: another member may own the partition now, and this one not know it yet. Restoring at once
    // would fence that owner in turn; a few heartbeats let a rebalance tell us first (and revoke it).
    const since = this.assignedSince.get(partition);
    const wait = isFenced(error) ? 2 * this.pipeline.source.heartbeatInterval : 0;
    setTimeout(() => {
      if (this.stopping || this.assignedSince.get(partition) !== since) return;
      // A rebalance meanwhile may have started its restore already.
      if (this.workers.has(partition) || this.restorer.restoring.has(partition)) return;
      void this.restorer.restore([partition], new Map([[partition, from]]));
    }, wait).unref();
  }

  private startWorker(
    partition: number,
    state: RestoredPartition | undefined,
    windows: RebuiltWindows<Buffer> | undefined,
  ): void {
    const worker = this.createWorker(partition, state, windows);
    this.workers.set(partition, worker);
    this.flushing.add(worker);
    this.pauses.remove(partition, 'restore');
    if (this.sinks.circuitOpen) this.pauses.add(partition, 'sink');
  }

  private createWorker(
    partition: number,
    restored: RestoredPartition | undefined,
    windows: RebuiltWindows<Buffer> | undefined,
  ): PartitionWorker {
    const logger = this.logger.child({ topic: this.topic, partition });
    return new PartitionWorker(
      this.topic,
      partition,
      this.pipeline,
      logger,
      {
        deadLetter: (failure) => this.sideOutputs.deadLetter(partition, failure),
        overflow: (origin) => this.sideOutputs.overflow(partition, origin),
        late: (event) => this.sideOutputs.late(partition, event),
        keyCapped: (event) => this.sideOutputs.keyCapped(partition, event),
        abort: (error) => this.abort(error),
        repartition: (records) => {
          const topic = this.pipeline.repartition?.topic;
          if (!topic || !this.outbox)
            throw new SluiceBugError('a repartition record without a repartition topic');
          for (const record of records) this.outbox.add(partition, topic, record);
        },
        // Counts per stage are read from the workers at scrape time; only the histogram needs each item.
        stageObserved: (stage, _outcome, ms) =>
          this.metricsRegistry.stageSeconds.observe({ stage }, ms / 1000),
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
      windows,
    );
  }

  private async onBatch(batch: FetchedBatch): Promise<void> {
    if (!batch.current() || this.stopping) return;
    const worker = this.workers.get(batch.partition);
    // Not ours, or still restoring: nothing is resolved, so kafkajs fetches these again later.
    if (!worker || !this.assigned.has(batch.partition)) return;
    let taken: number;
    try {
      taken = worker.accept(batch.records, batch.highWatermark, batch.lastOffset);
    } catch (error) {
      // A bug, not bad input (that is dead-lettered): the state may be half-updated, so stop uncommitted.
      this.abort(error instanceof Error ? error : new SluiceBugError(String(error), error));
      return;
    }
    // Only what the worker took is resolved; the rest is fetched again once the partition resumes.
    const last = batch.records[taken - 1];
    if (last) batch.resolve(last.offset);
    if (taken < batch.records.length) this.pauses.add(batch.partition, 'backpressure');
    this.applyBackpressure(worker);
    await batch.heartbeat();
    void this.flushing.flush(worker, false);
  }

  private applyBackpressure(worker: PartitionWorker): void {
    const action = worker.decideBackpressure();
    if (action === 'pause') this.pauses.add(worker.partition, 'backpressure');
    if (action === 'resume') this.pauses.remove(worker.partition, 'backpressure');
  }

  private async tick(forceCommit: boolean): Promise<void> {
    // Silence is idleness only where the partition's own log end, fetched for it, says it was read to
    // the end (answers from its other brokers say nothing of it). Fetches that stopped coming back, or a
    // paused partition (a sink down, say), are no quiet log either. Idleness then needs a full
    // idleTimeout of confirmed silence again.
    const now = Date.now();
    const stalled = now - this.lastFetchAt > FETCH_STALL_MS;
    await Promise.all(
      [...this.workers.values()].map(async (worker) => {
        const { partition } = worker;
        const quiet = this.idleEvidence.confirmsQuiet(partition, worker.readPosition(), now);
        if (stalled || !quiet || this.pauses.of(partition).length > 0) worker.notFetching();
        await this.flushing.flush(worker, forceCommit);
        this.applyBackpressure(worker);
      }),
    );
  }

  /** A sink's circuit opened or closed: every partition pauses while any is open. */
  private applySinkCircuit(): void {
    const open = this.sinks.circuitOpen;
    for (const partition of this.assigned) {
      if (open) this.pauses.add(partition, 'sink');
      else this.pauses.remove(partition, 'sink');
    }
  }
}
