// A window result as the row every sink writes: the table's columns (see clickhouse-tables.ts), the
// same fields in a Kafka message. Its identity is the table's sorting key, so two rows of one identity
// in a batch are one row, and the higher version wins, as ReplacingMergeTree would decide.
import type { WindowConfig } from '../config/schema.js';
import type { WindowResult } from '../windows/window-result.js';
import type { ResultRow } from '../config/user-functions.js';
import { groupByColumn } from '../config/columns.js';

export type { ResultRow } from '../config/user-functions.js';

/** A row with where it goes and the source partition it came from. */
export interface RoutedRow {
  window: string;
  /** The group key's values in groupBy order. */
  key: readonly string[];
  row: ResultRow;
}

/** 'YYYY-MM-DD hh:mm:ss' in UTC: the DateTime text form every ClickHouse release parses. */
export function clickhouseDateTime(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
}

/** 'YYYY-MM-DD hh:mm:ss.sss' in UTC: the DateTime64(3) text form. */
export function clickhouseDateTime64(ms: number): string {
  return new Date(ms).toISOString().slice(0, 23).replace('T', ' ');
}

/**
 * The row as a table with DateTime64(3) bounds stores it: its bounds to the millisecond, from the
 * `*_ms` columns (the DateTime text every table takes holds whole seconds).
 */
export function withMillisecondBounds(row: ResultRow): ResultRow {
  const start = Number(row.window_start_ms);
  const end = Number(row.window_end_ms);
  if (!Number.isFinite(start) || !Number.isFinite(end)) return row;
  return { ...row, window_start: clickhouseDateTime64(start), window_end: clickhouseDateTime64(end) };
}

/** Versions within one commit interval: a window's own version is capped here (2^22 - 1). */
const WITHIN_INTERVAL = 2 ** 22;

/**
 * A row's version: its commit interval first, then the window's own version (records absorbed ×2,
 * +1 for the final row). So a row of a later interval replaces any earlier row of its identity, and a
 * replay (whose uncommitted predecessor's rows are withdrawn first) outranks what the crashed attempt
 * wrote. Exact below 2^31 intervals (68 years at one commit a second).
 */
export function rowVersion(interval: number, windowVersion: number): number {
  return interval * WITHIN_INTERVAL + Math.min(windowVersion, WITHIN_INTERVAL - 1);
}

export function resultRow(
  pipeline: string,
  window: WindowConfig,
  result: WindowResult,
  sourcePartition: number,
  /** The source partition's commit interval whose snapshot makes this row's state durable. */
  interval: number,
): RoutedRow {
  const row: ResultRow = {
    pipeline,
    window_start: clickhouseDateTime(result.window.start),
    window_end: clickhouseDateTime(result.window.end),
    window_start_ms: result.window.start,
    window_end_ms: result.window.end,
    source_partition: sourcePartition,
    ...result.values,
    emit_reason: result.reason,
    superseded: result.reason === 'superseded' ? 1 : 0,
    commit_interval: interval,
    // Only `sluice late replay` merges late events into a row; the pipeline's rows hold none.
    late_applied: '',
    version: rowVersion(interval, result.version),
  };
  window.groupBy.forEach((field, i) => (row[groupByColumn(field)] = result.key[i] ?? ''));
  return { window: window.name, key: result.key, row };
}

/** The row's identity within its table: the sorting key's values. */
export function rowIdentity(routed: RoutedRow): string {
  return JSON.stringify([routed.row.window_start_ms, routed.key, routed.row.source_partition]);
}

/** Of two rows with one identity, the one ReplacingMergeTree(version) keeps: the higher version, else the later. */
export function newerRow(current: RoutedRow, incoming: RoutedRow): RoutedRow {
  return Number(incoming.row.version) >= Number(current.row.version) ? incoming : current;
}

/** `views_{country}` with the row's values; the window's name when no template is set. */
export function routeTable(template: string | undefined, window: WindowConfig, routed: RoutedRow): string {
  if (!template) return window.name;
  return template.replace(/\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, field: string) => {
    const value = String(routed.row[field] ?? '');
    return value.replace(/[^A-Za-z0-9_]/g, '_') || '_';
  });
}
