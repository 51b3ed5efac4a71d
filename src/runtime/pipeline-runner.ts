// Runs a pipeline as one member of its consumer group: hands fetched batches to each partition's
// worker under its buffer bounds, pauses partitions for backpressure, a failing sink or the user,
// writes closed windows to ClickHouse, and commits a partition's offset only below what every sink and
// the dead-letter topic have acknowledged. Drain, stop and revoke finish or abandon in-flight work
// within the shutdown deadline.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import type { Endpoints } from '../config/endpoints.js';
import type { Pipeline } from '../config/schema.js';
import { messageOf } from '../errors.js';
import type { Logger } from '../ops/logger.js';
import { ClickHouseSink } from '../sinks/clickhouse-sink.js';
import { deadLetterMessage } from '../sinks/dead-letters.js';
import { SideTopicWriter } from '../sinks/side-topic-writer.js';
import { checkKafka, createKafka } from '../source/kafka-client.js';
import type { BufferFill } from './backpressure.js';
import type { WindowCounters } from '../state/partition-windows.js';
import { PartitionWorker, type LateEvent, type PartitionCounters } from './partition-worker.js';
import { sinkRetryDelay } from './sink-retry.js';
import type { Origin, StageFailure } from './stage-chain.js';

const TICK_MS = 200;

type PauseReason = 'backpressure' | 'sink' | 'user';

export interface PartitionStatus extends PartitionCounters, WindowCounters {
  partition: number;
  openWindows: number;
  /** Estimated bytes of the partition's window state. */
  stateBytes: number;
  buffer: BufferFill;
  peakBuffer: BufferFill;
  pausedFor: PauseReason[];
  /** How many times the partition was paused, by reason, since this member got it. */
  pauses: Record<PauseReason, number>;
  watermark: number | null;
}

export interface RunningPipeline {
  /** Per-partition counters of the partitions this member owns now. */
  status(): PartitionStatus[];
  /** Stops fetching every partition; in-flight records still finish. */
  pause(): void;
  resume(): void;
  /** Pauses, finishes in-flight records, flushes and commits; stays paused (for deploys). */
  drain(): Promise<void>;
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

export function deadLetterTopicOf(pipeline: Pipeline): string {
  return pipeline.deadLetter.topic ?? `${pipeline.source.topic}.dlq`;
}

function overflowTopicOf(pipeline: Pipeline): string {
  return pipeline.backpressure.overflowTopic ?? `${pipeline.source.topic}.overflow`;
}

export function lateTopicOf(pipeline: Pipeline): string {
  return pipeline.lateEvents.topic ?? `${pipeline.source.topic}.late`;
}

class PipelineRunner implements RunningPipeline {
  readonly done: Promise<void>;
  private settle!: { resolve: () => void; reject: (error: Error) => void };
  private readonly kafka: Kafka;
  private readonly sink: ClickHouseSink;
  private readonly sideTopics: SideTopicWriter;
  private readonly consumer: Consumer;
  private readonly topic: string;
  private readonly workers = new Map<number, PartitionWorker>();
  private readonly pauses = new Map<number, Set<PauseReason>>();
  private readonly pauseCounts = new Map<number, Record<PauseReason, number>>();
  /** One flush per partition at a time: the tick and the batch handler both flush. */
  private readonly flushing = new Map<number, Promise<void>>();
  /** Per partition: consecutive sink failures and when the next attempt may run. */
  private readonly sinkRetries = new Map<number, { failures: number; retryAt: number }>();
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
    this.consumer = this.kafka.consumer({
      groupId: pipeline.source.groupId ?? `sluice-${pipeline.name}`,
      sessionTimeout: pipeline.source.sessionTimeout,
      heartbeatInterval: pipeline.source.heartbeatInterval,
    });
    this.sink = new ClickHouseSink(endpoints.clickhouse, pipeline.name, pipeline.windows);
    this.sideTopics = new SideTopicWriter(this.kafka, logger);
    this.done = new Promise((resolve, reject) => (this.settle = { resolve, reject }));
    // An abort is reported through `done`; callers that only await stop() must not see an unhandled rejection.
    this.done.catch(() => undefined);
  }

  async start(): Promise<void> {
    await checkKafka(this.endpoints.brokers);
    await this.sink.prepare();
    const partitions = await this.sourcePartitions();
    const retentionMs = this.pipeline.deadLetter.retention;
    const sideTopics = [
      { topic: deadLetterTopicOf(this.pipeline), partitions, retentionMs },
      { topic: lateTopicOf(this.pipeline), partitions, retentionMs },
    ];
    if (this.pipeline.backpressure.strategy === 'reject')
      sideTopics.push({ topic: overflowTopicOf(this.pipeline), partitions, retentionMs });
    await this.sideTopics.connect(sideTopics);

    this.consumer.on(this.consumer.events.GROUP_JOIN, ({ payload }) =>
      this.onAssignment(payload.memberAssignment),
    );
    // Before kafkajs rejoins (and partitions may move), sink what has closed and commit it, still
    // under the old generation, so the next owner replays as little as possible.
    this.consumer.on(this.consumer.events.REBALANCING, () => {
      this.logger.info('group rebalancing; flushing and committing owned partitions');
      void this.tick();
    });
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: this.topic, fromBeginning: this.pipeline.source.fromBeginning });
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: Math.max(1, Math.min(partitions, 16)),
      eachBatch: (payload) => this.onBatch(payload),
    });
    this.ticker = setInterval(() => void this.tick(), TICK_MS);
    this.logger.info(
      { topic: this.topic, brokers: this.endpoints.brokers, clickhouse: this.endpoints.clickhouse.url },
      'pipeline started',
    );
  }

  private async sourcePartitions(): Promise<number> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const offsets = await admin.fetchTopicOffsets(this.topic).catch(() => []);
      return Math.max(1, offsets.length);
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
        pausedFor: [...(this.pauses.get(w.partition) ?? [])],
        pauses: { backpressure: 0, sink: 0, user: 0, ...this.pauseCounts.get(w.partition) },
        watermark: Number.isFinite(watermark) ? watermark : null,
      };
    });
  }

  pause(): void {
    this.userPaused = true;
    for (const partition of this.assigned) this.addPause(partition, 'user');
  }

  resume(): void {
    this.userPaused = false;
    for (const partition of this.assigned) this.removePause(partition, 'user');
  }

  async drain(): Promise<void> {
    this.pause();
    await Promise.all([...this.workers.values()].map((w) => w.drained()));
    await this.tick();
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
    await this.sideTopics.close().catch(() => undefined);
    await this.sink.close();
    this.logger.info('pipeline stopped');
    if (error) this.settle.reject(error);
    else this.settle.resolve();
  }

  private abort(error: Error): void {
    if (this.stopping) return;
    this.logger.error({ err: error.message }, 'pipeline aborted by a stage');
    this.stopping = this.shutdown(error);
  }

  private onAssignment(assignment: Record<string, number[]>): void {
    this.assigned = new Set(assignment[this.topic] ?? []);
    // A revoked partition's in-flight work is abandoned: nothing of it was committed, so its new owner
    // replays it. Retained partitions keep their state and skip what kafkajs fetches again.
    for (const [partition, worker] of this.workers) {
      if (!this.assigned.has(partition)) {
        worker.close();
        this.workers.delete(partition);
        this.pauses.delete(partition);
        this.pauseCounts.delete(partition);
        this.sinkRetries.delete(partition);
      }
    }
    if (this.userPaused) this.pause();
    this.logger.info({ partitions: [...this.assigned] }, 'partitions assigned');
  }

  private workerFor(partition: number): PartitionWorker {
    let worker = this.workers.get(partition);
    if (!worker) {
      const logger = this.logger.child({ topic: this.topic, partition });
      worker = new PartitionWorker(this.topic, partition, this.pipeline, logger, {
        deadLetter: (failure) => this.writeDeadLetter(partition, failure),
        overflow: (origin) => this.writeOverflow(partition, origin),
        late: (event) => this.writeLate(partition, event),
        abort: (error) => this.abort(error),
      });
      this.workers.set(partition, worker);
    }
    return worker;
  }

  private writeDeadLetter(partition: number, failure: StageFailure): Promise<void> {
    const message = deadLetterMessage(failure.origin.raw, {
      pipeline: this.pipeline.name,
      topic: this.topic,
      partition,
      stage: failure.stage,
      reason: 'stage-error',
      error: failure.error,
      attempts: failure.attempts,
      failedAtMs: Date.now(),
    });
    return this.sideTopics.write(deadLetterTopicOf(this.pipeline), message);
  }

  private writeOverflow(partition: number, origin: Origin): Promise<void> {
    const message = deadLetterMessage(origin.raw, {
      pipeline: this.pipeline.name,
      topic: this.topic,
      partition,
      stage: 'buffer',
      reason: 'overflow',
      attempts: 0,
      failedAtMs: Date.now(),
    });
    return this.sideTopics.write(overflowTopicOf(this.pipeline), message);
  }

  private writeLate(partition: number, event: LateEvent): Promise<void> {
    const message = deadLetterMessage(event.origin.raw, {
      pipeline: this.pipeline.name,
      topic: this.topic,
      partition,
      stage: 'window',
      reason: 'late',
      attempts: 0,
      failedAtMs: Date.now(),
      extra: {
        'sluice.late.windows': event.late.map((l) => l.definition).join(','),
        'sluice.late.by.ms': String(Math.max(...event.late.map((l) => l.byMs))),
        'sluice.event.time': new Date(event.eventTimeMs).toISOString(),
      },
    });
    return this.sideTopics.write(lateTopicOf(this.pipeline), message);
  }

  private async onBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    if (!payload.isRunning() || payload.isStale() || this.stopping) return;
    if (!this.assigned.has(batch.partition)) return;
    const worker = this.workerFor(batch.partition);
    const taken = worker.accept(batch.messages, BigInt(batch.highWatermark));
    // Only what the worker took is resolved; the rest is fetched again once the partition resumes.
    const last = batch.messages[taken - 1];
    if (last) payload.resolveOffset(last.offset);
    if (taken < batch.messages.length) this.addPause(batch.partition, 'backpressure');
    this.applyBackpressure(worker);
    await payload.heartbeat();
    void this.flush(worker);
  }

  private applyBackpressure(worker: PartitionWorker): void {
    const action = worker.decideBackpressure();
    if (action === 'pause') this.addPause(worker.partition, 'backpressure');
    if (action === 'resume') this.removePause(worker.partition, 'backpressure');
  }

  private addPause(partition: number, reason: PauseReason): void {
    let reasons = this.pauses.get(partition);
    if (!reasons) this.pauses.set(partition, (reasons = new Set()));
    if (reasons.has(reason)) return;
    reasons.add(reason);
    const counts = this.pauseCounts.get(partition) ?? { backpressure: 0, sink: 0, user: 0 };
    counts[reason] += 1;
    this.pauseCounts.set(partition, counts);
    if (reasons.size === 1) {
      this.consumer.pause([{ topic: this.topic, partitions: [partition] }]);
      this.logger.info({ partition, reason }, 'partition paused');
    }
  }

  private removePause(partition: number, reason: PauseReason): void {
    const reasons = this.pauses.get(partition);
    if (!reasons?.delete(reason)) return;
    if (reasons.size === 0) {
      this.consumer.resume([{ topic: this.topic, partitions: [partition] }]);
      this.logger.info({ partition, reason }, 'partition resumed');
    }
  }

  private async tick(): Promise<void> {
    await Promise.all(
      [...this.workers.values()].map(async (worker) => {
        await this.flush(worker);
        this.applyBackpressure(worker);
      }),
    );
  }

  /** Sinks the partition's closed windows and commits what is released; serial per partition. */
  private flush(worker: PartitionWorker): Promise<void> {
    const previous = this.flushing.get(worker.partition) ?? Promise.resolve();
    const next = previous.then(() => this.flushNow(worker));
    this.flushing.set(worker.partition, next);
    return next;
  }

  private async flushNow(worker: PartitionWorker): Promise<void> {
    const retry = this.sinkRetries.get(worker.partition);
    if (retry && Date.now() < retry.retryAt) return;
    const results = worker.resultsToSink();
    if (results.length > 0) {
      try {
        await this.sink.write(results, { partition: worker.partition });
        worker.sunk(results.length);
        if (retry) this.logger.info({ partition: worker.partition }, 'sink recovered');
        this.sinkRetries.delete(worker.partition);
        this.removePause(worker.partition, 'sink');
      } catch (error) {
        // Keep the results and the offsets they hold; stop fetching until the sink takes them.
        const failures = (retry?.failures ?? 0) + 1;
        const delay = sinkRetryDelay(failures);
        this.sinkRetries.set(worker.partition, { failures, retryAt: Date.now() + delay });
        this.addPause(worker.partition, 'sink');
        this.logger.warn(
          { partition: worker.partition, failures, retryInMs: Math.round(delay), err: messageOf(error) },
          'sink failed; partition paused until it recovers',
        );
        return;
      }
    }
    const offset = worker.committable();
    // Never commit a partition this member no longer owns (or a worker already abandoned).
    if (offset === undefined || this.workers.get(worker.partition) !== worker) return;
    try {
      await this.consumer.commitOffsets([
        { topic: this.topic, partition: worker.partition, offset: offset.toString() },
      ]);
      worker.committed(offset);
    } catch (error) {
      this.logger.warn(
        { partition: worker.partition, offset: offset.toString(), err: messageOf(error) },
        'commit failed',
      );
    }
  }
}
