// Records replayed from a file: NDJSON (one JSON event per line) or CSV (a header row names the
// fields; numbers become numbers). Each event becomes one record, keyed by a field of it when given.
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { parse } from 'csv-parse';
import { ConfigError } from '../../config/config-error.js';
import type { FeedRecord } from './synthetic-feed.js';

export type FileFormat = 'ndjson' | 'csv';

export function formatOf(path: string, explicit?: string): FileFormat {
  const format =
    explicit ??
    (/\.csv$/i.test(path) ? 'csv' : /\.(nd)?jsonl?$|\.ndjson$/i.test(path) ? 'ndjson' : undefined);
  if (format !== 'csv' && format !== 'ndjson')
    throw new ConfigError([
      {
        path: '--format',
        expected: "'ndjson' or 'csv' (or a file ending in .ndjson, .jsonl or .csv)",
        found: explicit ?? path,
      },
    ]);
  return format;
}

function keyOf(event: Record<string, unknown>, keyField: string | undefined): string | null {
  const key = keyField === undefined ? undefined : event[keyField];
  if (key === undefined || key === null) return null;
  return typeof key === 'string' || typeof key === 'number' || typeof key === 'boolean'
    ? String(key)
    : JSON.stringify(key);
}

/** The file's events in order; a line that is not JSON is sent as it is (the pipeline dead-letters it). */
export async function* fileFeed(
  path: string,
  format: FileFormat,
  keyField: string | undefined,
): AsyncGenerator<FeedRecord> {
  if (format === 'ndjson') {
    const lines = createInterface({ input: createReadStream(path), crlfDelay: Infinity });
    for await (const line of lines) {
      if (line.trim() === '') continue;
      let event: Record<string, unknown> | undefined;
      try {
        event = JSON.parse(line) as Record<string, unknown>;
      } catch {
        event = undefined;
      }
      yield {
        kind: event ? 'event' : 'malformed',
        key: event ? keyOf(event, keyField) : null,
        value: Buffer.from(line),
      };
    }
    return;
  }
  const rows = createReadStream(path).pipe(
    parse({ columns: true, cast: true, skip_empty_lines: true, trim: true }),
  );
  for await (const row of rows as AsyncIterable<Record<string, unknown>>) {
    const event = Object.fromEntries(Object.entries(row).filter(([, v]) => v !== ''));
    yield { kind: 'event', key: keyOf(event, keyField), value: Buffer.from(JSON.stringify(event)) };
  }
}
