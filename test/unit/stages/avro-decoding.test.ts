// Avro decoding: events round-trip across schema versions (an old writer read with the new reader and
// the reverse), every truncation of a valid record is refused with a message, and hostile length or
// count prefixes are refused before avsc sees them, naming the field, without allocating or looping.
import { readFileSync } from 'node:fs';
import avsc from 'avsc';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { validatePipeline } from '../../../src/config/validate.js';
import { checkAvroBounds } from '../../../src/stages/avro-bounds.js';
import { createDecoder } from '../../../src/stages/record-decoders.js';
import { sampleEvents } from '../../../src/tools/produce/sample-events.js';

const v2 = avsc.Type.forSchema(
  JSON.parse(readFileSync('schemas/avro/user-event.avsc', 'utf8')) as avsc.Schema,
);
const v1 = avsc.Type.forSchema(
  JSON.parse(readFileSync('schemas/avro/user-event.v1.avsc', 'utf8')) as avsc.Schema,
);
const bounds = { maxItems: 10_000 };

function avroOf(sample: object, type: avsc.Type): Buffer {
  const event = sample as Record<string, unknown>;
  // Avro has no "absent": optional fields are null.
  const record = Object.fromEntries(
    (type as avsc.Type & { fields: { name: string }[] }).fields.map((f) => [f.name, event[f.name] ?? null]),
  );
  if ((record.properties ?? null) === null && 'properties' in record) record.properties = {};
  return type.toBuffer(record);
}

function decoderFor(parse: Record<string, unknown>) {
  const pipeline = validatePipeline(
    { name: 'p', parse, windows: [{ name: 'w', type: 'tumbling', size: '1m', groupBy: ['type'] }] },
    'test',
  );
  return createDecoder(pipeline.parse, { baseDir: process.cwd() }).decode;
}

const events = sampleEvents(200, Date.UTC(2026, 0, 1), 60_000, 9);

describe('Avro decoding', () => {
  it('reads version-1 records with the version-2 reader (defaults filled) and version-2 records with version 1', () => {
    const newReader = decoderFor({ format: 'avro', writerSchema: 'schemas/avro/user-event.v1.avsc' });
    const oldReader = decoderFor({
      format: 'avro',
      schema: 'schemas/avro/user-event.v1.avsc',
      writerSchema: 'schemas/avro/user-event.avsc',
    });
    for (const event of events) {
      const fromOld = newReader(avroOf(event, v1)) as Record<string, unknown>;
      expect(fromOld).toMatchObject({
        eventId: event.eventId,
        userId: event.userId,
        timestamp: event.timestamp,
        value: event.value,
      });
      expect(fromOld.country).toBeUndefined();
      expect(fromOld.properties).toEqual({});
      const fromNew = oldReader(avroOf(event, v2)) as Record<string, unknown>;
      expect(fromNew).toMatchObject({ eventId: event.eventId, url: event.url, timestamp: event.timestamp });
      expect(fromNew).not.toHaveProperty('country');
      expect(fromNew).not.toHaveProperty('properties');
    }
  });

  it('accepts every whole record and refuses every truncation of one, with a message', () => {
    fc.assert(
      fc.property(fc.nat(events.length - 1), fc.nat(), (pick, cut) => {
        const buf = avroOf(events[pick]!, v2);
        expect(checkAvroBounds(v2, buf, bounds)).toBeUndefined();
        const truncated = buf.subarray(0, cut % buf.length);
        expect(checkAvroBounds(v2, truncated, bounds)).toMatch(/field '[^']+'/);
      }),
    );
  });

  it('refuses hostile lengths and counts before decoding, naming the field', () => {
    const hostile = avsc.Type.forSchema({
      type: 'record',
      name: 'H',
      fields: [
        { name: 'tags', type: { type: 'array', items: 'null' } },
        { name: 'note', type: 'string' },
      ],
    });
    const zigzag = (n: bigint) => {
      let v = n >= 0n ? n * 2n : -n * 2n - 1n;
      const bytes: number[] = [];
      while (v >= 0x80n) {
        bytes.push(Number((v & 0x7fn) | 0x80n));
        v >>= 7n;
      }
      bytes.push(Number(v));
      return Buffer.from(bytes);
    };
    // 2^60 nulls take no bytes: avsc would loop; the walk stops at maxItems.
    const manyNulls = Buffer.concat([zigzag(2n ** 60n), zigzag(0n), zigzag(0n)]);
    expect(checkAvroBounds(hostile, manyNulls, bounds)).toMatch(/field 'tags': .* more than parse.maxItems/);
    // A 1 GB string in a 12-byte record.
    const hugeString = Buffer.concat([zigzag(0n), zigzag(1_000_000_000n), Buffer.from('abc')]);
    expect(checkAvroBounds(hostile, hugeString, bounds)).toMatch(
      /field 'note': a string of 1000000000 bytes needs/,
    );
    const negative = Buffer.concat([zigzag(0n), zigzag(-5n)]);
    expect(checkAvroBounds(hostile, negative, bounds)).toMatch(/field 'note': a negative length/);
    // A map of user properties claiming more entries than bytes.
    const event = avroOf(events[0]!, v2);
    const properties = Buffer.concat([event.subarray(0, event.length - 1), zigzag(1_000_000n)]);
    expect(checkAvroBounds(v2, properties, bounds)).toMatch(/field 'properties': 1000000 items/);
    expect(() => decoderFor({ format: 'avro' })(properties)).toThrow(/Avro: field 'properties'/);
  });

  it('refuses values over maxMessageBytes in every format, and says what is wrong with Confluent framing', () => {
    const big = Buffer.alloc(2_000, 0x20);
    expect(() => decoderFor({ format: 'json', maxMessageBytes: 1_000 })(big)).toThrow(
      /2000 bytes, more than parse.maxMessageBytes \(1000\)/,
    );
    expect(() => decoderFor({ format: 'avro', maxMessageBytes: 1_000 })(big)).toThrow(/maxMessageBytes/);
    const confluent = decoderFor({ format: 'avro-confluent', registry: { url: 'http://127.0.0.1:9' } });
    expect(() => confluent(Buffer.from([1, 0, 0, 0, 1, 2]))).toThrow(/magic byte 1, expected 0/);
    expect(() => confluent(Buffer.from([0, 0]))).toThrow(/fewer than the 5-byte header/);
  });
});
