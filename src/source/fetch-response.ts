// Decodes a Fetch response (versions 4 to 11, those kafkajs 2.2 negotiates) straight from its bytes into
// what a reader of whole partitions needs: per partition, its committed data records (offset, key and
// value as views into the response) in offset order, plus the records of aborted transactions apart.
// kafkajs decodes every record into an object of strings and nested objects (offsets, timestamps,
// headers, batch context) before anything sees it; a restore reads millions of records it needs three
// fields of, and that decoding was most of its CPU time.
//
// read_committed is decided per batch, as Kafka's Java consumer does: the response lists the aborted
// transactions (producer id, first offset) overlapping it; a transactional batch of a producer whose
// aborted transaction began at or before the batch's last offset is aborted, until that producer's abort
// marker (a control batch) ends it. Compressed batches are inflated with kafkajs' codecs (gzip built in,
// others as registered with kafkajs). Pure: bytes in, records out.
import { createRequire } from 'node:module';
import { SluiceError } from '../errors.js';

const require = createRequire(import.meta.url);

/** A record of a fetched batch: views into the response's bytes, never copies. */
export interface RawRecord {
  offset: number;
  key: Buffer | null;
  value: Buffer | null;
}

/**
 * Records of a partition in offset order, kept as where each key and value lie in the fetched bytes:
 * no object per record (a restore reads millions and needs each once), and typed arrays, not pushes
 * (an array push cost about ten times a typed store here). A view is made when asked for.
 */
export class RecordList {
  private count = 0;
  /** The buffers records lie in (the response, and each inflated batch), and each record's. */
  private readonly buffers: Buffer[] = [];
  private bufferOf = new Int32Array(64);
  private offsets = new Float64Array(64);
  /** Start and end of each key and value in its buffer; a start of -1 is null. */
  private spans = new Int32Array(256);

  get length(): number {
    return this.count;
  }

  add(
    buffer: Buffer,
    offset: number,
    keyAt: number,
    keyEnd: number,
    valueAt: number,
    valueEnd: number,
  ): void {
    const i = this.count;
    if (i === this.offsets.length) this.grow();
    if (this.buffers[this.buffers.length - 1] !== buffer) this.buffers.push(buffer);
    this.bufferOf[i] = this.buffers.length - 1;
    this.offsets[i] = offset;
    const spans = this.spans;
    spans[4 * i] = keyAt;
    spans[4 * i + 1] = keyEnd;
    spans[4 * i + 2] = valueAt;
    spans[4 * i + 3] = valueEnd;
    this.count = i + 1;
  }

  offset(i: number): number {
    return this.offsets[i]!;
  }

  key(i: number): Buffer | null {
    const at = this.spans[4 * i]!;
    return at < 0 ? null : this.buffers[this.bufferOf[i]!]!.subarray(at, this.spans[4 * i + 1]);
  }

  /** The key as UTF-8 text ('' for none), with no view made. */
  keyText(i: number): string {
    const at = this.spans[4 * i]!;
    return at < 0 ? '' : this.buffers[this.bufferOf[i]!]!.toString('utf8', at, this.spans[4 * i + 1]);
  }

  value(i: number): Buffer | null {
    const at = this.spans[4 * i + 2]!;
    return at < 0 ? null : this.buffers[this.bufferOf[i]!]!.subarray(at, this.spans[4 * i + 3]);
  }

  hasValue(i: number): boolean {
    return this.spans[4 * i + 2]! >= 0;
  }

  /** The records with offsets in [from, to): new lists, not new bytes. */
  within(from: number, to: number): RecordList {
    let first = 0;
    while (first < this.count && this.offsets[first]! < from) first += 1;
    let end = first;
    while (end < this.count && this.offsets[end]! < to) end += 1;
    if (first === 0 && end === this.count) return this;
    const out = new RecordList();
    for (let i = first; i < end; i += 1) {
      const at = 4 * i;
      out.add(
        this.buffers[this.bufferOf[i]!]!,
        this.offsets[i]!,
        this.spans[at]!,
        this.spans[at + 1]!,
        this.spans[at + 2]!,
        this.spans[at + 3]!,
      );
    }
    return out;
  }

  *[Symbol.iterator](): Generator<RawRecord> {
    for (let i = 0; i < this.count; i += 1)
      yield { offset: this.offset(i), key: this.key(i), value: this.value(i) };
  }

  private grow(): void {
    const size = this.offsets.length * 2;
    const bufferOf = new Int32Array(size);
    bufferOf.set(this.bufferOf);
    this.bufferOf = bufferOf;
    const offsets = new Float64Array(size);
    offsets.set(this.offsets);
    this.offsets = offsets;
    const spans = new Int32Array(4 * size);
    spans.set(this.spans);
    this.spans = spans;
  }
}

export interface DecodedPartition {
  partition: number;
  errorCode: number;
  highWatermark: number;
  lastStableOffset: number;
  /** Committed data records, in offset order. */
  records: RecordList;
  /** Data records of aborted transactions, in offset order. */
  aborted: RecordList;
  /** The last offset of the last whole batch (markers included); -1 when there was none. */
  lastOffset: number;
}

export interface DecodedFetch {
  errorCode: number;
  topics: { topic: string; partitions: DecodedPartition[] }[];
}

const TRANSACTIONAL = 0x10;
const CONTROL = 0x20;
const COMPRESSION = 0x07;
/** A record batch's header after its base offset and length, up to its record count. */
const BATCH_HEADER_BYTES = 49;

interface Codec {
  decompress(buffer: Buffer): Promise<Buffer>;
}
interface CompressionModule {
  lookupCodecByAttributes(attributes: number): Codec | undefined;
}

/** A cursor over a buffer: Kafka's big-endian fixed-width fields and zigzag varints. */
class Reader {
  constructor(
    readonly buffer: Buffer,
    public at = 0,
  ) {}

  int8(): number {
    const v = this.buffer.readInt8(this.at);
    this.at += 1;
    return v;
  }

  int16(): number {
    const v = this.buffer.readInt16BE(this.at);
    this.at += 2;
    return v;
  }

  int32(): number {
    const v = this.buffer.readInt32BE(this.at);
    this.at += 4;
    return v;
  }

  /** An int64 as a double: exact for every offset and producer id below 2^53. */
  int64(): number {
    const high = this.buffer.readInt32BE(this.at);
    const low = this.buffer.readUInt32BE(this.at + 4);
    this.at += 8;
    return high * 4_294_967_296 + low;
  }

  string(): string {
    const length = this.int16();
    if (length < 0) return '';
    const text = this.buffer.toString('utf8', this.at, this.at + length);
    this.at += length;
    return text;
  }

  /** An unsigned varint, then zigzag-decoded; within 2^53 (record fields stay far below). */
  varint(): number {
    let result = 0;
    let multiplier = 1;
    for (;;) {
      const byte = this.buffer[this.at++]!;
      result += (byte & 0x7f) * multiplier;
      if ((byte & 0x80) === 0) break;
      multiplier *= 128;
    }
    return result % 2 === 0 ? result / 2 : -(result + 1) / 2;
  }

  /** Skips varint-length bytes; their start (-1 for null, length -1) and end are in `span`. */
  skipBytes(span: Span): void {
    const length = this.varint();
    if (length < 0) {
      span.at = -1;
      span.end = -1;
      return;
    }
    span.at = this.at;
    this.at += length;
    span.end = this.at;
  }
}

let compression: CompressionModule | undefined;
function codecOf(attributes: number): Codec {
  compression ??= require('kafkajs/src/protocol/message/compression/index.js') as CompressionModule;
  const codec = compression.lookupCodecByAttributes(attributes);
  if (!codec)
    throw new SluiceError(
      `a record batch compressed with codec ${attributes & COMPRESSION}, which kafkajs has no codec for ` +
        'here: register it with kafkajs (CompressionCodecs) as for the topic’s consumers',
      { code: 'SLUICE_KAFKA_UNAVAILABLE', retriable: false },
    );
  return codec;
}

interface Span {
  at: number;
  end: number;
}
/** Reused: where the record being read has its key and value. */
const KEY: Span = { at: -1, end: -1 };
const VALUE: Span = { at: -1, end: -1 };

/** The records of one batch's record section, each at base + its offset delta. */
function readRecords(reader: Reader, count: number, base: number, into: RecordList): void {
  for (let i = 0; i < count; i += 1) {
    const length = reader.varint();
    const end = reader.at + length;
    reader.at += 1; // attributes
    reader.varint(); // timestamp delta
    const offset = base + reader.varint();
    reader.skipBytes(KEY);
    reader.skipBytes(VALUE);
    reader.at = end; // headers: not needed
    into.add(reader.buffer, offset, KEY.at, KEY.end, VALUE.at, VALUE.end);
  }
}

/** The aborted transactions of a partition, in first-offset order (the broker promises no order). */
function abortedTransactions(reader: Reader): { producerId: number; firstOffset: number }[] {
  const count = reader.int32();
  const list = [];
  for (let i = 0; i < count; i += 1) list.push({ producerId: reader.int64(), firstOffset: reader.int64() });
  return list.sort((a, b) => a.firstOffset - b.firstOffset);
}

async function decodePartition(reader: Reader, version: number): Promise<DecodedPartition> {
  const partition = reader.int32();
  const errorCode = reader.int16();
  const highWatermark = reader.int64();
  const lastStableOffset = reader.int64();
  if (version >= 5) reader.int64(); // log start offset
  const pending = abortedTransactions(reader);
  if (version >= 11) reader.int32(); // preferred read replica
  const size = reader.int32();
  const end = reader.at + Math.max(0, size);
  const out: DecodedPartition = {
    partition,
    errorCode,
    highWatermark,
    lastStableOffset,
    records: new RecordList(),
    aborted: new RecordList(),
    lastOffset: -1,
  };
  const aborting = new Set<number>();
  let next = 0; // into pending
  const buffer = reader.buffer;
  // Whole batches only: the last one may be cut short by the response's size limit.
  while (end - reader.at >= 12) {
    const baseOffset = reader.int64();
    const length = reader.int32();
    const batchEnd = reader.at + length;
    if (batchEnd > end) break;
    // A whole batch too short for its own header is damage, not a cut: stopping here would read as the
    // partition's end (the reader would take the rest for compacted away), so it is said where it is.
    if (length < BATCH_HEADER_BYTES)
      throw new SluiceError(
        `a record batch at offset ${baseOffset} of partition ${partition} is ${length} bytes long, shorter ` +
          `than a batch header (${BATCH_HEADER_BYTES}): the Fetch response is damaged`,
        { code: 'SLUICE_KAFKA_UNAVAILABLE', retriable: true },
      );
    reader.at += 4; // partition leader epoch
    const magic = reader.int8();
    if (magic !== 2)
      throw new SluiceError(
        `a record batch of format ${magic}: only format 2 (Kafka 0.11 and later) is read here`,
        { code: 'SLUICE_KAFKA_UNAVAILABLE', retriable: false },
      );
    reader.at += 4; // crc
    const attributes = reader.int16();
    const lastOffset = baseOffset + reader.int32();
    reader.at += 16; // first and max timestamp
    const producerId = reader.int64();
    reader.at += 6; // producer epoch, base sequence
    const count = reader.int32();
    while (next < pending.length && pending[next]!.firstOffset <= lastOffset)
      aborting.add(pending[next++]!.producerId);
    if ((attributes & CONTROL) !== 0) {
      // A marker: an abort marker (type 0) ends its producer's aborted transaction.
      if (count > 0) {
        const records = new RecordList();
        readRecords(reader, 1, baseOffset, records);
        const key = records.key(0);
        if (key && key.length >= 4 && key.readInt16BE(2) === 0) aborting.delete(producerId);
      }
    } else {
      const into = (attributes & TRANSACTIONAL) !== 0 && aborting.has(producerId) ? out.aborted : out.records;
      if ((attributes & COMPRESSION) === 0) readRecords(reader, count, baseOffset, into);
      else {
        const inflated = await codecOf(attributes).decompress(buffer.subarray(reader.at, batchEnd));
        readRecords(new Reader(inflated), count, baseOffset, into);
      }
    }
    reader.at = batchEnd;
    out.lastOffset = lastOffset;
  }
  reader.at = end;
  return out;
}

/** A Fetch response's bytes (after the correlation id), of the version the request was sent as. */
export async function decodeFetchResponse(data: Buffer, version: number): Promise<DecodedFetch> {
  if (version < 4 || version > 11)
    throw new SluiceError(`Fetch response version ${version}: only versions 4 to 11 are decoded here`, {
      code: 'SLUICE_INTERNAL',
      retriable: false,
    });
  const reader = new Reader(data);
  reader.int32(); // throttle time
  let errorCode = 0;
  if (version >= 7) {
    errorCode = reader.int16();
    reader.int32(); // session id
  }
  const topics: DecodedFetch['topics'] = [];
  const topicCount = reader.int32();
  for (let t = 0; t < topicCount; t += 1) {
    const topic = reader.string();
    const partitions: DecodedPartition[] = [];
    const partitionCount = reader.int32();
    for (let p = 0; p < partitionCount; p += 1) partitions.push(await decodePartition(reader, version));
    topics.push({ topic, partitions });
  }
  return { errorCode, topics };
}
