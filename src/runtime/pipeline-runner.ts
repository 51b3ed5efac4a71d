// Runs a pipeline as one member of its consumer group: fetches batches per partition, drives each
// partition's worker, writes closed windows to ClickHouse and commits a partition's offset only after
// the rows derived from the records below it are in ClickHouse. A failing sink pauses the partition
// and is retried on the tick, so consumption stops instead of memory growing.
import type { Consumer, EachBatchPayload } from 'kafkajs';
import type { Endpoints } from '../config/endpoints.js';
import type { Pipeline } from '../config/schema.js';
import { messageOf } from '../errors.js';
import type { Logger } from '../ops/logger.js';
import { ClickHouseSink } from '../sinks/clickhouse-sink.js';
import { checkKafka, createKafka } from '../source/kafka-client.js';
import { PartitionWorker } from './partition-worker.js';

const TICK_MS = 250;

export interface PartitionStatus {
  partition: number;
  processed: number;
  invalid: number;
  late: number;
  openWindows: number;
  paused: boolean;
}

export interface RunningPipeline {
  /** Per-partition counters of the partitions this member owns. */
  status(): PartitionStatus[];
  /** Closes due windows, sinks and commits what it can, then leaves the group. */
  stop(): Promise<void>;
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

class PipelineRunner implements RunningPipeline {
  private readonly sink: ClickHouseSink;
  private readonly consumer: Consumer;
  private readonly workers = new Map<number, PartitionWorker>();
  private readonly paused = new Set<number>();
  /** One flush per partition at a time: the tick and the batch handler both flush. */
  private readonly flushing = new Map<number, Promise<void>>();
  private assigned = new Set<number>();
  private ticker: NodeJS.Timeout | undefined;
  private stopping = false;

  constructor(
    private readonly pipeline: Pipeline,
    private readonly endpoints: Endpoints,
    private readonly logger: Logger,
  ) {
    const kafka = createKafka(endpoints.brokers, pipeline.source.clientId, logger);
    this.consumer = kafka.consumer({
      groupId: pipeline.source.groupId ?? `sluice-${pipeline.name}`,
      sessionTimeout: 30_000,
      heartbeatInterval: 3_000,
    });
    this.sink = new ClickHouseSink(endpoints.clickhouse, pipeline.name, pipeline.windows);
  }

  async start(): Promise<void> {
    await checkKafka(this.endpoints.brokers);
    await this.sink.prepare();
    this.consumer.on(this.consumer.events.GROUP_JOIN, ({ payload }) =>
      this.onAssignment(payload.memberAssignment),
    );
    await this.consumer.connect();
    await this.consumer.subscribe({
      topic: this.pipeline.source.topic,
      fromBeginning: this.pipeline.source.fromBeginning,
    });
    await this.consumer.run({
      autoCommit: false,
      partitionsConsumedConcurrently: 4,
      eachBatch: (payload) => this.onBatch(payload),
    });
    this.ticker = setInterval(() => void this.tick(), TICK_MS);
    this.logger.info(
      {
        topic: this.pipeline.source.topic,
        brokers: this.endpoints.brokers,
        clickhouse: this.endpoints.clickhouse.url,
      },
      'pipeline started',
    );
  }

  status(): PartitionStatus[] {
    return [...this.workers.values()].map((w) => ({
      partition: w.partition,
      ...w.counters,
      openWindows: w.openWindows,
      paused: this.paused.has(w.partition),
    }));
  }

  private onAssignment(assignment: Record<string, number[]>): void {
    this.assigned = new Set(assignment[this.pipeline.source.topic] ?? []);
    // A revoked partition's state goes: its new owner rebuilds it from the uncommitted records.
    for (const partition of this.workers.keys()) {
      if (!this.assigned.has(partition)) {
        this.workers.delete(partition);
        this.paused.delete(partition);
      }
    }
    this.logger.info({ partitions: [...this.assigned] }, 'partitions assigned');
  }

  private workerFor(partition: number): PartitionWorker {
    let worker = this.workers.get(partition);
    if (!worker) {
      const topic = this.pipeline.source.topic;
      worker = new PartitionWorker(topic, partition, this.pipeline, this.logger.child({ topic, partition }));
      this.workers.set(partition, worker);
    }
    return worker;
  }

  private async onBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    if (!payload.isRunning() || payload.isStale() || this.stopping) return;
    const worker = this.workerFor(batch.partition);
    worker.absorb(batch.messages, BigInt(batch.highWatermark), Date.now());
    await this.flush(worker);
    await payload.heartbeat();
  }

  private async tick(): Promise<void> {
    for (const worker of this.workers.values()) await this.flush(worker);
  }

  /** Sinks the partition's closed windows and commits what they released; serial per partition. */
  private flush(worker: PartitionWorker): Promise<void> {
    const previous = this.flushing.get(worker.partition) ?? Promise.resolve();
    const next = previous.then(() => this.flushNow(worker));
    this.flushing.set(worker.partition, next);
    return next;
  }

  private async flushNow(worker: PartitionWorker): Promise<void> {
    const topic = this.pipeline.source.topic;
    const results = worker.resultsToSink(Date.now());
    if (results.length > 0) {
      try {
        await this.sink.write(results, { partition: worker.partition });
        worker.sunk(results.length);
        this.resumeIfPaused(worker.partition);
      } catch (error) {
        // Keep the results and the offsets they hold; stop fetching until the sink takes them.
        if (!this.paused.has(worker.partition)) {
          this.consumer.pause([{ topic, partitions: [worker.partition] }]);
          this.paused.add(worker.partition);
        }
        this.logger.warn(
          { partition: worker.partition, err: messageOf(error) },
          'sink failed; partition paused',
        );
        return;
      }
    }
    const offset = worker.committable();
    if (offset === undefined || !this.assigned.has(worker.partition)) return;
    try {
      await this.consumer.commitOffsets([{ topic, partition: worker.partition, offset: offset.toString() }]);
      worker.committed(offset);
    } catch (error) {
      this.logger.warn(
        { partition: worker.partition, offset: offset.toString(), err: messageOf(error) },
        'commit failed',
      );
    }
  }

  private resumeIfPaused(partition: number): void {
    if (!this.paused.delete(partition)) return;
    this.consumer.resume([{ topic: this.pipeline.source.topic, partitions: [partition] }]);
    this.logger.info({ partition }, 'sink recovered; partition resumed');
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.ticker) clearInterval(this.ticker);
    // Commit while still a group member: kafkajs refuses commits once the consumer has stopped.
    await this.tick();
    await this.consumer.stop();
    await this.consumer.disconnect();
    await this.sink.close();
    this.logger.info('pipeline stopped');
  }
}
