// Parse stage, second half: a decoded document (JSON or Avro, record-decoders.ts) → a validated user
// event with its event time. A document that fails the event schema or has no usable event time yields
// a RecordError naming the field.
import { RecordError, type RecordOrigin } from './record-error.js';
import { isPlainValidEvent, userEventSchema, type UserEvent } from './user-event.js';

export interface ParsedEvent {
  event: UserEvent;
  eventTimeMs: number;
}

export interface RawRecord {
  value: Buffer | null;
  /** The Kafka record timestamp, epoch milliseconds as a string (kafkajs' form). */
  timestamp: string;
}

function eventTimeOf(raw: unknown, field: string | undefined, recordTimestamp: string): number | string {
  if (field === undefined) return Number(recordTimestamp);
  if (typeof raw === 'number') return raw;
  if (typeof raw === 'string') {
    const ms = Date.parse(raw);
    return Number.isNaN(ms)
      ? `field '${field}': expected epoch milliseconds or an ISO-8601 time, found ${JSON.stringify(raw)}`
      : ms;
  }
  return `field '${field}': expected the event time, found ${raw === undefined ? 'nothing' : JSON.stringify(raw)}`;
}

/** A decoded document (from JSON or Avro) → a validated user event with its event time. */
export function validateEvent(
  document: unknown,
  record: RawRecord,
  origin: RecordOrigin,
  timeField: string | undefined,
): ParsedEvent {
  let event: UserEvent;
  if (isPlainValidEvent(document)) event = document;
  else {
    const result = userEventSchema.safeParse(document);
    if (!result.success) {
      const issue = result.error.issues[0];
      const path = issue?.path.join('.') || '(root)';
      throw new RecordError(origin, 'parse', `field '${path}': ${issue?.message ?? 'invalid'}`, result.error);
    }
    event = result.data;
  }
  const time = eventTimeOf(
    timeField === undefined ? undefined : event[timeField],
    timeField,
    record.timestamp,
  );
  if (typeof time === 'string' || !Number.isFinite(time)) {
    throw new RecordError(
      origin,
      'parse',
      typeof time === 'string' ? time : 'the event time is not a finite number',
    );
  }
  return { event, eventTimeMs: time };
}
