// A row's late_applied marks: read back as written, a record at or below its partition's mark covered,
// marks only ever rising, and anything not of the form refused rather than misread.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  formatLateApplied,
  lateAppliedCovers,
  parseLateApplied,
  withLateApplied,
} from '../../../src/sinks/late-applied.js';

describe('late_applied', () => {
  it("reads the pipeline's empty column as no marks, and marks as written", () => {
    expect(parseLateApplied('')).toEqual(new Map());
    expect(parseLateApplied(null)).toEqual(new Map());
    expect(parseLateApplied('0:57,3:12')).toEqual(
      new Map([
        [0, 57n],
        [3, 12n],
      ]),
    );
    expect(formatLateApplied(parseLateApplied('3:12, 0:57')!)).toBe('0:57,3:12');
  });

  it("covers a late record at or below its partition's mark, and no other", () => {
    const marks = parseLateApplied('0:57,3:12')!;
    expect(lateAppliedCovers(marks, 0, 57n)).toBe(true);
    expect(lateAppliedCovers(marks, 0, 3n)).toBe(true);
    expect(lateAppliedCovers(marks, 0, 58n)).toBe(false);
    expect(lateAppliedCovers(marks, 1, 0n)).toBe(false);
  });

  it('refuses text that is not partition:offset pairs', () => {
    for (const text of ['0', '0:x', 'a:1', '0:1;2:3', '-1:4']) expect(parseLateApplied(text)).toBeUndefined();
  });

  it('keeps offsets beyond 2^53 exact', () => {
    const big = 2n ** 60n + 1n;
    expect(parseLateApplied(formatLateApplied(withLateApplied(new Map(), 2, big)))?.get(2)).toBe(big);
  });

  it("after any sequence of merges, covers exactly what was merged up to each partition's highest", () => {
    const mergeArb = fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), fc.bigInt({ min: 0n, max: 100n })));
    fc.assert(
      fc.property(
        mergeArb,
        fc.integer({ min: 0, max: 3 }),
        fc.bigInt({ min: 0n, max: 100n }),
        (merges, p, o) => {
          let marks = parseLateApplied('')!;
          // Through the column each time, as rows are read and written again.
          for (const [partition, offset] of merges)
            marks = parseLateApplied(formatLateApplied(withLateApplied(marks, partition, offset)))!;
          const highest = merges
            .filter(([q]) => q === p)
            .reduce<bigint | undefined>(
              (h, [, offset]) => (h === undefined || offset > h ? offset : h),
              undefined,
            );
          return lateAppliedCovers(marks, p, o) === (highest !== undefined && o <= highest);
        },
      ),
    );
  });
});
