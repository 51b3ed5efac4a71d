// Re-keyed events travel packed: consecutive events a source partition sends to one repartition
// partition go as one Kafka record holding many (a pack), not one record each. The Kafka client's
// cost is per record (kafkajs encodes, checksums and copies every record and every header of it, and
// decodes them again on the re-keyed side): measured on the bench's simple job, the repartition hop
// took about 77 of the 91 µs of CPU an event cost, and a commit's 30,000 records took seconds to send.
// A pack of 64 KiB costs what one record did.
//
// A pack is one record with the header `sluice.packed` (its format, "1") and its source partition;
// its value is a JSON array of entries, one per event: [key, source offset, event time, watermark
// before the event or null, the windows it may enter, event JSON]. Unpacked, each entry is exactly the
// record repartitionRecords made (same key, value and headers), at the pack's offset, so everything the
// re-keyed side does with an event (its windows, lateness, dead letters) is unchanged. Watermark
// markers, and any record of another shape, go as they are, in their place: a pack holds only events
// that were consecutive, so the order within a repartition partition is the order they were made in.
// Pure: records in, records out.
import { SluiceError } from '../errors.js';
import { ONLY_WINDOWS_HEADER } from '../windows/key-cap.js';
import type { FetchedRecord } from './fetched-record.js';
import type { OutgoingRecord, PackEntry, RecordHeaders } from './outgoing-record.js';
import { REPARTITION_HEADERS } from './repartition-records.js';

export const PACKED_HEADER = 'sluice.packed';
/** The pack format this version writes and reads. */
const FORMAT = '1';

/** A pack closes at this many bytes of entries (a broker's default record limit is 1 MiB)… */
export const PACK_MAX_BYTES = 64 * 1024;
/** …or at this many events. */
export const PACK_MAX_ENTRIES = 1_000;

/** The most events, and characters of entries, one pack holds. */
export interface PackBounds {
  entries: number;
  bytes: number;
}

/**
 * The largest pack the re-keyed side can always take: a pack counts against its buffer bounds as its
 * events and bytes, and a partition paused on them resumes below the low-water mark, so a pack must fit
 * in what is left above it (else the partition would resume, refuse the pack and pause again, for as
 * long as anything at all is buffered). Characters count for bytes at up to three bytes each (UTF-8).
 */
export function packBoundsOf(backpressure: {
  maxBufferSize: number;
  maxBufferBytes: number;
  lowWaterMark: number;
}): PackBounds {
  const room = 1 - backpressure.lowWaterMark;
  return {
    entries: Math.max(1, Math.min(PACK_MAX_ENTRIES, Math.floor(backpressure.maxBufferSize * room))),
    bytes: Math.max(1, Math.min(PACK_MAX_BYTES, Math.floor((backpressure.maxBufferBytes * room) / 3))),
  };
}

/** [key, source offset, event time, watermark before the event or null, windows, event JSON]. */
type Entry = [string, string, number, number | null, string, string];

/** The headers an event's repartition record has, and none other (so it can be packed and made again). */
const EVENT_HEADERS = new Set<string>([
  REPARTITION_HEADERS.sourcePartition,
  REPARTITION_HEADERS.sourceOffset,
  REPARTITION_HEADERS.eventTime,
  REPARTITION_HEADERS.watermark,
  ONLY_WINDOWS_HEADER,
]);

/** The record as a pack entry; undefined when it is not an event record. */
export function entryOf(record: OutgoingRecord): PackEntry | undefined {
  if (record.packEntry) return record.packEntry;
  const { key, value, headers } = record;
  if (typeof key !== 'string' || typeof value !== 'string' || !headers || record.timestamp !== undefined)
    return undefined;
  for (const name in headers)
    if (!EVENT_HEADERS.has(name) || typeof headers[name] !== 'string') return undefined;
  const source = headers[REPARTITION_HEADERS.sourcePartition] as string | undefined;
  const offset = headers[REPARTITION_HEADERS.sourceOffset] as string | undefined;
  const time = headers[REPARTITION_HEADERS.eventTime] as string | undefined;
  const only = headers[ONLY_WINDOWS_HEADER] as string | undefined;
  const watermark = headers[REPARTITION_HEADERS.watermark] as string | undefined;
  if (source === undefined || offset === undefined || time === undefined || only === undefined)
    return undefined;
  // Numbers travel as JSON numbers: only those that come back as the same text.
  const timeMs = Number(time);
  const watermarkMs = watermark === undefined ? null : Number(watermark);
  if (String(timeMs) !== time || (watermark !== undefined && String(watermarkMs) !== watermark))
    return undefined;
  const entry: Entry = [key, offset, timeMs, watermarkMs, only, value];
  return { source, text: JSON.stringify(entry) };
}

/**
 * The pack being filled for one repartition partition: consecutive events of one source partition,
 * closed into a record once the bounds are reached. The record's value is bytes, not text: a pack
 * waits for its commit off the JavaScript heap, so the garbage collector does not copy it meanwhile.
 */
export class PackBuilder {
  private entries: string[] = [];
  private bytes = 0;
  private source: string | undefined;
  private readonly limit: number;
  private readonly maxBytes: number;

  constructor(
    /** The repartition partition its packs go to (undefined: the partitioner's pick, by key). */
    readonly partition: number | undefined,
    bounds: PackBounds = { entries: PACK_MAX_ENTRIES, bytes: PACK_MAX_BYTES },
  ) {
    this.limit = Math.max(1, Math.min(bounds.entries, PACK_MAX_ENTRIES));
    this.maxBytes = Math.max(1, Math.min(bounds.bytes, PACK_MAX_BYTES));
  }

  /** Events in the pack being filled. */
  get size(): number {
    return this.entries.length;
  }

  /** Adds an event's entry; returns the pack that had to close first to make room, if one did. */
  add(entry: PackEntry): OutgoingRecord | undefined {
    const closed =
      this.entries.length > 0 &&
      (entry.source !== this.source ||
        this.entries.length >= this.limit ||
        this.bytes + entry.text.length > this.maxBytes)
        ? this.close()
        : undefined;
    this.source = entry.source;
    this.entries.push(entry.text);
    this.bytes += entry.text.length;
    return closed;
  }

  /** The pack of the entries added since the last one closed; undefined when there are none. */
  close(): OutgoingRecord | undefined {
    if (this.entries.length === 0) return undefined;
    const pack: OutgoingRecord = {
      key: null,
      value: Buffer.from(`[${this.entries.join(',')}]`),
      ...(this.partition === undefined ? {} : { partition: this.partition }),
      headers: { [PACKED_HEADER]: FORMAT, [REPARTITION_HEADERS.sourcePartition]: this.source as string },
    };
    this.entries = [];
    this.bytes = 0;
    return pack;
  }
}

/**
 * The records of one repartition partition, in order, with runs of event records packed. Every record
 * keeps its partition; a pack goes to the partition of the events it holds. The outbox packs as events
 * come (transaction-outbox.ts); this packs a list at once, as the tests make the packs a reader gets.
 */
export function packRepartitionRecords(
  records: readonly OutgoingRecord[],
  bounds: PackBounds = { entries: PACK_MAX_ENTRIES, bytes: PACK_MAX_BYTES },
): OutgoingRecord[] {
  const out: OutgoingRecord[] = [];
  let builder: PackBuilder | undefined;
  const close = () => {
    const pack = builder?.close();
    if (pack) out.push(pack);
  };
  for (const record of records) {
    const packable = entryOf(record);
    if (!packable) {
      close();
      out.push(record);
      continue;
    }
    if (!builder || builder.partition !== record.partition) {
      close();
      builder = new PackBuilder(record.partition, bounds);
    }
    const closed = builder.add(packable);
    if (closed) out.push(closed);
  }
  close();
  return out;
}

/** A pack this version cannot read: written by another version of Sluice, or damaged. */
export class MalformedPackError extends SluiceError {
  constructor(message: string) {
    super(message, { code: 'SLUICE_STATE_INVALID', retriable: false });
  }
}

/**
 * The events of a pack, each the record repartitionRecords made, at the pack's offset and with its
 * timestamp; undefined when the record is not a pack (an event or marker of its own). Throws
 * MalformedPackError for a pack this version cannot read.
 */
export function unpackRepartitionRecord(record: FetchedRecord): FetchedRecord[] | undefined {
  const format = headerValue(record.headers, PACKED_HEADER);
  if (format === undefined) return undefined;
  if (format !== FORMAT)
    throw new MalformedPackError(
      `a repartition record packed in format ${format}, which this version of Sluice cannot read (it reads format ${FORMAT}); run every member on the same version`,
    );
  const source = headerValue(record.headers, REPARTITION_HEADERS.sourcePartition);
  let entries: unknown;
  try {
    entries = JSON.parse(record.value?.toString('utf8') ?? 'null');
  } catch {
    entries = undefined;
  }
  if (source === undefined || !Array.isArray(entries) || entries.length === 0)
    throw new MalformedPackError('a packed repartition record without its source partition or entries');
  return entries.map((entry: unknown) => {
    if (!isEntry(entry)) throw new MalformedPackError('a packed repartition record with a malformed entry');
    const [key, offset, time, watermark, only, value] = entry;
    const headers: RecordHeaders = {
      [REPARTITION_HEADERS.sourcePartition]: source,
      [REPARTITION_HEADERS.sourceOffset]: offset,
      [REPARTITION_HEADERS.eventTime]: String(time),
      [ONLY_WINDOWS_HEADER]: only,
    };
    if (watermark !== null) headers[REPARTITION_HEADERS.watermark] = String(watermark);
    return {
      offset: record.offset,
      timestamp: record.timestamp,
      key: Buffer.from(key),
      value: Buffer.from(value),
      headers,
    };
  });
}

function isEntry(entry: unknown): entry is Entry {
  return (
    Array.isArray(entry) &&
    entry.length === 6 &&
    typeof entry[0] === 'string' &&
    typeof entry[1] === 'string' &&
    typeof entry[2] === 'number' &&
    (entry[3] === null || typeof entry[3] === 'number') &&
    typeof entry[4] === 'string' &&
    typeof entry[5] === 'string'
  );
}

function headerValue(headers: RecordHeaders | undefined, name: string): string | undefined {
  const value = headers?.[name];
  const last = Array.isArray(value) ? value.at(-1) : value;
  return last?.toString();
}
