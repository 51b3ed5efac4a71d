// The ClickHouse tables that window results land in, one per window definition. Rows have a
// deterministic identity (pipeline, window start in ms, group key, source partition) and a version, in a
// ReplacingMergeTree(version), so writing a result again replaces it instead of adding to it.
// The version grows with the records a window absorbed (×2, +1 for the final row), so an early update
// never replaces the final row, and a window re-emitted from a partial replay never replaces a fuller
// one. A session row that a merge replaced is written once more with superseded = 1.
// Tables made by an older Sluice get the columns they lack (ALTER TABLE ADD COLUMN, with defaults); a
// table whose identity (ORDER BY) no longer fits the definition is refused with what to do.
// The SQL is kept to what ClickHouse 18.16 (Debian's package) and current releases both accept: no
// ADD COLUMN IF NOT EXISTS there, so columns are compared with system.columns first. Column types and
// table settings take the server's better paths where it has them (clickhouse-capabilities.ts).
import type { AggregationConfig, WindowConfig } from '../config/schema.js';
import { groupByColumn } from '../config/columns.js';
import { BASELINE, DEDUPLICATION_WINDOW, type ClickHouseCapabilities } from './clickhouse-capabilities.js';
import { localTableOf, onCluster, storageEngine } from './clickhouse-cluster.js';

import { quoteIdentifier } from './clickhouse-sql.js';

export { quoteIdentifier, stringLiteral } from './clickhouse-sql.js';

export interface Column {
  name: string;
  type: string;
  /** How an older table's existing rows fill the column when it is added. */
  default?: string;
}

function aggregationColumns(aggregation: AggregationConfig): Column[] {
  switch (aggregation.fn) {
    case 'sum':
      return [{ name: aggregation.name, type: 'Float64', default: '0' }];
    case 'avg':
      return [
        { name: aggregation.name, type: 'Nullable(Float64)', default: 'NULL' },
        // The values averaged: with it the row's sum is known, and a late event merges in exactly.
        { name: `${aggregation.name}_n`, type: 'UInt64', default: '0' },
      ];
    case 'min':
    case 'max':
      return [{ name: aggregation.name, type: 'Nullable(Float64)', default: 'NULL' }];
    case 'count_distinct':
      return [
        { name: aggregation.name, type: 'UInt64', default: '0' },
        { name: `${aggregation.name}_exact`, type: 'UInt8', default: '1' },
      ];
  }
}

export function windowColumns(window: WindowConfig, server: ClickHouseCapabilities = BASELINE): Column[] {
  // Tumbling and sliding windows are whole seconds long and start on a second; a session starts with
  // its first event, at any millisecond.
  const bound = server.dateTime64 && window.type === 'session' ? "DateTime64(3, 'UTC')" : "DateTime('UTC')";
  const key = server.lowCardinality ? 'LowCardinality(String)' : 'String';
  return [
    { name: 'pipeline', type: 'String' },
    { name: 'window_start', type: bound },
    { name: 'window_end', type: bound },
    { name: 'window_start_ms', type: 'UInt64', default: 'toUInt64(toUnixTimestamp(window_start)) * 1000' },
    { name: 'window_end_ms', type: 'UInt64', default: 'toUInt64(toUnixTimestamp(window_end)) * 1000' },
    ...window.groupBy.map((field) => ({ name: groupByColumn(field), type: key, default: "''" })),
    { name: 'source_partition', type: 'UInt32' },
    { name: 'count', type: 'UInt64' },
    ...window.aggregations.flatMap(aggregationColumns),
    { name: 'emit_reason', type: 'String', default: "'watermark'" },
    { name: 'superseded', type: 'UInt8', default: '0' },
    { name: 'commit_interval', type: 'UInt64', default: '0' },
    // The late events merged into the row by `sluice late replay` (late-applied.ts); '' from the pipeline.
    { name: 'late_applied', type: 'String', default: "''" },
    { name: 'version', type: 'UInt64' },
  ];
}

/** The row identity: window_start_ms last, as sessions start at any millisecond and two may share a second. */
export function windowSortingKey(window: WindowConfig): string[] {
  return [
    'pipeline',
    'window_start',
    ...window.groupBy.map(groupByColumn),
    'source_partition',
    'window_start_ms',
  ];
}

/**
 * What a cluster shards a window's rows by (clickhouse-cluster.ts): the identity without the second-
 * resolution bound, so every version of a row goes to one shard.
 */
export function windowShardingKey(window: WindowConfig): string[] {
  return ['pipeline', 'window_start_ms', ...window.groupBy.map(groupByColumn), 'source_partition'];
}

/**
 * Users read a window from the view named after it (or after its routed table): one row per window and
 * key, straight. The rows Sluice writes (per computing partition, per version, superseded session rows
 * included) are in the table under this name, for operators.
 */
export function rowsTableOf(relation: string): string {
  return `${relation}_rows`;
}

/**
 * The relation a rows table serves (rowsTableOf's inverse; on a cluster, of its storage table too);
 * undefined for a table of another name.
 */
export function relationOfRowsTable(table: string): string | undefined {
  const rows = table.endsWith('_rows_local') ? table.slice(0, -'_local'.length) : table;
  return rows.endsWith('_rows') ? rows.slice(0, -'_rows'.length) : undefined;
}

/** The rows' bookkeeping, which the view leaves out: which partition computed a row, when, which version. */
const BOOKKEEPING = new Set(['source_partition', 'commit_interval', 'superseded', 'version']);

/** The columns of the window's view. */
export function viewColumns(window: WindowConfig): string[] {
  return windowColumns(window)
    .map((c) => c.name)
    .filter((name) => !BOOKKEEPING.has(name));
}

/**
 * The view named after the window: each row's latest version (FINAL), superseded session rows left out.
 * Re-keyed windows (and windows the source's keying puts in one partition) have one row per window and
 * key, so a plain SELECT is the answer and sums over it are right.
 */
export function windowViewDdl(
  database: string,
  window: WindowConfig,
  relation = window.name,
  cluster?: string,
): string {
  const columns = viewColumns(window).map(quoteIdentifier).join(', ');
  return (
    `CREATE VIEW IF NOT EXISTS ${quoteIdentifier(database)}.${quoteIdentifier(relation)}${onCluster(cluster)} AS ` +
    `SELECT ${columns} FROM ${quoteIdentifier(database)}.${quoteIdentifier(rowsTableOf(relation))} FINAL ` +
    'WHERE superseded = 0'
  );
}

/**
 * The table for a window's rows: named after the window (rowsTableOf) unless routing names it otherwise.
 * Where the server deduplicates by insert token, the table remembers its recent inserts' tokens. On a
 * cluster this is the storage table under the Distributed one (`<table>_local`, replicated, made on
 * every server); a replicated table remembers its inserts by itself.
 */
export function windowTableDdl(
  database: string,
  window: WindowConfig,
  table = window.name,
  server: ClickHouseCapabilities = BASELINE,
  cluster?: string,
): string {
  const stored = cluster === undefined ? table : localTableOf(table);
  return [
    `CREATE TABLE IF NOT EXISTS ${quoteIdentifier(database)}.${quoteIdentifier(stored)}${onCluster(cluster)} (`,
    windowColumns(window, server)
      .map((c) => `  ${quoteIdentifier(c.name)} ${c.type}`)
      .join(',\n'),
    `) ENGINE = ${storageEngine('ReplacingMergeTree', ['version'], { database, cluster }, stored)}`,
    'PARTITION BY toYYYYMM(window_start)',
    `ORDER BY (${windowSortingKey(window).map(quoteIdentifier).join(', ')})`,
    ...(server.insertDeduplicationToken && cluster === undefined
      ? [`SETTINGS non_replicated_deduplication_window = ${DEDUPLICATION_WINDOW}`]
      : []),
  ].join('\n');
}

/** The ALTERs that bring an existing table up to the definition's columns. */
export function missingColumnDdl(
  database: string,
  window: WindowConfig,
  existing: ReadonlySet<string>,
  table = window.name,
  server: ClickHouseCapabilities = BASELINE,
  cluster?: string,
): string[] {
  return windowColumns(window, server)
    .filter((c) => !existing.has(c.name))
    .map(
      (c) =>
        `ALTER TABLE ${quoteIdentifier(database)}.${quoteIdentifier(table)}${onCluster(cluster)} ` +
        `ADD COLUMN ${quoteIdentifier(c.name)} ${c.type}` +
        (c.default === undefined ? '' : ` DEFAULT ${c.default}`),
    );
}

/**
 * Why an existing table's identity cannot hold this definition's rows, or undefined when it can: its
 * sorting key must hold the group key; sessions also need window_start_ms in it.
 */
export function sortingKeyProblem(window: WindowConfig, sortingKey: string): string | undefined {
  const actual = sortingKey.split(',').map((part) => part.trim().replace(/^`|`$/g, ''));
  const needed = windowSortingKey(window).filter(
    (column) => column !== 'window_start_ms' || window.type === 'session',
  );
  const missing = needed.filter((column) => !actual.includes(column));
  if (missing.length === 0) return undefined;
  return `its rows are identified by (${actual.join(', ')}), without ${missing.join(', ')}`;
}
