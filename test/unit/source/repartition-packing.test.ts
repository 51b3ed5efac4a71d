// Packs of re-keyed events: what the re-keyed side reads out of a partition's packed records is, record
// for record and in order, what the source side made (repartitionRecords' events, watermark markers),
// as a reader would see it without packing; packs keep to their bounds; a pack this version cannot
// read is an error, never a silent event.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fetchedOf, readableOf } from '../../support/fetched-records.js';
import type { OutgoingRecord } from '../../../src/source/outgoing-record.js';
import {
  MalformedPackError,
  PACKED_HEADER,
  PACK_MAX_BYTES,
  PACK_MAX_ENTRIES,
  packBoundsOf,
  packRepartitionRecords,
  unpackRepartitionRecord,
} from '../../../src/source/repartition-packing.js';
import { repartitionRecords, watermarkMarkers } from '../../../src/source/repartition-records.js';

const groups = [
  { keyOf: (e: unknown) => [String((e as { type: unknown }).type)], windows: new Set(['counts']) },
  { keyOf: (e: unknown) => [String((e as { region: unknown }).region)], windows: new Set(['sums', 'top']) },
];

const event = fc.record({
  value: fc.record({
    type: fc.string({ maxLength: 6 }),
    region: fc.constantFrom('eu', 'us', 'ünï "côdé" \\ \n'),
    n: fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true })),
    text: fc.string({ unit: 'binary', maxLength: 40 }),
  }),
  eventTimeMs: fc.integer({ min: 0, max: 4_102_444_800_000 }),
  sourceOffset: fc.bigInt({ min: 0n, max: 2n ** 62n }).map(String),
  watermark: fc.oneof(fc.constant(Number.NEGATIVE_INFINITY), fc.integer({ min: 0, max: 4_102_444_800_000 })),
  admitted: fc.subarray(['counts', 'sums', 'top@60000', 'top@120000']),
});

type Item = { kind: 'event'; e: EventOf<typeof event> } | { kind: 'marker'; w: number };
type EventOf<A> = A extends fc.Arbitrary<infer T> ? T : never;

/** A source partition's output: events, and now and then its markers, each with a partition of 0-2. */
const output: fc.Arbitrary<Item[]> = fc.array(
  fc.oneof(
    { weight: 9, arbitrary: event.map((e) => ({ kind: 'event' as const, e })) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 1e12 }).map((w) => ({ kind: 'marker' as const, w })) },
  ),
  { maxLength: 80 },
);

function recordsOf(items: readonly Item[], source: number): OutgoingRecord[] {
  const records: OutgoingRecord[] = [];
  items.forEach((item, i) => {
    if (item.kind === 'marker') records.push(...watermarkMarkers(source, item.w, false, 3));
    else
      records.push(
        ...repartitionRecords({ ...item.e, sourcePartition: source }, groups).map((r, j) => ({
          ...r,
          partition: (i + j) % 3,
        })),
      );
  });
  return records;
}

function byPartition(records: readonly OutgoingRecord[]): Map<number, OutgoingRecord[]> {
  const split = new Map<number, OutgoingRecord[]>();
  for (const record of records) {
    const list = split.get(record.partition ?? -1) ?? [];
    list.push(record);
    split.set(record.partition ?? -1, list);
  }
  return split;
}

describe('repartition packing', () => {
  it('reads back every record of a partition, in order, as the source side made it', () => {
    fc.assert(
      // With the entries repartitionRecords made, and read back out of the records' headers without them.
      fc.property(output, fc.integer({ min: 0, max: 63 }), fc.boolean(), (items, source, withEntries) => {
        for (const [, made] of byPartition(recordsOf(items, source))) {
          const input = withEntries ? made : made.map(({ packEntry: _, ...record }) => record);
          const packed = packRepartitionRecords(input);
          const read = packed.flatMap((record, offset) => {
            const raw = fetchedOf(record, offset);
            return unpackRepartitionRecord(raw) ?? [raw];
          });
          expect(read.map(readableOf)).toEqual(input.map((record, i) => readableOf(fetchedOf(record, i))));
          // Every record stays in its partition; every event went into a pack, the markers as they were.
          expect(new Set(packed.map((r) => r.partition))).toEqual(new Set(made.map((r) => r.partition)));
          expect(packed.filter((r) => r.headers?.[PACKED_HEADER] === undefined)).toEqual(
            made.filter((r) => r.value === null),
          );
        }
      }),
    );
  });

  it('gives an unpacked event the offset and timestamp of its pack', () => {
    const [pack] = packRepartitionRecords(
      repartitionRecords(
        {
          value: { type: 'a', region: 'eu' },
          eventTimeMs: 5,
          sourcePartition: 2,
          sourceOffset: '9',
          watermark: 3,
          admitted: ['counts'],
        },
        groups,
      ),
    );
    const [event] = unpackRepartitionRecord({ ...fetchedOf(pack!, 41), timestamp: '1700' }) ?? [];
    expect(event).toMatchObject({ offset: '41', timestamp: '1700' });
  });

  it('closes a pack at its byte and entry bounds, and never leaves one empty', () => {
    const big = 'x'.repeat(PACK_MAX_BYTES / 4);
    const many = Array.from({ length: PACK_MAX_ENTRIES + 10 }, (_, i) => ({
      value: { type: 't', region: i < 9 ? big : 'eu' },
      eventTimeMs: i,
      sourcePartition: 0,
      sourceOffset: String(i),
      watermark: i - 1,
      admitted: ['counts', 'sums'],
    }));
    const made = many.flatMap((e) => repartitionRecords(e, groups).map((r) => ({ ...r, partition: 0 })));
    const packed = packRepartitionRecords(made);
    for (const pack of packed) {
      const entries = JSON.parse(String(pack.value)) as unknown[];
      expect(entries.length).toBeGreaterThan(0);
      expect(entries.length).toBeLessThanOrEqual(PACK_MAX_ENTRIES);
      // Over the byte bound only by the entry that would not fit beside others.
      if (entries.length > 1) expect(String(pack.value).length).toBeLessThan(PACK_MAX_BYTES + big.length * 2);
    }
    const read = packed.flatMap((r, o) => unpackRepartitionRecord(fetchedOf(r, o)) ?? []);
    expect(read).toHaveLength(made.length);
  });

  it('packs no more events than the bound it is given (the re-keyed side counts a pack as its events)', () => {
    const made = Array.from({ length: 95 }, (_, i) =>
      repartitionRecords(
        {
          value: { type: 't', region: 'eu' },
          eventTimeMs: i,
          sourcePartition: 0,
          sourceOffset: String(i),
          watermark: i - 1,
          admitted: ['counts'],
        },
        groups,
      ).map((r) => ({ ...r, partition: 0 })),
    ).flat();
    const packed = packRepartitionRecords(made, { entries: 20, bytes: PACK_MAX_BYTES });
    expect(packed.map((p) => (JSON.parse(String(p.value)) as unknown[]).length)).toEqual([
      20, 20, 20, 20, 15,
    ]);
  });

  it('bounds packs by what a re-keyed partition can take once it resumes below its low-water mark', () => {
    expect(packBoundsOf({ maxBufferSize: 100, maxBufferBytes: 64 * 1024 * 1024, lowWaterMark: 0.5 })).toEqual(
      {
        entries: 50,
        bytes: PACK_MAX_BYTES,
      },
    );
    expect(packBoundsOf({ maxBufferSize: 10_000, maxBufferBytes: 60_000, lowWaterMark: 0.5 })).toEqual({
      entries: PACK_MAX_ENTRIES,
      bytes: 10_000,
    });
    expect(packBoundsOf({ maxBufferSize: 1, maxBufferBytes: 1024, lowWaterMark: 0.9 }).entries).toBe(1);
  });

  it('leaves records of other shapes as they are', () => {
    const others: OutgoingRecord[] = [
      { key: 'k', value: 'v' },
      { key: 'k', value: 'v', headers: { 'sluice.source.partition': '1', other: 'x' } },
      { key: null, value: null, headers: { 'sluice.watermark.marker': '1' } },
    ];
    expect(packRepartitionRecords(others)).toEqual(others);
    expect(unpackRepartitionRecord(fetchedOf({ key: 'k', value: 'v' }, 0))).toBeUndefined();
  });

  it('refuses a pack of another format or a damaged one, saying what to do', () => {
    const pack = (headers: Record<string, string>, value: string) =>
      fetchedOf({ key: null, value, headers }, 0);
    expect(() =>
      unpackRepartitionRecord(pack({ [PACKED_HEADER]: '2', 'sluice.source.partition': '0' }, '[]')),
    ).toThrow(/format 2.*run every member on the same version/);
    for (const broken of ['[]', 'not json', '[["k"]]', '{"a":1}'])
      expect(() =>
        unpackRepartitionRecord(pack({ [PACKED_HEADER]: '1', 'sluice.source.partition': '0' }, broken)),
      ).toThrow(MalformedPackError);
    expect(() =>
      unpackRepartitionRecord(pack({ [PACKED_HEADER]: '1' }, '[["k","1",1,null,"c","{}"]]')),
    ).toThrow(MalformedPackError);
  });
});
