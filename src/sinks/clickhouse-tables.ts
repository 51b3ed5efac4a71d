// The ClickHouse tables that window results land in, one per window definition. Rows have a
// deterministic identity (pipeline, window start in ms, group key, source partition) and a version, in a
// ReplacingMergeTree(version), so writing a result again replaces it instead of adding to it.
// The version grows with the records a window absorbed (×2, +1 for the final row), so an early update
// never replaces the final row, and a window re-emitted from a partial replay never replaces a fuller
// one. A session row that a merge replaced is written once more with superseded = 1.
// The SQL is kept to what ClickHouse 18.16 (Debian's package) and current releases both accept.
import type { AggregationConfig, WindowConfig } from '../config/schema.js';

export function quoteIdentifier(name: string): string {
  return `\`${name.replace(/`/g, '``')}\``;
}

function aggregationColumns(aggregation: AggregationConfig): string[] {
  const column = quoteIdentifier(aggregation.name);
  switch (aggregation.fn) {
    case 'sum':
      return [`  ${column} Float64,`];
    case 'avg':
    case 'min':
    case 'max':
      return [`  ${column} Nullable(Float64),`];
    case 'count_distinct':
      return [`  ${column} UInt64,`, `  ${quoteIdentifier(`${aggregation.name}_exact`)} UInt8,`];
  }
}

export function windowTableDdl(database: string, window: WindowConfig): string {
  const keyColumns = window.groupBy.map((field) => `  ${quoteIdentifier(field)} String,`);
  // window_start_ms last: session windows start at any millisecond, and two of a key may share a second.
  const orderBy = [
    'pipeline',
    'window_start',
    ...window.groupBy.map(quoteIdentifier),
    'source_partition',
    'window_start_ms',
  ];
  return [
    `CREATE TABLE IF NOT EXISTS ${quoteIdentifier(database)}.${quoteIdentifier(window.name)} (`,
    '  pipeline String,',
    "  window_start DateTime('UTC'),",
    "  window_end DateTime('UTC'),",
    '  window_start_ms UInt64,',
    '  window_end_ms UInt64,',
    ...keyColumns,
    '  source_partition UInt32,',
    '  count UInt64,',
    ...window.aggregations.flatMap(aggregationColumns),
    '  emit_reason String,',
    '  superseded UInt8,',
    '  version UInt64',
    ') ENGINE = ReplacingMergeTree(version)',
    'PARTITION BY toYYYYMM(window_start)',
    `ORDER BY (${orderBy.join(', ')})`,
  ].join('\n');
}
