// The backpressure controller against a model of hysteresis: paused from the moment a bound is
// reached until the buffer is below the low-water mark of both bounds.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BackpressureController } from '../../../src/runtime/backpressure.js';

const config = {
  strategy: 'pause-upstream' as const,
  maxBufferSize: 100,
  maxBufferBytes: 10_000,
  lowWaterMark: 0.5,
};

describe('BackpressureController', () => {
  it('pauses at a bound, resumes below the low-water mark, and reports each transition once', () => {
    const fillArb = fc.record({
      records: fc.integer({ min: 0, max: 150 }),
      bytes: fc.integer({ min: 0, max: 15_000 }),
    });
    fc.assert(
      fc.property(fc.array(fillArb, { maxLength: 200 }), (fills) => {
        const controller = new BackpressureController(config);
        let paused = false;
        for (const fill of fills) {
          const full = fill.records >= 100 || fill.bytes >= 10_000;
          const low = fill.records <= 50 && fill.bytes <= 5_000;
          const action = controller.decide(fill);
          if (!paused && full) {
            expect(action).toBe('pause');
            paused = true;
          } else if (paused && low) {
            expect(action).toBe('resume');
            paused = false;
          } else {
            expect(action).toBe('none');
          }
        }
      }),
    );
  });

  it('admits a record only while it fits, but always one into an empty buffer', () => {
    const controller = new BackpressureController(config);
    expect(controller.fits({ records: 99, bytes: 0 }, 10)).toBe(true);
    expect(controller.fits({ records: 100, bytes: 0 }, 10)).toBe(false);
    expect(controller.fits({ records: 5, bytes: 9_995 }, 10)).toBe(false);
    expect(controller.fits({ records: 0, bytes: 0 }, 1_000_000)).toBe(true);
    // A pack of re-keyed events counts as the events it holds.
    expect(controller.fits({ records: 90, bytes: 0 }, 10, 10)).toBe(true);
    expect(controller.fits({ records: 91, bytes: 0 }, 10, 10)).toBe(false);
  });

  it('never pauses under the shedding strategies; it sheds while over a bound', () => {
    const controller = new BackpressureController({ ...config, strategy: 'drop-oldest' });
    expect(controller.decide({ records: 101, bytes: 0 })).toBe('shed');
    expect(controller.decide({ records: 100, bytes: 0 })).toBe('none'); // full, yet not paused
  });
});
