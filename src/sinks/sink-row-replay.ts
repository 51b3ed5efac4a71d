// Writes result rows a sink gave up on (dead letters with sluice.reason sink-rejected or sink-exhausted)
// back to the table or topic they were meant for, once the sink works again: what `sluice dlq replay
// --sink-rows` does. Harmless to repeat: a row keeps its identity and version, so ClickHouse's
// ReplacingMergeTree(version) keeps one of it, and a newer row of the same window still wins.
import type { ClickHouseClient } from '@clickhouse/client';
import type { Pipeline, WindowConfig } from '../config/schema.js';
import { outputTopicOf } from '../config/pipeline-topics.js';
import { SluiceError, messageOf } from '../errors.js';
import type { RecordHeaders } from '../source/outgoing-record.js';
import type { RecordProducer } from '../source/record-producer.js';
import { ClickHouseSchema, createClickHouseClient, type ClickHouseEndpoint } from './clickhouse-schema.js';
import { isSinkDeadLetter } from './dead-letters.js';
import { resultMessage } from './kafka-sink.js';
import type { ResultRow } from './result-row.js';
import { groupByColumn } from '../config/columns.js';

/** A dead-lettered row: the sink that gave up on it, its table (ClickHouse) or topic (Kafka), the row. */
export interface SinkRowLetter {
  sink: string;
  target: string;
  row: ResultRow;
}

function header(headers: RecordHeaders | undefined, name: string): string | undefined {
  const value = headers?.[name];
  const last = Array.isArray(value) ? value.at(-1) : value;
  return last?.toString();
}

/** The row a sink dead letter holds; undefined for any other dead letter, or one that is not a row. */
export function sinkRowOf(
  headers: RecordHeaders | undefined,
  value: Buffer | null,
): SinkRowLetter | undefined {
  if (!isSinkDeadLetter(headers)) return undefined;
  const sink = header(headers, 'sluice.sink');
  const target = header(headers, 'sluice.sink.target');
  if (sink === undefined || target === undefined || value === null) return undefined;
  try {
    const row: unknown = JSON.parse(value.toString('utf8'));
    if (typeof row !== 'object' || row === null || Array.isArray(row)) return undefined;
    return { sink, target, row: row as ResultRow };
  } catch {
    return undefined;
  }
}

/**
 * The window whose rows a table holds: the window of that name, or the one whose `tables` template can
 * give it (routing); undefined when none does (the table must then exist).
 */
export function windowOfTable(pipeline: Pipeline, table: string): WindowConfig | undefined {
  const templates = pipeline.sinks.clickhouse.tables;
  const byName = pipeline.windows.find((w) => w.name === table && templates[w.name] === undefined);
  if (byName) return byName;
  return pipeline.windows.find((w) => {
    const template = templates[w.name];
    if (!template) return false;
    const pattern = template
      .split(/\{[A-Za-z_][A-Za-z0-9_]*\}/)
      .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
      .join('[A-Za-z0-9_]+');
    return new RegExp(`^${pattern}$`).test(table);
  });
}

export class SinkRowReplay {
  private readonly client: ClickHouseClient | undefined;
  private readonly schema: ClickHouseSchema | undefined;

  constructor(
    private readonly pipeline: Pipeline,
    private readonly clickhouse: ClickHouseEndpoint | undefined,
    private readonly producer: () => RecordProducer,
  ) {
    if (clickhouse) {
      this.client = createClickHouseClient(clickhouse);
      this.schema = new ClickHouseSchema(this.client, clickhouse, pipeline.source.keyedBy);
    }
  }

  private kafkaProducer: RecordProducer | undefined;

  /** Writes the rows to their tables and topics; resolves once every one is acknowledged, else throws. */
  async write(letters: readonly SinkRowLetter[]): Promise<void> {
    const groups = new Map<string, SinkRowLetter[]>();
    for (const letter of letters) {
      const id = `${letter.sink}\u0000${letter.target}`;
      groups.set(id, [...(groups.get(id) ?? []), letter]);
    }
    for (const group of groups.values()) {
      const { sink, target } = group[0]!;
      const rows = group.map((l) => l.row);
      if (sink === 'clickhouse') await this.insert(target, rows);
      else if (sink === 'kafka') await this.publish(target, rows);
      else
        throw new SluiceError(`dead-lettered rows of an unknown sink ${JSON.stringify(sink)}`, {
          code: 'SLUICE_CONFIG_INVALID',
          retriable: false,
        });
    }
  }

  private async insert(table: string, rows: ResultRow[]): Promise<void> {
    if (!this.client || !this.schema || !this.clickhouse)
      throw new SluiceError(
        `${rows.length} dead-lettered row(s) for ClickHouse table ${table}, but the pipeline's ClickHouse sink is disabled: enable it to replay them`,
        { code: 'SLUICE_CONFIG_INVALID', retriable: false },
      );
    const window = windowOfTable(this.pipeline, table);
    try {
      // Created again when dropped (the cause the rows were given up on, perhaps).
      if (window) await this.schema.ensureTable(window, table);
      await this.schema.insertRows(table, rows);
    } catch (error) {
      throw new SluiceError(
        `replaying ${rows.length} row(s) into ${this.clickhouse.database}.${table} at ${this.clickhouse.url} failed: ${messageOf(error)}. Nothing after them was marked replayed: fix the sink and run the replay again`,
        { code: 'SLUICE_SINK_UNAVAILABLE', retriable: true, cause: error },
      );
    }
  }

  private async publish(topic: string, rows: ResultRow[]): Promise<void> {
    const config = this.pipeline.sinks.kafka;
    const windows = config
      ? this.pipeline.windows.filter((w) => outputTopicOf(config, w.name) === topic)
      : [];
    if (!config || windows.length === 0)
      throw new SluiceError(
        `${rows.length} dead-lettered row(s) for Kafka topic ${topic}, which no window of the pipeline's Kafka sink writes to`,
        { code: 'SLUICE_CONFIG_INVALID', retriable: false },
      );
    // Rows do not name their window; of several windows sharing a topic, the one whose columns they have.
    const windowOf = (row: ResultRow) =>
      windows.find(
        (w) => w.groupBy.every((f) => groupByColumn(f) in row) && w.aggregations.every((a) => a.name in row),
      ) ?? windows[0]!;
    if (!this.kafkaProducer) {
      this.kafkaProducer = this.producer();
      await this.kafkaProducer.connect();
    }
    await this.kafkaProducer.send(
      topic,
      rows.map((row) => resultMessage(config, windowOf(row), row)),
    );
  }

  async close(): Promise<void> {
    await this.client?.close();
    await this.kafkaProducer?.disconnect();
  }
}
