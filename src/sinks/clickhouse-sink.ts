// Writes closed windows to ClickHouse, one table per window definition. An insert either lands whole
// or throws; the caller commits offsets only after it returns, so a failed insert is replayed, and the
// table's ReplacingMergeTree(version) turns a replayed row into a replacement rather than a duplicate.
import { ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client';
import type { ClickHouseSinkConfig, WindowConfig } from '../config/schema.js';
import { SluiceError, messageOf } from '../errors.js';
import type { WindowResult } from '../state/window-store.js';
import {
  missingColumnDdl,
  quoteIdentifier,
  sortingKeyProblem,
  stringLiteral,
  windowTableDdl,
} from './clickhouse-tables.js';

export class SinkUnavailableError extends SluiceError {
  constructor(what: string, cause: unknown) {
    super(what, { code: 'SLUICE_SINK_UNAVAILABLE', retriable: true, cause });
  }
}

/** ClickHouse's answers to bad credentials: codes 192/193 up to 20.x, 516 since (and their texts). */
const AUTHENTICATION_FAILED = /Code: (192|193|516)\b|Unknown user|Wrong password|Authentication failed/i;

export interface ClickHouseTarget extends Omit<ClickHouseSinkConfig, 'url'> {
  url: string;
}

export interface SourceRef {
  partition: number;
}

type Row = Record<string, string | number | null>;

/** 'YYYY-MM-DD hh:mm:ss' in UTC: the DateTime text form every ClickHouse release parses. */
function clickhouseDateTime(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
}

export class ClickHouseSink {
  private readonly client: ClickHouseClient;
  private readonly windowsByName: Map<string, WindowConfig>;

  constructor(
    private readonly target: ClickHouseTarget,
    private readonly pipelineName: string,
    windows: readonly WindowConfig[],
  ) {
    this.client = createClient({
      url: target.url,
      username: target.username,
      password: target.password,
      request_timeout: 30_000,
      // Failures reach our logs as SinkUnavailableErrors with context; the client's own lines would repeat them.
      log: { level: ClickHouseLogLevel.OFF },
    });
    this.windowsByName = new Map(windows.map((w) => [w.name, w]));
  }

  /** Checks the server answers, then creates the database and the result tables when missing. */
  async prepare(): Promise<void> {
    const ping = await this.client.ping();
    if (!ping.success) {
      throw new SinkUnavailableError(
        `could not reach ClickHouse at ${this.target.url}: ${messageOf(ping.error)}. ` +
          'Start the local stack with `sluice stack up`, or point CLICKHOUSE_URL (or sinks.clickhouse.url) at a running server.',
        ping.error,
      );
    }
    // /ping answers without credentials; a first query checks them and says which ones to fix.
    try {
      await this.query('SELECT 1 AS ok');
    } catch (error) {
      if (!AUTHENTICATION_FAILED.test(messageOf(error))) throw error;
      throw new SluiceError(
        `ClickHouse at ${this.target.url} refused user "${this.target.username}": ${messageOf(error)}. ` +
          'Check CLICKHOUSE_USER and CLICKHOUSE_PASSWORD (or sinks.clickhouse.username and password).',
        { code: 'SLUICE_SINK_UNAVAILABLE', retriable: false, cause: error },
      );
    }
    await this.client.command({
      query: `CREATE DATABASE IF NOT EXISTS ${quoteIdentifier(this.target.database)}`,
    });
    for (const window of this.windowsByName.values()) {
      await this.client.command({ query: windowTableDdl(this.target.database, window) });
      await this.migrate(window);
    }
  }

  /** Adds the columns an older Sluice's table lacks; refuses a table whose row identity does not fit. */
  private async migrate(window: WindowConfig): Promise<void> {
    // Literals rather than query parameters: ClickHouse 18.16 has no {name:Type} parameters.
    const database = stringLiteral(this.target.database);
    const table = stringLiteral(window.name);
    const columns = await this.query<{ name: string }>(
      `SELECT name FROM system.columns WHERE database = ${database} AND table = ${table}`,
    );
    for (const ddl of missingColumnDdl(this.target.database, window, new Set(columns.map((c) => c.name))))
      await this.client.command({ query: ddl });
    const [existing] = await this.query<{ sorting_key: string }>(
      `SELECT sorting_key FROM system.tables WHERE database = ${database} AND name = ${table}`,
    );
    const problem = existing ? sortingKeyProblem(window, existing.sorting_key) : undefined;
    if (problem)
      throw new SluiceError(
        `ClickHouse table ${this.target.database}.${window.name} does not fit window ${window.name}: ${problem}. ` +
          'It was made for another definition (groupBy or window type changed): give the window a new name, or drop the table to rebuild it.',
        { code: 'SLUICE_CONFIG_INVALID', retriable: false },
      );
  }

  private async query<T>(query: string): Promise<T[]> {
    const result = await this.client.query({ query, format: 'JSONEachRow' });
    return result.json<T>();
  }

  /** Inserts the results of one partition; resolves only once ClickHouse has acknowledged every row. */
  async write(results: readonly WindowResult[], source: SourceRef): Promise<void> {
    const rowsByTable = new Map<string, Row[]>();
    for (const result of results) {
      const window = this.windowsByName.get(result.definition);
      if (!window) throw new Error(`result for unknown window definition ${result.definition}`);
      const row: Row = {
        pipeline: this.pipelineName,
        window_start: clickhouseDateTime(result.window.start),
        window_end: clickhouseDateTime(result.window.end),
        window_start_ms: result.window.start,
        window_end_ms: result.window.end,
        source_partition: source.partition,
        ...result.values,
        emit_reason: result.reason,
        superseded: result.reason === 'superseded' ? 1 : 0,
        version: result.version,
      };
      window.groupBy.forEach((field, i) => (row[field] = result.key[i] ?? ''));
      const rows = rowsByTable.get(window.name) ?? [];
      rows.push(row);
      rowsByTable.set(window.name, rows);
    }
    for (const [table, rows] of rowsByTable) {
      try {
        await this.client.insert({
          table: `${quoteIdentifier(this.target.database)}.${quoteIdentifier(table)}`,
          values: rows,
          format: 'JSONEachRow',
        });
      } catch (error) {
        throw new SinkUnavailableError(
          `insert of ${rows.length} row(s) into ${this.target.database}.${table} at ${this.target.url} failed: ${messageOf(error)}`,
          error,
        );
      }
    }
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}
