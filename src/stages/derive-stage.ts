// The `derive` stage: fields computed from others (time parts, URL parts, case), so windows can group
// by them. Pure. A value that cannot be computed (no such field, not a time, not a URL) leaves the new
// field out rather than failing the record: derived fields are conveniences, not contracts.
import type { Pipeline } from '../config/schema.js';
import type { Processor, StageRecord } from '../config/user-functions.js';

type DeriveStage = Extract<Pipeline['stages'][number], { type: 'derive' }>;
type Field = DeriveStage['fields'][number];

const WEEKDAYS = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];

function timeOf(value: unknown): Date | undefined {
  const ms = typeof value === 'number' ? value : typeof value === 'string' ? Date.parse(value) : Number.NaN;
  return Number.isFinite(ms) ? new Date(ms) : undefined;
}

function urlOf(value: unknown): URL | undefined {
  if (typeof value !== 'string' || value === '') return undefined;
  try {
    // Paths alone ("/docs/windows") are URLs on no particular host.
    return new URL(value, 'http://relative.invalid');
  } catch {
    return undefined;
  }
}

export function deriveValue(field: Field, value: unknown): string | number | undefined {
  switch (field.fn) {
    case 'minute':
      return timeOf(value)?.toISOString().slice(0, 16).replace('T', ' ');
    case 'hour':
      return timeOf(value)?.getUTCHours();
    case 'day':
      return timeOf(value)?.toISOString().slice(0, 10);
    case 'weekday': {
      const time = timeOf(value);
      return time === undefined ? undefined : WEEKDAYS[time.getUTCDay()];
    }
    case 'url-host': {
      const url = urlOf(value);
      return url === undefined || url.hostname === 'relative.invalid' ? undefined : url.hostname;
    }
    case 'url-path':
      return urlOf(value)?.pathname;
    case 'url-segment': {
      const url = urlOf(value);
      if (url === undefined) return undefined;
      return url.pathname.split('/').filter(Boolean)[field.index - 1] ?? '';
    }
    case 'lower':
      return typeof value === 'string' ? value.toLowerCase() : undefined;
    case 'upper':
      return typeof value === 'string' ? value.toUpperCase() : undefined;
  }
}

export function deriveProcessor(stage: DeriveStage): Processor {
  return (record: StageRecord) => {
    const event = { ...(record.value as Record<string, unknown>) };
    for (const field of stage.fields) {
      const value = deriveValue(field, event[field.from]);
      if (value !== undefined) event[field.name] = value;
    }
    return event;
  };
}
