// Window results to a Kafka topic, keyed by the group key (a JSON array of its values), as JSON or
// Avro. At-least-once: batched like any sink and written with acks from all in-sync replicas.
// Exactly-once: rows wait in a per-partition outbox and go out inside the partition's commit
// transaction, with its changelog records and offsets, so a read_committed consumer sees each window
// result once: a crash aborts the transaction, and the replay makes the rows again.
import type { OutgoingRecord } from '../source/outgoing-record.js';
import type { TransactionOutbox } from '../source/transaction-outbox.js';
import type { RecordProducer } from '../source/record-producer.js';
import { outputTopicOf } from '../config/pipeline-topics.js';
import type { KafkaSinkConfig, WindowConfig } from '../config/schema.js';
import { avroEncoder } from './result-avro.js';
import type { ResultRow, RoutedRow } from './result-row.js';
import { BatchingSink, type ResultSink, type SinkSettings, type SinkWiring } from './result-sink.js';
import { SluiceBugError } from '../errors.js';
import { isRecordRejected } from '../source/kafka-errors.js';
import { groupByColumn } from '../config/columns.js';

export type { OutputBatch } from '../source/outgoing-record.js';

class ResultEncoder {
  private readonly encoders = new Map<string, (row: ResultRow) => Buffer>();

  constructor(
    private readonly config: KafkaSinkConfig,
    windows: readonly WindowConfig[],
  ) {
    for (const window of windows)
      this.encoders.set(
        window.name,
        config.format === 'avro'
          ? avroEncoder(window)
          : (row) => Buffer.from(JSON.stringify({ window: window.name, ...row })),
      );
  }

  message(routed: RoutedRow): OutgoingRecord {
    const encode = this.encoders.get(routed.window);
    if (!encode) throw new SluiceBugError(`a row of unknown window ${routed.window}`);
    return {
      key: JSON.stringify(routed.key),
      value: encode(routed.row),
      headers: { 'sluice.window': routed.window, 'sluice.format': this.config.format },
    };
  }
}

/**
 * A row as the Kafka sink writes it, rebuilt from the row alone (`sluice dlq replay --sink-rows`): keyed
 * by its group-by values, encoded in the sink's format.
 */
export function resultMessage(config: KafkaSinkConfig, window: WindowConfig, row: ResultRow): OutgoingRecord {
  const key = window.groupBy.map((field) => String(row[groupByColumn(field)] ?? ''));
  return new ResultEncoder(config, [window]).message({ window: window.name, key, row });
}

/** At-least-once: batches per topic through a producer of its own. */
class KafkaBatchSink extends BatchingSink {
  private readonly producer: RecordProducer;
  private readonly encoder: ResultEncoder;
  /** Rows as encoded messages, found again by row when a batch is written. */
  private readonly pending = new WeakMap<ResultRow, OutgoingRecord>();

  constructor(
    private readonly config: KafkaSinkConfig,
    windows: readonly WindowConfig[],
    producer: RecordProducer,
    wiring: SinkWiring,
  ) {
    super(
      'kafka',
      config,
      {
        write: async (rows, topic) => {
          await this.producer.send(
            topic,
            rows.map((row) => this.pending.get(row) ?? this.encodeLoose(row)),
          );
        },
        isRejection: isRecordRejected,
      },
      wiring,
      config.hooks,
    );
    this.encoder = new ResultEncoder(config, windows);
    this.producer = producer;
  }

  /** The brokers are the source's, checked before any sink. */
  check(): Promise<void> {
    return Promise.resolve();
  }

  async prepare(): Promise<void> {
    await this.producer.connect();
  }

  protected groupOf(routed: RoutedRow): string {
    this.pending.set(routed.row, this.encoder.message(routed));
    return outputTopicOf(this.config, routed.window);
  }

  /** A row a beforeFlush hook made: encoded as JSON whatever the format (it may not fit the schema). */
  private encodeLoose(row: ResultRow): OutgoingRecord {
    return { value: JSON.stringify(row) };
  }

  override async close(): Promise<void> {
    await super.close();
    await this.producer.disconnect().catch(() => undefined);
  }
}

/** Exactly-once: rows wait for their partition's commit transaction. */
export class KafkaTransactionalSink implements ResultSink {
  readonly name = 'kafka';
  readonly circuitOpen = false;
  private readonly encoder: ResultEncoder;

  constructor(
    private readonly config: KafkaSinkConfig,
    windows: readonly WindowConfig[],
    private readonly outbox: TransactionOutbox,
  ) {
    this.encoder = new ResultEncoder(config, windows);
  }

  check(): Promise<void> {
    return Promise.resolve();
  }

  /** Nothing to connect: the commit transaction's producer carries the rows. */
  prepare(): Promise<void> {
    return Promise.resolve();
  }

  write(rows: readonly RoutedRow[]): Promise<void> {
    for (const routed of rows)
      this.outbox.add(
        Number(routed.row.source_partition),
        outputTopicOf(this.config, routed.window),
        this.encoder.message(routed),
      );
    return Promise.resolve();
  }

  async flush(): Promise<void> {}
  pause(): void {}
  resume(): void {}
  async drain(): Promise<void> {}

  /** Rows of result topics waiting for their transaction (the outbox also holds side records). */
  sizes(): Record<string, number> {
    return this.outbox.sizes();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

export function createKafkaSink(
  settings: SinkSettings,
  producer: () => RecordProducer,
  wiring: SinkWiring,
  /** Exactly-once: where the rows wait for their partition's commit transaction. */
  outbox: TransactionOutbox | undefined,
): KafkaBatchSink | KafkaTransactionalSink | undefined {
  const config = settings.kafka;
  if (!config) return undefined;
  return outbox
    ? new KafkaTransactionalSink(config, settings.windows, outbox)
    : new KafkaBatchSink(config, settings.windows, producer(), wiring);
}
