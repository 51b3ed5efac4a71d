// The offset tracker against a model: commit = lowest held offset, else one past the last processed;
// never backwards, never past a held record.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OffsetTracker } from '../../../src/runtime/offset-tracker.js';

describe('OffsetTracker', () => {
  it('never commits past a held record, never moves back, and reaches the end when nothing is held', () => {
    const stepArb = fc.record({ processed: fc.nat(20), release: fc.boolean(), hold: fc.boolean() });
    fc.assert(
      fc.property(fc.array(stepArb, { minLength: 1, maxLength: 100 }), (steps) => {
        const tracker = new OffsetTracker();
        const held = new Set<bigint>();
        let next = 0n;
        let committed = -1n;
        for (const step of steps) {
          for (let i = 0; i < step.processed; i += 1) {
            if (step.hold) held.add(next);
            tracker.processed(next);
            next += 1n;
          }
          if (step.release && held.size > 0) held.delete([...held].sort((a, b) => (a < b ? -1 : 1))[0]!);
          const lowest = held.size === 0 ? undefined : [...held].reduce((a, b) => (a < b ? a : b));
          const offset = tracker.committable(lowest);
          const modelOffset = next === 0n ? undefined : (lowest ?? next);
          if (modelOffset === undefined || modelOffset <= committed) {
            expect(offset).toBeUndefined();
          } else {
            expect(offset).toBe(modelOffset);
            tracker.committed(offset!);
            committed = offset!;
          }
        }
      }),
    );
  });

  it('knows which offsets a re-fetch after a rebalance delivers again', () => {
    const tracker = new OffsetTracker();
    expect(tracker.isProcessed(0n)).toBe(false);
    tracker.processed(5n);
    expect(tracker.isProcessed(5n)).toBe(true);
    expect(tracker.isProcessed(6n)).toBe(false);
    expect(tracker.committable(undefined)).toBe(6n);
  });
});
