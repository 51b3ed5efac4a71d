import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sinkRetryDelay } from '../../../src/runtime/sink-retry.js';

describe('sinkRetryDelay', () => {
  it('doubles from 200 ms, jitters up to ×2, and never exceeds 10 s', () => {
    expect(sinkRetryDelay(1, () => 0)).toBe(200);
    expect(sinkRetryDelay(2, () => 0)).toBe(400);
    expect(sinkRetryDelay(3, () => 0.5)).toBe(1_200);
    expect(sinkRetryDelay(40, () => 0.99)).toBe(10_000);
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 100 }),
        fc.double({ min: 0, max: 0.999, noNaN: true }),
        (n, r) => {
          const delay = sinkRetryDelay(n, () => r);
          expect(delay).toBeGreaterThanOrEqual(Math.min(10_000, 200 * 2 ** (n - 1)));
          expect(delay).toBeLessThanOrEqual(10_000);
          expect(sinkRetryDelay(n + 1, () => r)).toBeGreaterThanOrEqual(delay);
        },
      ),
    );
  });
});
