// The pipeline's sinks together: a window result counts as delivered once every sink has it. Turns
// results into rows once, fans them out, and gives the batch controls (flush, pause, resume, drain,
// sizes) over all of them. Under exactly-once, the Kafka sink's rows travel in the commit transaction.
import type { RecordProducer } from '../source/record-producer.js';
import type { WindowConfig } from '../config/schema.js';
import type { WindowResult } from '../windows/window-result.js';
import { ClickHouseSink } from './clickhouse-sink.js';
import type { ClickHouseEndpoint } from './clickhouse-schema.js';
import { createKafkaSink } from './kafka-sink.js';
import type { TransactionOutbox } from '../source/transaction-outbox.js';
import { resultRow } from './result-row.js';
import type { ResultSink, SinkSettings, SinkWiring } from './result-sink.js';
import { SluiceBugError } from '../errors.js';

/** The batch controls of a running pipeline's sinks. */
export interface SinkControls {
  /** Writes what is buffered now: every group, or one (a table or a topic) in every sink. */
  flush(group?: string): Promise<void>;
  /** Stops writing batches on size and time; commits still write what they need. */
  pause(): void;
  resume(): void;
  /** Writes everything buffered, including what arrives meanwhile. */
  drain(): Promise<void>;
  /** Rows buffered per sink and group. */
  sizes(): Record<string, Record<string, number>>;
}

export class SinkSet implements SinkControls {
  readonly sinks: ResultSink[];
  private readonly windows: ReadonlyMap<string, WindowConfig>;

  constructor(
    private readonly settings: SinkSettings,
    clickhouse: ClickHouseEndpoint | undefined,
    /** A producer for the Kafka sink under at-least-once (exactly-once rows go in the commit). */
    producer: () => RecordProducer,
    wiring: SinkWiring,
    /** Exactly-once: the Kafka sink's rows wait here for their partition's commit transaction. */
    outbox?: TransactionOutbox,
  ) {
    const sinks: ResultSink[] = [];
    if (settings.clickhouse.enabled && clickhouse)
      sinks.push(new ClickHouseSink(settings, clickhouse, wiring));
    const output = createKafkaSink(settings, producer, wiring, outbox);
    if (output) sinks.push(output);
    this.sinks = sinks;
    this.windows = new Map(settings.windows.map((w) => [w.name, w]));
  }

  /** Reachability and credentials of every sink's target, before anything is created. */
  async check(): Promise<void> {
    for (const sink of this.sinks) await sink.check();
  }

  async prepare(): Promise<void> {
    for (const sink of this.sinks) await sink.prepare();
  }

  /** Resolves once every sink has every row of these results (or dead-lettered those it refused). */
  async write(results: readonly WindowResult[], partition: number, interval: number): Promise<void> {
    const windows = this.windows;
    const rows = results.map((result) => {
      const window = windows.get(result.definition);
      if (!window) throw new SluiceBugError(`result for unknown window definition ${result.definition}`);
      return resultRow(this.settings.pipeline, window, result, partition, interval);
    });
    await Promise.all(this.sinks.map((sink) => sink.write(rows)));
  }

  /**
   * Before restored partitions resume: writes what is buffered, then withdraws every row written after
   * each partition's restored checkpoint interval; the rows withdrawn, per sink and table.
   */
  async withdraw(checkpoints: ReadonlyMap<number, number>): Promise<Map<string, number>> {
    await this.flush();
    const withdrawn = new Map<string, number>();
    for (const sink of this.sinks)
      for (const [table, count] of (await sink.withdraw?.(checkpoints)) ?? [])
        withdrawn.set(`${sink.name}:${table}`, count);
    return withdrawn;
  }

  get circuitOpen(): boolean {
    return this.sinks.some((sink) => sink.circuitOpen);
  }

  async flush(group?: string): Promise<void> {
    await Promise.all(this.sinks.map((sink) => sink.flush(group)));
  }

  pause(): void {
    for (const sink of this.sinks) sink.pause();
  }

  resume(): void {
    for (const sink of this.sinks) sink.resume();
  }

  async drain(): Promise<void> {
    await Promise.all(this.sinks.map((sink) => sink.drain()));
  }

  sizes(): Record<string, Record<string, number>> {
    return Object.fromEntries(this.sinks.map((sink) => [sink.name, sink.sizes()]));
  }

  async close(): Promise<void> {
    await Promise.all(this.sinks.map((sink) => sink.close()));
  }
}
