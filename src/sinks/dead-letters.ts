// The shape of a record that leaves the main flow (a dead letter, a key-capped event, an overflow
// record, a late event): the original key, value and headers, untouched, plus `sluice.*` headers with
// where it came from and why. `sluice dlq replay` strips those headers again.
import type { OutgoingRecord, RecordHeaders } from '../source/outgoing-record.js';
import { SluiceError, messageOf } from '../errors.js';
import type { FetchedRecord } from '../source/fetched-record.js';
import { ONLY_WINDOWS_HEADER } from '../windows/key-cap.js';
import { REPARTITION_HEADERS } from '../source/repartition-records.js';

export const DEAD_LETTER_HEADERS = {
  pipeline: 'sluice.pipeline',
  sourceTopic: 'sluice.source.topic',
  sourcePartition: 'sluice.source.partition',
  sourceOffset: 'sluice.source.offset',
  stage: 'sluice.stage',
  reason: 'sluice.reason',
  error: 'sluice.error',
  errorCode: 'sluice.error.code',
  attempts: 'sluice.attempts',
  failedAt: 'sluice.failed.at',
} as const;

/** A key-capped event's dead letter: the windows that dropped it (see key-cap.ts) and their caps. */
export const KEY_CAP_HEADERS = {
  windows: 'sluice.key-cap.windows',
  maxKeys: 'sluice.key-cap.max-keys',
} as const;

/**
 * A late event's record: the definitions it was late for, how late (the most), its event time, and
 * the tumbling and sliding windows it missed (`name@start`, comma-separated; see key-cap.ts), which
 * `sluice late replay` merges it into.
 */
export const LATE_HEADERS = {
  windows: 'sluice.late.windows',
  byMs: 'sluice.late.by.ms',
  eventTime: 'sluice.event.time',
  windowRefs: 'sluice.late.window.refs',
} as const;

export interface DeadLetterContext {
  pipeline: string;
  topic: string;
  partition: number;
  stage: string;
  reason: 'stage-error' | 'key-cap' | 'overflow' | 'late' | 'sink-rejected' | 'sink-exhausted';
  error?: unknown;
  attempts: number;
  failedAtMs: number;
  /** More `sluice.*` headers (late events: how late, for which windows). */
  extra?: Record<string, string>;
}

function errorCode(error: unknown): string {
  if (error instanceof SluiceError) return error.code;
  return error instanceof Error ? error.name : 'Error';
}

export function deadLetterMessage(raw: FetchedRecord, context: DeadLetterContext): OutgoingRecord {
  const h = DEAD_LETTER_HEADERS;
  const headers: RecordHeaders = {
    ...raw.headers,
    [h.pipeline]: context.pipeline,
    [h.sourceTopic]: context.topic,
    [h.sourcePartition]: String(context.partition),
    [h.sourceOffset]: raw.offset,
    [h.stage]: context.stage,
    [h.reason]: context.reason,
    [h.attempts]: String(context.attempts),
    [h.failedAt]: new Date(context.failedAtMs).toISOString(),
    ...context.extra,
  };
  if (context.error !== undefined) {
    headers[h.error] = messageOf(context.error).slice(0, 4_000);
    headers[h.errorCode] = errorCode(context.error);
  }
  return { key: raw.key, value: raw.value, headers, timestamp: raw.timestamp };
}

/**
 * A result row a sink could not write: the row as JSON, with the sink, its table or topic, and why.
 * Not a source record: `sluice dlq replay` leaves these out, `sluice dlq replay --sink-rows` writes
 * them to their table once the sink works again.
 */
export function sinkDeadLetterMessage(
  row: Record<string, unknown>,
  context: Omit<DeadLetterContext, 'stage' | 'attempts'> & { sink: string; group: string },
): OutgoingRecord {
  const h = DEAD_LETTER_HEADERS;
  const headers: RecordHeaders = {
    [h.pipeline]: context.pipeline,
    [h.sourceTopic]: context.topic,
    [h.sourcePartition]: String(context.partition),
    [h.stage]: `sink:${context.sink}`,
    [h.reason]: context.reason,
    [h.failedAt]: new Date(context.failedAtMs).toISOString(),
    'sluice.sink': context.sink,
    'sluice.sink.target': context.group,
  };
  if (context.error !== undefined) {
    headers[h.error] = messageOf(context.error).slice(0, 4_000);
    headers[h.errorCode] = errorCode(context.error);
  }
  return { key: null, value: JSON.stringify(row), headers };
}

/** A dead letter that holds a sink's result row rather than a source record. */
export function isSinkDeadLetter(headers: RecordHeaders | undefined): boolean {
  const reason = headers?.[DEAD_LETTER_HEADERS.reason]?.toString() ?? '';
  return reason.startsWith('sink-');
}

/** The original headers of a dead letter, without Sluice's. */
export function originalHeaders(headers: RecordHeaders | undefined): RecordHeaders {
  const names = new Set<string>(Object.values(DEAD_LETTER_HEADERS));
  return Object.fromEntries(
    Object.entries(headers ?? {}).filter(([name]) => !names.has(name) && !name.startsWith('sluice.')),
  );
}

/** Where a replayed dead letter came from (dead-letter topic/partition/offset). */
export const REPLAYED_FROM_HEADER = 'sluice.replayed.from';

/**
 * The headers a replayed dead letter goes back to its source topic with: the original ones, where it
 * was replayed from, and, for an event the key cap dropped, the windows it missed (`sluice.only.windows`,
 * kept from an earlier replay otherwise), so the pipeline counts it there and nowhere twice.
 */
export function replayHeaders(headers: RecordHeaders | undefined, replayedFrom: string): RecordHeaders {
  const last = (name: string) => {
    const value = headers?.[name];
    return (Array.isArray(value) ? value.at(-1) : value)?.toString();
  };
  const only = last(KEY_CAP_HEADERS.windows) ?? last(ONLY_WINDOWS_HEADER);
  // A re-keyed event's own time (a dead letter of the re-keyed windows goes back to the repartition topic).
  const eventTime = last(REPARTITION_HEADERS.eventTime);
  return {
    ...originalHeaders(headers),
    [REPLAYED_FROM_HEADER]: replayedFrom,
    ...(only === undefined ? {} : { [ONLY_WINDOWS_HEADER]: only }),
    ...(eventTime === undefined ? {} : { [REPARTITION_HEADERS.eventTime]: eventTime }),
  };
}
