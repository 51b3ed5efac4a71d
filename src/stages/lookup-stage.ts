// The `lookup` stage: joins each event with a row found by a key field, from a ClickHouse table or a
// local file. A file is read once at start into memory. ClickHouse rows go through an LRU cache with a
// TTL (misses cached too, so an unknown key does not cost a query per event); concurrent events with
// the same key share one query, and at most `maxConcurrent` queries run at once over all partitions.
// A query that fails throws: the stage's retry, timeout and error policy decide what happens.
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { ClickHouseClient } from '@clickhouse/client';
import { parse as parseCsv } from 'csv-parse/sync';
import { LRUCache } from 'lru-cache';
import pLimit from 'p-limit';
import type { Pipeline } from '../config/schema.js';
import { ConfigError } from '../config/config-error.js';
import { SluiceError, messageOf } from '../errors.js';
import type { Processor, StageRecord } from '../config/user-functions.js';

type LookupStage = Extract<Pipeline['stages'][number], { type: 'lookup' }>;
type Row = Record<string, unknown>;

/** What the source says of a key: its row, or that it has none (cached like a row). */
type Found = { row: Row } | { row: undefined };

export type LookupResult = 'hit' | 'miss' | 'absent';

/**
 * A lookup that found no row under `onMissing: fail`, or whose source failed. Retriable, as a plain
 * error always was here: the stage's retry policy, then its error policy, decide what happens.
 */
export class LookupError extends SluiceError {
  constructor(message: string, cause?: unknown) {
    super(message, { code: 'SLUICE_LOOKUP_FAILED', retriable: true, cause });
  }
}

export interface LookupContext {
  baseDir: string;
  /** The pipeline's ClickHouse, for `from.clickhouse`. */
  clickhouse?: ClickHouseClient;
  /** Each lookup's outcome: served from the cache, fetched, or a key the source does not have. */
  observed?: (result: LookupResult) => void;
  /** The clock the cache's TTL runs on (tests pass their own). */
  now?: () => number;
}

/** ClickHouse 18.16 has no query parameters: a key goes in as an escaped string literal. */
export function sqlString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

function keyText(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  return typeof value === 'string' ? value : JSON.stringify(value);
}

async function loadFile(path: string, column: string, stage: string): Promise<Map<string, Row>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new ConfigError(
      [{ path: `stages[${stage}].from.file`, expected: 'a readable CSV, JSON or NDJSON file', found: path }],
      undefined,
      error,
    );
  }
  let rows: Row[];
  if (/\.csv$/i.test(path))
    rows = parseCsv<Row>(text, { columns: true, cast: true, skip_empty_lines: true, trim: true });
  else if (text.trimStart().startsWith('[')) rows = JSON.parse(text) as Row[];
  else
    rows = text
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => JSON.parse(line) as Row);
  const byKey = new Map<string, Row>();
  for (const row of rows) {
    const key = keyText(row[column]);
    if (key !== undefined) byKey.set(key, row);
  }
  return byKey;
}

export interface Lookup {
  process: Processor;
  /** Cached entries now (for tests and status). */
  readonly size: number;
}

export async function createLookup(stage: LookupStage, context: LookupContext): Promise<Lookup> {
  let find: (key: string) => Found | Promise<Found>;
  let size = () => 0;
  if ('file' in stage.from) {
    const rows = await loadFile(
      resolve(context.baseDir, stage.from.file),
      stage.from.column ?? stage.key,
      stage.name,
    );
    find = (key) => {
      const row = rows.get(key);
      context.observed?.(row ? 'hit' : 'absent');
      return { row };
    };
    size = () => rows.size;
  } else {
    const { table, column } = stage.from.clickhouse;
    const client = context.clickhouse;
    if (!client)
      throw new ConfigError([
        {
          path: `stages[${stage.name}].from.clickhouse`,
          expected: 'a ClickHouse to look up in (sinks.clickhouse or CLICKHOUSE_URL)',
          found: undefined,
        },
      ]);
    const limit = pLimit(stage.maxConcurrent);
    const clock = context.now;
    const cache = new LRUCache<string, Found>({
      max: stage.cache.maxEntries,
      ttl: stage.cache.ttl,
      // A given clock is read on every check (lru-cache otherwise reuses a reading for 1 ms).
      ...(clock ? { perf: { now: clock }, ttlResolution: 0 } : {}),
      fetchMethod: (key) =>
        limit(async () => {
          const result = await client.query({
            query: `SELECT * FROM ${table} WHERE ${column} = ${sqlString(key)} LIMIT 1`,
            format: 'JSONEachRow',
          });
          const [row] = await result.json<Row>();
          return { row };
        }),
    });
    const fetchRow = async (key: string): Promise<Found> => {
      const status: LRUCache.Status<string, Found> = {};
      let found: Found | undefined;
      try {
        found = await cache.fetch(key, { status });
      } catch (error) {
        throw new LookupError(`lookup of ${key} in ${table} failed: ${messageOf(error)}`, error);
      }
      // A key already cached, or already being fetched for another event, cost no query of its own.
      const shared = status.fetch === 'hit' || status.fetch === 'inflight';
      const result = found?.row === undefined ? 'absent' : shared ? 'hit' : 'miss';
      context.observed?.(result);
      return found ?? { row: undefined };
    };
    // A cached key is answered synchronously: no promise, no timer, nothing for the stage to await.
    find = (key) => {
      const cached = cache.get(key);
      if (cached === undefined) return fetchRow(key);
      context.observed?.(cached.row === undefined ? 'absent' : 'hit');
      return cached;
    };
    size = () => cache.size;
  }

  const merge = (event: Row, row: Row | undefined): Row | null => {
    if (row === undefined) {
      if (stage.onMissing === 'drop') return null;
      if (stage.onMissing === 'fail')
        throw new LookupError(
          `field '${stage.key}': no row for ${JSON.stringify(event[stage.key])} in the lookup source`,
        );
      return event;
    }
    // In place: the event is this stage's own (decoded for this record) and copying a dozen fields
    // per event into a new object was 9 % of the full pipeline's profile. The event's fields win.
    if (stage.into) event[stage.into] = row;
    else for (const field in row) if (!(field in event)) event[field] = row[field];
    return event;
  };
  const process: Processor = (record: StageRecord) => {
    const event = record.value as Row;
    const key = keyText(event[stage.key]);
    if (key === undefined) return merge(event, undefined);
    const found = find(key);
    return found instanceof Promise ? found.then((f) => merge(event, f.row)) : merge(event, found.row);
  };
  return {
    process,
    get size() {
      return size();
    },
  };
}
