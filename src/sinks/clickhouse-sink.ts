// Writes window results to ClickHouse in batches per table (the window's, or a routed one). An insert
// lands whole or throws; offsets are committed only after the rows are acknowledged, so a failed insert
// is replayed, and the table's ReplacingMergeTree(version) turns a replayed row into a replacement, not
// a duplicate. Rows ClickHouse refuses as invalid are dead-lettered one by one; the rest land.
import { randomUUID } from 'node:crypto';
import type { ClickHouseClient } from '@clickhouse/client';
import type { ClickHouseSinkConfig, WindowConfig } from '../config/schema.js';
import { SluiceBugError } from '../errors.js';
import type { Logger } from '../ops/logger.js';
import { clickHouseErrorText, isClickHouseMissingTable, isClickHouseRejection } from './clickhouse-errors.js';
import { insertQueryId, withdrawUncommitted } from './clickhouse-withdrawal.js';
import {
  ClickHouseSchema,
  SinkRejectedError,
  SinkUnavailableError,
  createClickHouseClient,
  type ClickHouseEndpoint,
} from './clickhouse-schema.js';
import { routeTable, type ResultRow, type RoutedRow } from './result-row.js';
import { BatchingSink, type SinkSettings, type SinkWiring } from './result-sink.js';

export { SinkUnavailableError };

export class ClickHouseSink extends BatchingSink {
  private readonly client: ClickHouseClient;
  private readonly config: ClickHouseSinkConfig;
  private readonly schema: ClickHouseSchema;
  private readonly windows: Map<string, WindowConfig>;
  /** Which window's rows a table holds (routing can give a window many tables). */
  private readonly tableWindows = new Map<string, WindowConfig>();
  /** This sink's insert tokens: a process-unique prefix and a batch count (tokenOf). */
  private readonly incarnation = randomUUID();
  private batches = 0;
  private readonly tokens = new WeakMap<ResultRow[], string>();
  private readonly logger: Logger;

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
        isRejection: (error) => error instanceof SinkRejectedError,
      },
      wiring,
      config.hooks,
    );
    this.logger = wiring.logger;
    this.client = createClickHouseClient(endpoint);
    this.schema = new ClickHouseSchema(this.client, endpoint, settings.keyedBy);
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
    if (!window) throw new SluiceBugError(`a row of unknown window ${routed.window}`);
    const table = routeTable(this.config.tables[window.name], window, routed);
    if (!this.tableWindows.has(table)) this.tableWindows.set(table, window);
    return table;
  }

  /**
   * A batch's insert token: the same for every retry of the batch (delivery retries the very array),
   * new for every other batch, and never one an earlier process used. So the server drops a retried
   * insert it already has, and never a replay's rows after a crash: those may equal, byte for byte,
   * rows the crashed attempt wrote and the restore withdrew, and the server's memory of tokens outlives
   * the withdrawal.
   */
  private tokenOf(rows: ResultRow[]): string {
    let token = this.tokens.get(rows);
    if (!token) {
      token = `${this.incarnation}-${(this.batches += 1)}`;
      this.tokens.set(rows, token);
    }
    return token;
  }

  private async insert(rows: ResultRow[], table: string): Promise<void> {
    const window = this.tableWindows.get(table);
    try {
      if (window) await this.schema.ensureTable(window, table);
      await this.schema.insertRows(
        table,
        rows,
        this.tokenOf(rows),
        insertQueryId(this.settings.pipeline, this.incarnation),
      );
    } catch (error) {
      // Dropped under us: created again on the next attempt.
      if (isClickHouseMissingTable(error)) this.schema.forget(table);
      if (isClickHouseRejection(error)) throw new SinkRejectedError(error);
      throw new SinkUnavailableError(
        `insert of ${rows.length} row(s) into ${this.endpoint.database}.${table} at ${this.endpoint.url} failed: ${clickHouseErrorText(error)}`,
        error,
      );
    }
  }

  withdraw(checkpoints: ReadonlyMap<number, number>): Promise<Map<string, number>> {
    const windows = new Map([...this.windows.keys()].map((name) => [name, this.config.tables[name]]));
    return withdrawUncommitted(
      this.client,
      this.endpoint,
      this.settings.pipeline,
      checkpoints,
      windows,
      this.incarnation,
      ({ table, left, round }) =>
        this.logger.warn(
          { table: `${this.endpoint.database}.${table}`, left, round },
          'a delete of uncommitted rows was reported done with matching rows left; deleting again',
        ),
    );
  }

  override async close(): Promise<void> {
    await super.close();
    await this.client.close();
  }
}
