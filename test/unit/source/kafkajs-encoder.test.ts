// kafkajs' Encoder, made to allocate from the pool (src/source/kafkajs-encoder.ts), still writes every
// record byte for byte as Kafka's record format says: checked against a reference encoder written
// here from the format (KIP-98's record v2), over records of every size, with and without keys, values
// and headers, and read back by kafkajs' own decoder.
import { createRequire } from 'node:module';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encoderPooled } from '../../../src/source/kafkajs-encoder.js';

const require = createRequire(import.meta.url);

interface Encoded {
  buffer: Buffer;
}
type RecordEncoder = (record: {
  offsetDelta: number;
  timestampDelta: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, Buffer>;
}) => Encoded;
const encodeRecord = require('kafkajs/src/protocol/recordBatch/record/v0/index.js') as RecordEncoder;
const Decoder = require('kafkajs/src/protocol/decoder.js') as new (buffer: Buffer) => {
  readVarInt(): number;
};
const decodeRecord = require('kafkajs/src/protocol/recordBatch/record/v0/decoder.js') as (
  decoder: InstanceType<typeof Decoder>,
  context: { firstOffset: string; firstTimestamp: string },
) => { key: Buffer | null; value: Buffer | null; headers: Record<string, Buffer>; offset: string };

/** Zigzag varint, as Kafka's record format writes lengths, deltas and counts. */
function varint(value: number): Buffer {
  let zigzag = (BigInt(value) << 1n) ^ (BigInt(value) >> 63n);
  zigzag = BigInt.asUintN(64, zigzag);
  const bytes: number[] = [];
  do {
    let byte = Number(zigzag & 0x7fn);
    zigzag >>= 7n;
    if (zigzag > 0n) byte |= 0x80;
    bytes.push(byte);
  } while (zigzag > 0n);
  return Buffer.from(bytes);
}

const sized = (bytes: Buffer | null) =>
  bytes === null ? varint(-1) : Buffer.concat([varint(bytes.length), bytes]);

/** The record as the format lays it out: length, attributes, deltas, key, value, headers. */
function referenceRecord(
  offsetDelta: number,
  timestampDelta: number,
  key: Buffer | null,
  value: Buffer | null,
  headers: [string, Buffer][],
): Buffer {
  const body = Buffer.concat([
    Buffer.from([0]),
    varint(timestampDelta),
    varint(offsetDelta),
    sized(key),
    sized(value),
    varint(headers.length),
    ...headers.flatMap(([name, bytes]) => [sized(Buffer.from(name, 'utf8')), sized(bytes)]),
  ]);
  return Buffer.concat([varint(body.length), body]);
}

const bytes = (max: number) => fc.uint8Array({ maxLength: max }).map((a) => Buffer.from(a));

describe("kafkajs' Encoder on the buffer pool", () => {
  it('is installed', () => {
    expect(encoderPooled).toBe(true);
  });

  it('writes every record as the format says, and kafkajs reads it back', () => {
    fc.assert(
      fc.property(
        fc.nat(100_000),
        fc.nat(3_600_000),
        fc.option(bytes(200), { nil: null }),
        fc.option(fc.oneof(bytes(100), bytes(9_000)), { nil: null }),
        fc.uniqueArray(
          fc.tuple(
            // kafkajs' decoder takes a name Object.prototype has (valueOf) for a repeated header.
            fc.string({ minLength: 1, maxLength: 40 }).filter((name) => !(name in Object.prototype)),
            bytes(300),
          ),
          {
            maxLength: 6,
            selector: ([name]) => name,
          },
        ),
        (offsetDelta, timestampDelta, key, value, list) => {
          const headers = Object.fromEntries(list);
          const encoded = encodeRecord({ offsetDelta, timestampDelta, key, value, headers }).buffer;
          // In the object's own order (integer-like names first), as kafkajs walks it.
          const reference = referenceRecord(offsetDelta, timestampDelta, key, value, Object.entries(headers));
          expect(encoded.equals(reference)).toBe(true);
          const decoder = new Decoder(encoded);
          decoder.readVarInt(); // the length
          const decoded = decodeRecord(decoder, { firstOffset: '10', firstTimestamp: '0' });
          expect(decoded.offset).toBe(String(10 + offsetDelta));
          expect(decoded.key).toEqual(key);
          expect(decoded.value).toEqual(value);
          expect(decoded.headers).toEqual(headers);
        },
      ),
      { numRuns: 1_000 },
    );
  });

  it('keeps what one record wrote when the next is encoded (no shared bytes)', () => {
    const first = encodeRecord({
      offsetDelta: 0,
      timestampDelta: 0,
      key: null,
      value: Buffer.from('first'),
      headers: { a: Buffer.from('1') },
    }).buffer;
    const copy = Buffer.from(first);
    for (let i = 0; i < 2_000; i += 1)
      encodeRecord({
        offsetDelta: i,
        timestampDelta: i,
        key: Buffer.from(`k${i}`),
        value: Buffer.alloc(100, i % 256),
        headers: { a: Buffer.from(String(i)) },
      });
    expect(first.equals(copy)).toBe(true);
  });
});
