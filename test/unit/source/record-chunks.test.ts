// A partition's records in a transaction are sent in chunks (record-chunks.ts): every record once and in
// order, each chunk bounded in records and bytes, but for a record larger than the byte bound alone.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { chunks } from '../../../src/source/record-chunks.js';
describe('record chunks', () => {
  it('keeps every record once, in order, in chunks of at most 500 records and 512 KiB but for one record alone', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 300_000 }), { maxLength: 1_200 }), (sizes) => {
        const records = sizes.map((size, i) => ({ key: String(i), value: 'v'.repeat(size) }));
        const split = chunks(records);
        expect(split.flat()).toEqual(records);
        for (const chunk of split) {
          expect(chunk.length).toBeGreaterThan(0);
          expect(chunk.length).toBeLessThanOrEqual(500);
          const bytes = chunk.reduce((n, r) => n + String(r.key).length + String(r.value).length, 0);
          if (chunk.length > 1) expect(bytes).toBeLessThanOrEqual(512 * 1024);
        }
      }),
      { numRuns: 30 },
    );
  });
});
