// Writes window results to ClickHouse in batches per table (the window's, or a routed one). An insert
// lands whole or throws; offsets are committed only after the rows are acknowledged, so a failed insert
// is replayed, and the table's ReplacingMergeTree(version) turns a replayed row into a replacement, not
// a duplicate. Rows ClickHouse refuses as invalid are dead-lettered one by one; the rest land.
import type { ClickHouseClient } from '@clickhouse/client';
import type { ClickHouseSinkConfig, WindowConfig } from '../config/schema.js';
import { messageOf } from '../errors.js';
import { quoteIdentifier } from './clickhouse-tables.js';
import {
  ClickHouseSchema,
  SinkUnavailableError,
  createClickHouseClient,
  type ClickHouseEndpoint,
} from './clickhouse-schema.js';
import { routeTable, type ResultRow, type RoutedRow } from './result-row.js';
import { BatchingSink, type SinkSettings, type SinkWiring } from './result-sink.js';

export { SinkUnavailableError };

/**
 * Error codes with which ClickHouse refuses the data itself (parse and type errors, unknown fields):
 * the same rows would be refused again. Anything else (network, overload, a restart) is retried.
 */
const REJECTION_CODES = new Set([6, 16, 26, 27, 32, 38, 41, 53, 69, 70, 72, 117, 130, 131, 321]);
const UNKNOWN_TABLE = 60;

function clickhouseCode(error: unknown): number | undefined {
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && /^\d+$/.test(code)) return Number(code);
  const match = /Code: (\d+)/.exec(messageOf(error));
  return match ? Number(match[1]) : undefined;
}

export function isClickHouseRejection(error: unknown): boolean {
  const code = clickhouseCode(error);
  return code !== undefined && REJECTION_CODES.has(code);
}

export class ClickHouseSink extends BatchingSink {
  private readonly client: ClickHouseClient;
  private readonly config: ClickHouseSinkConfig;
  private readonly schema: ClickHouseSchema;
  private readonly windows: Map<string, WindowConfig>;
  /** Which window's rows a table holds (routing can give a window many tables). */
  private readonly tableWindows = new Map<string, WindowConfig>();

  constructor(
    private readonly settings: SinkSettings,
    private readonly endpoint: ClickHouseEndpoint,
    wiring: SinkWiring,
  ) {
    const config = settings.clickhouse;
    super(
      'clickhouse',
      config,
      {
        write: (rows, table) => this.insert(rows, table),
        isRejection: isClickHouseRejection,
      },
      wiring,
      config.hooks,
    );
    this.client = createClickHouseClient(endpoint);
    this.schema = new ClickHouseSchema(this.client, endpoint);
    this.config = config;
    this.windows = new Map(settings.windows.map((w) => [w.name, w]));
  }

  check(): Promise<void> {
    return this.schema.check();
  }

  async prepare(): Promise<void> {
    await this.schema.migrate(this.settings.windows, this.config.migrations);
  }

  protected groupOf(routed: RoutedRow): string {
    const window = this.windows.get(routed.window);
    if (!window) throw new Error(`a row of unknown window ${routed.window}`);
    const table = routeTable(this.config.tables[window.name], window, routed);
    if (!this.tableWindows.has(table)) this.tableWindows.set(table, window);
    return table;
  }

  private async insert(rows: ResultRow[], table: string): Promise<void> {
    const window = this.tableWindows.get(table);
    try {
      if (window) await this.schema.ensureTable(window, table);
      await this.client.insert({
        table: `${quoteIdentifier(this.endpoint.database)}.${quoteIdentifier(table)}`,
        values: rows,
        format: 'JSONEachRow',
      });
    } catch (error) {
      // Dropped under us: created again on the next attempt.
      if (clickhouseCode(error) === UNKNOWN_TABLE) this.schema.forget(table);
      if (isClickHouseRejection(error)) throw error;
      throw new SinkUnavailableError(
        `insert of ${rows.length} row(s) into ${this.endpoint.database}.${table} at ${this.endpoint.url} failed: ${messageOf(error)}`,
        error,
      );
    }
  }

  override async close(): Promise<void> {
    await super.close();
    await this.client.close();
  }
}
