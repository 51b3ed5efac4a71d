// The records of the repartition topic (rekeying.ts): an event on its way from its source partition to
// the partition that computes its re-keyed windows, and the watermark markers that let those
// partitions know how far every source partition's event time has come.
//
// An event is written once per group key it has windows to enter, keyed by that group key (so each
// window and key meets in one partition), with its source position, its event time, the watermark of
// its source partition just before it, and the windows it may enter (`sluice.only.windows`: its
// group's windows, less those it was late for at the source). A marker carries a source partition's
// watermark to every repartition partition, at each commit; a partition that has never held an event
// says so, and is left out until it does (it would hold every window open for good).
// Pure: records in, records out.
import type { OutgoingRecord, RecordHeaders } from './outgoing-record.js';
import { ONLY_WINDOWS_HEADER } from '../windows/key-cap.js';

export const REPARTITION_HEADERS = {
  sourcePartition: 'sluice.source.partition',
  sourceOffset: 'sluice.source.offset',
  eventTime: 'sluice.event.time',
  /** The source partition's watermark before the event (absent while it has none). */
  watermark: 'sluice.source.watermark',
  /** On a marker: the source partition it speaks for. */
  marker: 'sluice.watermark.marker',
} as const;

/** What a marker's watermark header holds for a source partition that has never held an event. */
const EMPTY = 'empty';

/** One group key of re-keyed windows (RekeyGroup), compiled: how to read its key, and its windows. */
export interface RepartitionGroup {
  keyOf(event: unknown): readonly string[];
  /** The names of its windows. */
  windows: ReadonlySet<string>;
}

export interface RepartitionedEvent {
  value: unknown;
  eventTimeMs: number;
  sourcePartition: number;
  sourceOffset: string;
  /** The source partition's watermark before the event. */
  watermark: number;
  /** The windows the event may enter (EventLateness.admitted): refs `name` or `name@start`. */
  admitted: readonly string[];
}

/** Avro longs decode to BigInt, which JSON has no form for: written as numbers when exact, else text. */
function jsonValue(_key: string, value: unknown): unknown {
  if (typeof value !== 'bigint') return value;
  return value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= BigInt(Number.MIN_SAFE_INTEGER)
    ? Number(value)
    : value.toString();
}

const refWindow = (ref: string) => {
  const at = ref.indexOf('@');
  return at < 0 ? ref : ref.slice(0, at);
};

/** The event's records: one per group with a window the event may enter, keyed by the group's key. */
export function repartitionRecords(
  event: RepartitionedEvent,
  groups: readonly RepartitionGroup[],
): OutgoingRecord[] {
  const records: OutgoingRecord[] = [];
  let value: string | undefined;
  /** The entry's fields every group shares, and the value as a JSON string (escaped once, not per group). */
  let shared: { head: string; tail: string } | undefined;
  const source = String(event.sourcePartition);
  for (const group of groups) {
    const admitted = event.admitted.filter((ref) => group.windows.has(refWindow(ref)));
    if (admitted.length === 0) continue;
    value ??= JSON.stringify(event.value, jsonValue);
    const watermark = Number.isFinite(event.watermark) ? String(event.watermark) : undefined;
    const headers: RecordHeaders = {
      [REPARTITION_HEADERS.sourcePartition]: source,
      [REPARTITION_HEADERS.sourceOffset]: event.sourceOffset,
      [REPARTITION_HEADERS.eventTime]: String(event.eventTimeMs),
      [ONLY_WINDOWS_HEADER]: admitted.join(','),
    };
    if (watermark !== undefined) headers[REPARTITION_HEADERS.watermark] = watermark;
    const key = JSON.stringify(group.keyOf(event.value));
    shared ??= {
      head: `,${JSON.stringify(event.sourceOffset)},${JSON.stringify(event.eventTimeMs)},${watermark ?? 'null'},`,
      tail: `,${JSON.stringify(value)}]`,
    };
    const text = `[${JSON.stringify(key)}${shared.head}${JSON.stringify(headers[ONLY_WINDOWS_HEADER])}${shared.tail}`;
    records.push({ key, value, headers, packEntry: { source, text } });
  }
  return records;
}

/** A source partition's watermark to every repartition partition. */
export function watermarkMarkers(
  sourcePartition: number,
  watermark: number,
  /** The source partition has never held an event (its watermark says nothing yet). */
  empty: boolean,
  partitions: number,
): OutgoingRecord[] {
  const headers: RecordHeaders = {
    [REPARTITION_HEADERS.marker]: String(sourcePartition),
    [REPARTITION_HEADERS.watermark]: empty ? EMPTY : String(watermark),
  };
  return Array.from({ length: partitions }, (_, partition) => ({
    partition,
    key: null,
    value: null,
    headers,
  }));
}

/** What a repartition record says of its source: a marker's watermark, or an event's. */
export type SourceReport =
  | { kind: 'marker'; sourcePartition: number; watermark: number; empty: boolean }
  | { kind: 'event'; sourcePartition: number; watermark: number };

/** Reads a record's source report from its headers (as text); undefined when it carries none. */
export function sourceReportOf(headers: Readonly<Record<string, string>>): SourceReport | undefined {
  const marker = headers[REPARTITION_HEADERS.marker];
  const text = headers[REPARTITION_HEADERS.watermark];
  const watermark = text === undefined || text === EMPTY ? Number.NEGATIVE_INFINITY : Number(text);
  if (marker !== undefined)
    return { kind: 'marker', sourcePartition: Number(marker), watermark, empty: text === EMPTY };
  const source = headers[REPARTITION_HEADERS.sourcePartition];
  if (source === undefined) return undefined;
  return { kind: 'event', sourcePartition: Number(source), watermark };
}
