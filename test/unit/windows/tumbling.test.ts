import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { tumblingWindowOf } from '../../../src/windows/tumbling.js';

describe('tumblingWindowOf', () => {
  it('every event falls in exactly one window that contains it', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -1e13, max: 1e13 }),
        fc.integer({ min: 1, max: 86_400_000 }),
        (t, size) => {
          const w = tumblingWindowOf(t, size);
          return w.start <= t && t < w.end && w.end - w.start === size && w.start % size === 0;
        },
      ),
    );
  });

  it('aligns to the epoch, also before 1970', () => {
    expect(tumblingWindowOf(90_000, 60_000)).toEqual({ start: 60_000, end: 120_000 });
    expect(tumblingWindowOf(-1, 60_000)).toEqual({ start: -60_000, end: 0 });
    expect(tumblingWindowOf(0, 60_000)).toEqual({ start: 0, end: 60_000 });
  });
});
