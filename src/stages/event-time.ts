// An event's time from the field the pipeline names (a dotted path) in the format it states, or the
// Kafka record's timestamp. A value that does not fit says what was expected and what was found.
import { readField, type FieldPath } from '../aggregations/field-path.js';
import type { TimeConfig } from '../config/schema.js';

export type TimeFormat = TimeConfig['format'];

/** Epoch milliseconds, or why the value holds no time (the message names the field). */
export function timeOf(value: unknown, field: string, format: TimeFormat): number | string {
  const wrong = (expected: string) =>
    `field '${field}': expected ${expected}, found ${value === undefined ? 'nothing' : JSON.stringify(value)}`;
  const digits = typeof value === 'string' && /^-?\d+(\.\d+)?$/.test(value.trim());
  switch (format) {
    case 'epoch-millis':
    case 'epoch-seconds': {
      const n = typeof value === 'number' ? value : digits ? Number(value) : Number.NaN;
      if (!Number.isFinite(n))
        return wrong(`epoch ${format === 'epoch-seconds' ? 'seconds' : 'milliseconds'}`);
      return format === 'epoch-seconds' ? Math.round(n * 1000) : n;
    }
    case 'iso-8601': {
      const ms = typeof value === 'string' ? Date.parse(value) : Number.NaN;
      return Number.isNaN(ms) ? wrong('an ISO-8601 time such as 2026-11-30T08:00:00Z') : ms;
    }
    case 'auto': {
      if (typeof value === 'number') return Number.isFinite(value) ? value : wrong('epoch milliseconds');
      const ms = typeof value === 'string' ? Date.parse(value) : Number.NaN;
      return Number.isNaN(ms) ? wrong('epoch milliseconds or an ISO-8601 time') : ms;
    }
  }
}

/** Reads an event's time: from `path` in `event`, or the record timestamp (epoch ms as a string) without one. */
export function eventTimeOf(
  event: unknown,
  time: { field: string | undefined; path: FieldPath | undefined; format: TimeFormat },
  recordTimestamp: string,
): number | string {
  if (time.field === undefined || time.path === undefined) return Number(recordTimestamp);
  return timeOf(readField(event, time.path), time.field, time.format);
}
