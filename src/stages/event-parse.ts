// Parse stage, second half: a decoded document (JSON or Avro, record-decoders.ts) → the event its
// declared contract accepts (event-contract.ts), with its event time (event-time.ts). A document that
// breaks the contract or holds no usable event time yields a RecordError naming the field.
import type { FieldPath } from '../aggregations/field-path.js';
import type { EventContract } from './event-contract.js';
import { eventTimeOf, type TimeFormat } from './event-time.js';
import { RecordError, type RecordOrigin } from './record-error.js';

export interface ParsedEvent {
  event: Record<string, unknown>;
  eventTimeMs: number;
}

export interface RawRecord {
  value: Buffer | null;
  /** The Kafka record timestamp, epoch milliseconds as a string (kafkajs' form). */
  timestamp: string;
  headers?: Readonly<Record<string, Buffer | string | (Buffer | string)[] | undefined>>;
}

/**
 * Where an event's time is: a field (dotted path, compiled once) in a format, or the record timestamp;
 * or, for events re-keyed through the repartition topic, a header in epoch milliseconds.
 */
export interface EventTime {
  field: string | undefined;
  path: FieldPath | undefined;
  format: TimeFormat;
  header?: string;
}

/**
 * Epoch milliseconds, or an ISO-8601 time: a dead letter of a re-keyed window carries its event time
 * as the dead-letter topic writes it (ISO), and goes back to the repartition topic so.
 */
function headerTime(record: RawRecord, header: string): number | string {
  const value = record.headers?.[header];
  const text = (Array.isArray(value) ? value.at(-1) : value)?.toString();
  const ms = text === undefined ? Number.NaN : /^-?\d+$/.test(text) ? Number(text) : Date.parse(text);
  return Number.isFinite(ms)
    ? ms
    : `header '${header}': expected epoch milliseconds or an ISO-8601 time, found ${text ?? 'nothing'}`;
}

export function parseEvent(
  document: unknown,
  record: RawRecord,
  origin: RecordOrigin,
  contract: EventContract,
  time: EventTime,
): ParsedEvent {
  let event: Record<string, unknown>;
  try {
    event = contract(document);
  } catch (error) {
    throw new RecordError(origin, 'parse', (error as Error).message, error);
  }
  const eventTimeMs =
    time.header === undefined ? eventTimeOf(event, time, record.timestamp) : headerTime(record, time.header);
  if (typeof eventTimeMs === 'string') throw new RecordError(origin, 'parse', eventTimeMs);
  if (!Number.isFinite(eventTimeMs))
    throw new RecordError(origin, 'parse', 'the event time is not a finite number');
  return { event, eventTimeMs };
}
