// The offset tracker against a model: records complete in any order; the commit is the lowest offset
// not complete (or held by state), else one past the last tracked; never backwards.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OffsetTracker } from '../../../src/runtime/offset-tracker.js';

describe('OffsetTracker', () => {
  it('commits exactly below the lowest incomplete or held record, completions in any order', () => {
    const stepArb = fc.oneof(
      fc.record({
        kind: fc.constant('track' as const),
        count: fc.integer({ min: 1, max: 30 }),
        gap: fc.nat(3),
      }),
      fc.record({ kind: fc.constant('complete' as const), pick: fc.nat() }),
      fc.record({ kind: fc.constant('hold' as const), pick: fc.nat(), release: fc.boolean() }),
      fc.record({ kind: fc.constant('commit' as const) }),
    );
    fc.assert(
      fc.property(fc.array(stepArb, { maxLength: 300 }), (steps) => {
        const tracker = new OffsetTracker();
        const incomplete = new Set<bigint>();
        const held = new Set<bigint>();
        let next: bigint | undefined;
        let committed: bigint | undefined;
        const min = (set: Set<bigint>) =>
          [...set].reduce<bigint | undefined>((a, b) => (a === undefined || b < a ? b : a), undefined);
        for (const step of steps) {
          if (step.kind === 'track') {
            // Offsets may have gaps (compaction, transaction markers).
            let offset = (next ?? 0n) + BigInt(step.gap);
            for (let i = 0; i < step.count; i += 1, offset += 1n) {
              tracker.track(offset);
              incomplete.add(offset);
              next = offset + 1n;
            }
          } else if (step.kind === 'complete' && incomplete.size > 0) {
            const offset = [...incomplete][step.pick % incomplete.size]!;
            incomplete.delete(offset);
            tracker.complete(offset);
          } else if (step.kind === 'hold') {
            if (step.release && held.size > 0) held.delete([...held][step.pick % held.size]!);
            else if (next !== undefined) held.add(BigInt(step.pick) % next);
          } else if (step.kind === 'commit') {
            const lows = [min(incomplete) ?? next, min(held)].filter((o): o is bigint => o !== undefined);
            const model = next === undefined ? undefined : lows.reduce((a, b) => (b < a ? b : a));
            const offset = tracker.committable(min(held));
            if (model === undefined || (committed !== undefined && model <= committed)) {
              expect(offset).toBeUndefined();
            } else {
              expect(offset).toBe(model);
              tracker.committed(model);
              committed = model;
            }
          }
          expect(tracker.inFlight).toBe(incomplete.size);
          expect(tracker.lowestIncomplete()).toBe(min(incomplete));
        }
      }),
      { numRuns: 300 },
    );
  });

  it('knows which offsets a re-fetch after a rebalance delivers again, and refuses them', () => {
    const tracker = new OffsetTracker();
    expect(tracker.isSeen(0n)).toBe(false);
    tracker.track(5n);
    expect(tracker.isSeen(5n)).toBe(true);
    expect(tracker.isSeen(6n)).toBe(false);
    expect(() => tracker.track(5n)).toThrow(/tracked twice/);
    expect(tracker.committable(undefined)).toBe(5n);
    tracker.complete(5n);
    expect(tracker.committable(undefined)).toBe(6n);
  });
});
