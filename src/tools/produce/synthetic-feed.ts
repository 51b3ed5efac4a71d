// The records `sluice produce` and the demo send: live synthetic user events (event time = now), with
// a share of late events (event time well behind, beyond any sensible grace) and of malformed records
// of each kind a parse stage must dead-letter. Seeded: the same seed gives the same stream.
import { seededRandom, userEventStream } from './sample-events.js';

export type RecordKind = 'event' | 'late' | 'malformed';

export interface FeedRecord {
  kind: RecordKind;
  key: string | null;
  value: Buffer;
}

export const MALFORMED_KINDS = [
  'invalid-json',
  'truncated-json',
  'missing-event-time',
  'wrong-type',
  'missing-fields',
  'empty',
] as const;

export interface SyntheticOptions {
  seed: number;
  /** Share of records that are late (0..1). */
  late: number;
  /** Share of records that are malformed (0..1). */
  malformed: number;
  /** How far behind now a late event's time is. */
  lateByMs: number;
  /** Size of the user pool (default 50): about five per event per second keeps sessions realistic. */
  users?: number;
  /** Wall clock: event times follow it. */
  now?: () => number;
}

function malformedRecord(kind: (typeof MALFORMED_KINDS)[number], good: Record<string, unknown>): string {
  const json = JSON.stringify(good);
  switch (kind) {
    case 'invalid-json':
      return `{eventId: ${String(good.eventId)}, type: page_view}`;
    case 'truncated-json':
      return json.slice(0, Math.floor(json.length / 2));
    case 'missing-event-time': {
      const rest = { ...good };
      delete rest.timestamp;
      return JSON.stringify(rest);
    }
    case 'wrong-type':
      return JSON.stringify({ ...good, value: 'twelve', timestamp: 'yesterday' });
    case 'missing-fields':
      return JSON.stringify({ type: good.type, timestamp: good.timestamp });
    case 'empty':
      return '';
  }
}

export function* syntheticFeed(options: SyntheticOptions): Generator<FeedRecord> {
  const now = options.now ?? Date.now;
  const next = seededRandom(options.seed ^ 0x5eed);
  let malformedTurn = 0;
  for (const event of userEventStream(options.seed, () => now(), 500, options.users)) {
    const roll = next();
    if (roll < options.malformed) {
      const kind = MALFORMED_KINDS[malformedTurn++ % MALFORMED_KINDS.length]!;
      yield { kind: 'malformed', key: event.userId, value: Buffer.from(malformedRecord(kind, { ...event })) };
    } else if (roll < options.malformed + options.late) {
      const late = { ...event, timestamp: event.timestamp - options.lateByMs };
      yield { kind: 'late', key: event.userId, value: Buffer.from(JSON.stringify(late)) };
    } else {
      yield { kind: 'event', key: event.userId, value: Buffer.from(JSON.stringify(event)) };
    }
  }
}
