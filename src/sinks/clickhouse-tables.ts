// The ClickHouse tables that window results land in, one per window definition. Rows have a
// deterministic identity (pipeline, window start, group key, source partition) and a version, in a
// ReplacingMergeTree(version), so writing a result again replaces it instead of adding to it.
// The version is the number of records the window absorbed: after a restart, a window re-emitted from
// a replay that began mid-window has absorbed fewer records, so it never replaces the complete row.
// The SQL is kept to what ClickHouse 18.16 (Debian's package) and current releases both accept.
import type { WindowConfig } from '../config/schema.js';

export function quoteIdentifier(name: string): string {
  return `\`${name.replace(/`/g, '``')}\``;
}

export function windowTableDdl(database: string, window: WindowConfig): string {
  const keyColumns = window.groupBy.map((field) => `  ${quoteIdentifier(field)} String,`);
  const orderBy = ['pipeline', 'window_start', ...window.groupBy.map(quoteIdentifier), 'source_partition'];
  return [
    `CREATE TABLE IF NOT EXISTS ${quoteIdentifier(database)}.${quoteIdentifier(window.name)} (`,
    '  pipeline String,',
    "  window_start DateTime('UTC'),",
    "  window_end DateTime('UTC'),",
    ...keyColumns,
    '  source_partition UInt32,',
    '  count UInt64,',
    '  version UInt64',
    ') ENGINE = ReplacingMergeTree(version)',
    'PARTITION BY toYYYYMM(window_start)',
    `ORDER BY (${orderBy.join(', ')})`,
  ].join('\n');
}
