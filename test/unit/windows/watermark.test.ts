import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Watermark } from '../../../src/windows/watermark.js';

const settings = { maxOutOfOrdernessMs: 5_000, idleTimeoutMs: 30_000 };

describe('Watermark', () => {
  it('is the max event time seen minus the allowed out-of-orderness, and never moves back', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 1e12 }), { minLength: 1, maxLength: 200 }), (times) => {
        const watermark = new Watermark(settings);
        let previous = Number.NEGATIVE_INFINITY;
        times.forEach((t, i) => {
          watermark.observe(t, i);
          const current = watermark.current(i, false);
          expect(current).toBeGreaterThanOrEqual(previous);
          expect(current).toBe(Math.max(...times.slice(0, i + 1)) - settings.maxOutOfOrdernessMs);
          previous = current;
        });
      }),
    );
  });

  it('follows the wall clock once a caught-up partition has been quiet for the idle timeout', () => {
    const watermark = new Watermark(settings);
    watermark.observe(1_000_000, 0);
    expect(watermark.current(29_999, true)).toBe(995_000);
    expect(watermark.current(2_000_000, true)).toBe(2_000_000 - 30_000);
  });

  it('does not advance by idleness while the partition has a backlog, or before any record', () => {
    const watermark = new Watermark(settings);
    expect(watermark.current(10_000_000, true)).toBe(Number.NEGATIVE_INFINITY);
    watermark.observe(1_000_000, 0);
    expect(watermark.current(10_000_000, false)).toBe(995_000);
  });
});
