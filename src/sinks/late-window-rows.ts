// The rows `sluice late replay` reads and writes: one window's row of a group key and source partition,
// read with FINAL (the highest version: what the users' queries see), and its replacement, written
// with the same identity and a version one higher (the pipeline never writes a window again once its
// lateness is over). The table is the window's, or the routed one (`sinks.clickhouse.tables`), as the
// sink resolves it. Literals rather than query parameters: ClickHouse 18.16 has none.
import type { ClickHouseClient } from '@clickhouse/client';
import type { Pipeline, WindowConfig } from '../config/schema.js';
import { isClickHouseMissingTable } from './clickhouse-errors.js';
import { ClickHouseSchema, createClickHouseClient, type ClickHouseEndpoint } from './clickhouse-schema.js';
import { quoteIdentifier, rowsTableOf, stringLiteral } from './clickhouse-tables.js';
import type { RowValues } from './late-row-merge.js';
import { clickhouseDateTime, routeTable, type ResultRow } from './result-row.js';
import { groupByColumn } from '../config/columns.js';

/** One window's row of a group key, from one source partition: the row's identity. */
export interface WindowRowIdentity {
  window: WindowConfig;
  start: number;
  end: number;
  /** The group key's values in groupBy order. */
  key: readonly string[];
  /**
   * The partition that computed the row; undefined for a re-keyed window, which has one row per window
   * and key whichever partition computed it.
   */
  sourcePartition: number | undefined;
}

export interface StoredRow {
  values: RowValues;
  lateApplied: string;
  version: number;
  commitInterval: number;
  /** The partition that computed it: a re-keyed window's replacement row goes there. */
  sourcePartition: number;
}

/** The replacement: merged values, the late events it holds, and its version. */
export interface ReplacementRow {
  values: RowValues;
  lateApplied: string;
  version: number;
  /** The replaced row's (0 for a new one): a row of a committed interval is never withdrawn. */
  commitInterval: number;
}

export const LATE_REPLAY_REASON = 'late-replay';

/** JSON numbers of ClickHouse come as strings for 64-bit columns. */
function numberOrNull(value: unknown): number | null {
  if (value === null || value === undefined) return null;
  const n = typeof value === 'number' ? value : Number(value);
  return Number.isFinite(n) ? n : null;
}

export class LateWindowRows {
  private readonly client: ClickHouseClient;
  private readonly schema: ClickHouseSchema;

  constructor(
    private readonly pipeline: Pipeline,
    private readonly endpoint: ClickHouseEndpoint,
    /** Dry run: no table is created or migrated; a missing table or column reads as empty. */
    private readonly readOnly: boolean,
  ) {
    this.client = createClickHouseClient(endpoint);
    this.schema = new ClickHouseSchema(this.client, endpoint, pipeline.source.keyedBy);
  }

  /** The table the row is in: the window's, or the one its routing template names for this key. */
  tableOf(identity: WindowRowIdentity): string {
    const row: ResultRow = {};
    identity.window.groupBy.forEach((field, i) => (row[groupByColumn(field)] = identity.key[i] ?? ''));
    const template = this.pipeline.sinks.clickhouse.tables[identity.window.name];
    return routeTable(template, identity.window, { window: identity.window.name, key: identity.key, row });
  }

  /** The row as users see it (FINAL), or undefined when the window has none for this key. */
  async current(identity: WindowRowIdentity): Promise<StoredRow | undefined> {
    const table = this.tableOf(identity);
    if (!this.readOnly) await this.schema.ensureTable(identity.window, table);
    const where = [
      `pipeline = ${stringLiteral(this.pipeline.name)}`,
      `window_start_ms = ${Math.floor(identity.start)}`,
      ...(identity.sourcePartition === undefined ? [] : [`source_partition = ${identity.sourcePartition}`]),
      ...identity.window.groupBy.map(
        (field, i) => `${quoteIdentifier(groupByColumn(field))} = ${stringLiteral(identity.key[i] ?? '')}`,
      ),
    ].join(' AND ');
    let rows: Record<string, unknown>[];
    try {
      const result = await this.client.query({
        query: `SELECT * FROM ${this.qualified(rowsTableOf(table))} FINAL WHERE ${where}`,
        format: 'JSONEachRow',
      });
      rows = await result.json<Record<string, unknown>>();
    } catch (error) {
      if (this.readOnly && isClickHouseMissingTable(error)) return undefined;
      throw error;
    }
    const [row] = rows;
    if (!row) return undefined;
    const values: RowValues = { count: numberOrNull(row.count) ?? 0 };
    for (const spec of identity.window.aggregations) {
      values[spec.name] = numberOrNull(row[spec.name]);
      if (spec.fn === 'avg') values[`${spec.name}_n`] = numberOrNull(row[`${spec.name}_n`]) ?? 0;
    }
    return {
      values,
      lateApplied: typeof row.late_applied === 'string' ? row.late_applied : '',
      version: numberOrNull(row.version) ?? 0,
      commitInterval: numberOrNull(row.commit_interval) ?? 0,
      sourcePartition: numberOrNull(row.source_partition) ?? 0,
    };
  }

  /** Writes the replacement row; resolves once ClickHouse has it. */
  async write(identity: WindowRowIdentity, replacement: ReplacementRow): Promise<void> {
    const table = this.tableOf(identity);
    await this.schema.ensureTable(identity.window, table);
    const row: ResultRow = {
      pipeline: this.pipeline.name,
      window_start: clickhouseDateTime(identity.start),
      window_end: clickhouseDateTime(identity.end),
      window_start_ms: identity.start,
      window_end_ms: identity.end,
      source_partition: identity.sourcePartition ?? 0,
      ...replacement.values,
      emit_reason: LATE_REPLAY_REASON,
      superseded: 0,
      commit_interval: replacement.commitInterval,
      late_applied: replacement.lateApplied,
      version: replacement.version,
    };
    identity.window.groupBy.forEach((field, i) => (row[groupByColumn(field)] = identity.key[i] ?? ''));
    await this.schema.insertRows(table, [row]);
  }

  private qualified(table: string): string {
    return `${quoteIdentifier(this.endpoint.database)}.${quoteIdentifier(table)}`;
  }

  close(): Promise<void> {
    return this.client.close();
  }
}
