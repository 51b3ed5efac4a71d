// The version-2 window record read straight from its bytes (window-record-v2.ts) against avsc's reading
// of the same bytes through the stored form: the same window for every aggregation kind and key
// shape; a clear reason, never a throw, for a record cut short or written under other aggregations.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HyperLogLog } from '../../../src/aggregations/hyperloglog.js';
import { validatePipeline } from '../../../src/config/validate.js';
import { encodeWindow, readWindowRecord } from '../../../src/state/changelog-codec.js';
import { readWindowV2 } from '../../../src/state/window-record-v2.js';
import { defineWindow, type WindowDefinition } from '../../../src/windows/window-definition.js';
import { restoredWindow } from '../../../src/windows/window-restore.js';
import { heldKey, type OpenWindow } from '../../../src/windows/window-store.js';

const pipeline = validatePipeline({
  name: 'p',
  windows: [
    {
      name: 'all_kinds',
      type: 'tumbling',
      size: '1m',
      groupBy: ['a', 'b', 'c'],
      aggregations: [
        { fn: 'sum', field: 'v' },
        { fn: 'avg', field: 'v' },
        { fn: 'min', field: 'v' },
        { fn: 'max', field: 'v' },
        { fn: 'count_distinct', field: 'u', exactUpTo: 3 },
      ],
    },
    { name: 'count_only', type: 'session', gap: '30s', groupBy: ['a'] },
  ],
});
const definitions = new Map<string, WindowDefinition>(
  pipeline.windows.map((w) => [w.name, defineWindow(w, pipeline.time, undefined)]),
);
const allKinds = definitions.get('all_kinds')!;
const countOnly = definitions.get('count_only')!;

const text = fc.string({ unit: 'binary', maxLength: 12 });
const number = fc.double({ noNaN: true, noDefaultInfinity: true });
const distinct = fc.oneof(
  fc.uniqueArray(text, { maxLength: 3 }).map((values) => ({ exact: new Set(values), hll: null })),
  fc
    .uint8Array({ minLength: HyperLogLog.bytes, maxLength: HyperLogLog.bytes })
    .map((registers) => ({ exact: null, hll: new HyperLogLog(registers) })),
);

const windowArb: fc.Arbitrary<OpenWindow> = fc
  .record({
    countOnly: fc.boolean(),
    start: fc.integer({ min: -(2 ** 40), max: 2 ** 45 }),
    length: fc.integer({ min: 1, max: 2 ** 31 }),
    parts: fc.array(text, { minLength: 1, maxLength: 3 }),
    count: fc.nat({ max: 2 ** 40 }),
    sum: fc.record({ sum: number, n: fc.nat() }),
    avg: fc.record({ sum: number, n: fc.nat() }),
    min: fc.option(number),
    max: fc.option(number),
    distinct,
    firstOffset: fc.nat({ max: 2 ** 50 }),
    lastOffset: fc.nat({ max: 2 ** 50 }),
  })
  .map((r) => ({
    definition: r.countOnly ? countOnly : allKinds,
    window: { start: r.start, end: r.start + r.length },
    key: heldKey(r.countOnly ? r.parts.slice(0, 1) : r.parts),
    count: r.count,
    slots: r.countOnly ? [] : [r.sum, r.avg, { value: r.min }, { value: r.max }, r.distinct],
    firstOffset: r.firstOffset,
    lastOffset: r.lastOffset,
    dirty: false,
    logged: true,
  }));

describe('reading version-2 window records', () => {
  it('gives the window avsc reads from the same bytes, for every aggregation kind and key', () => {
    fc.assert(
      fc.property(windowArb, (w) => {
        const value = encodeWindow(w);
        const viaAvsc = restoredWindow(readWindowRecord(value), definitions);
        expect(readWindowV2(value, definitions)).toEqual(viaAvsc);
        // A view into a larger buffer, as a fetched record is.
        const inResponse = Buffer.concat([Buffer.from('before'), value, Buffer.from('after')]);
        const view = inResponse.subarray(6, 6 + value.length);
        expect(readWindowV2(view, definitions)).toEqual(viaAvsc);
      }),
      { numRuns: 500 },
    );
  });

  it('says why a record cannot come back: its definition gone, its aggregations changed, its bytes cut short', () => {
    fc.assert(
      fc.property(windowArb, fc.nat(), (w, cut) => {
        const value = encodeWindow(w);
        const name = w.definition.name;
        const other = new Map([...definitions].filter(([n]) => n !== name));
        expect(readWindowV2(value, other)).toEqual({
          definition: name,
          problem: `window definition ${name} no longer exists`,
        });
        // The same name with other aggregations: min where sum was, or one aggregation fewer.
        const changed = new Map(definitions);
        changed.set(name, {
          ...w.definition,
          aggregations:
            w.definition.aggregations.length === 0 ? allKinds.aggregations : allKinds.aggregations.slice(2),
        });
        const refused = readWindowV2(value, changed);
        expect(refused).toMatchObject({ definition: name });
        expect((refused as { problem: string }).problem).toMatch(
          new RegExp(`^window definition ${name} changed its aggregations: `),
        );
        const short = value.subarray(0, 1 + (cut % (value.length - 1)));
        expect((readWindowV2(short, definitions) as { problem?: string }).problem).toBeDefined();
      }),
      { numRuns: 300 },
    );
  });
});
