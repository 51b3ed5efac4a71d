// What the runner sees of a sink: rows in, a promise that resolves once they are durable there (or
// dead-lettered), and the batch controls users of batching libraries expect. BatchingSink puts a
// Batcher (size, age, on demand) in front of a SinkDelivery (retries, circuit breaker, rejected rows
// isolated) and counts what happens per sink.
import type {
  ClickHouseSinkConfig,
  KafkaSinkConfig,
  SinkDeliveryConfig,
  WindowConfig,
} from '../config/schema.js';
import type { Logger } from '../ops/logger.js';
import type { SinkMetrics } from '../ops/metrics.js';
import { Batcher, type BatchHooks } from './batcher.js';
import type { ResultRow, RoutedRow } from './result-row.js';
import { newerRow, rowIdentity } from './result-row.js';
import { SinkDelivery, type SinkTarget } from './sink-delivery.js';

/** What the sinks are given of a pipeline: compiled once, read by every sink. */
export interface SinkSettings {
  pipeline: string;
  windows: readonly WindowConfig[];
  clickhouse: ClickHouseSinkConfig;
  kafka: KafkaSinkConfig | undefined;
  /** Kafka output rows travel in the commit transaction instead of a producer of their own. */
  exactlyOnce: boolean;
  /** The pipeline's `source.keyedBy`: which windows are re-keyed (part of what their rows mean). */
  keyedBy: readonly string[] | undefined;
}

export interface ResultSink {
  readonly name: string;
  /** Fails fast, naming where it looked, when the target cannot be reached or refuses the credentials. */
  check(): Promise<void>;
  /** Creates what the sink writes to (tables, migrations) and connects; after check(). */
  prepare(): Promise<void>;
  /** Resolves once every row is durable in this sink, or in the dead-letter topic. */
  write(rows: readonly RoutedRow[]): Promise<void>;
  /** Writes what is buffered (all groups, or one) now. */
  flush(group?: string): Promise<void>;
  pause(): void;
  resume(): void;
  /** Writes everything buffered, including what arrives meanwhile: before a deploy. */
  drain(): Promise<void>;
  /** Rows buffered per group (table or topic). */
  sizes(): Record<string, number>;
  readonly circuitOpen: boolean;
  /**
   * Removes the rows of commit intervals after each source partition's restored checkpoint (rows of
   * attempts that never committed); how many went, per table. Sinks whose writes commit with the
   * transaction (or cannot be taken back) have none.
   */
  withdraw?(checkpoints: ReadonlyMap<number, number>): Promise<Map<string, number>>;
  close(): Promise<void>;
}

export interface SinkWiring {
  metrics: SinkMetrics;
  logger: Logger;
  /** Dead-letters refused rows (or a batch whose retries ran out); resolves once they are durable. */
  deadLetter(
    sink: string,
    rows: ResultRow[],
    group: string,
    error: unknown,
    reason: 'rejected' | 'exhausted',
  ): Promise<void>;
  /** The sink's circuit opened or closed: pause or resume the source. */
  circuit(sink: string, open: boolean): void;
}

/** Row hooks as users write them: plain result rows and the group (table or topic) they go to. */
export type ResultHooks = BatchHooks<ResultRow>;

export abstract class BatchingSink implements ResultSink {
  private readonly batcher: Batcher<RoutedRow>;
  private readonly delivery: SinkDelivery<ResultRow>;

  protected constructor(
    readonly name: string,
    config: SinkDeliveryConfig,
    target: SinkTarget<ResultRow>,
    wiring: SinkWiring,
    hooks: ResultHooks | undefined,
  ) {
    const labels = { sink: name };
    const { metrics } = wiring;
    this.delivery = new SinkDelivery(
      name,
      target,
      config,
      {
        deadLetter: async (rows, group, error, reason) => {
          await wiring.deadLetter(name, rows, group, error, reason);
          metrics.deadLetteredRows.inc(labels, rows.length);
        },
        circuit: (open) => wiring.circuit(name, open),
        attempt: (outcome, rows, seconds) => {
          if (outcome === 'failed') {
            metrics.failures.inc(labels);
            return;
          }
          metrics.rows.inc(labels, rows);
          metrics.batches.inc(labels);
          metrics.batchRows.observe(labels, rows);
          metrics.flushSeconds.observe(labels, seconds);
        },
        retry: () => metrics.retries.inc(labels),
      },
      wiring.logger,
    );
    this.batcher = new Batcher<RoutedRow>({
      maxSize: config.batch.maxSize,
      maxWaitMs: config.batch.maxWaitMs,
      keyOf: rowIdentity,
      prefer: newerRow,
      retryDelayMs: Math.min(1_000, config.circuitBreaker.halfOpenAfter),
      write: (routed, group) =>
        this.delivery.deliver(
          routed.map((r) => r.row),
          group,
        ),
      hooks: hooks && {
        beforeFlush: hooks.beforeFlush
          ? async (routed, group) => {
              const shaped = await hooks.beforeFlush!(
                routed.map((r) => r.row),
                group,
              );
              return shaped.map((row) => ({ window: routed[0]?.window ?? '', key: [], row }));
            }
          : undefined,
        onSuccess:
          hooks.onSuccess &&
          ((routed, group) =>
            hooks.onSuccess!(
              routed.map((r) => r.row),
              group,
            )),
        onFail:
          hooks.onFail &&
          ((error, routed, group) =>
            hooks.onFail!(
              error,
              routed.map((r) => r.row),
              group,
            )),
      },
    });
  }

  abstract check(): Promise<void>;

  abstract prepare(): Promise<void>;

  /** The group (table, topic) a row goes to. */
  protected abstract groupOf(row: RoutedRow): string;

  write(rows: readonly RoutedRow[]): Promise<void> {
    const byGroup = new Map<string, RoutedRow[]>();
    for (const row of rows) {
      const group = this.groupOf(row);
      const list = byGroup.get(group) ?? [];
      list.push(row);
      byGroup.set(group, list);
    }
    return Promise.all([...byGroup].map(([group, list]) => this.batcher.add(group, list))).then(
      () => undefined,
    );
  }

  flush(group?: string): Promise<void> {
    return this.batcher.flush(group);
  }

  pause(): void {
    this.batcher.pause();
  }

  resume(): void {
    this.batcher.resume();
  }

  drain(): Promise<void> {
    return this.batcher.drain();
  }

  sizes(): Record<string, number> {
    return this.batcher.sizes();
  }

  get circuitOpen(): boolean {
    return this.delivery.open;
  }

  close(): Promise<void> {
    this.batcher.close();
    return Promise.resolve();
  }
}
