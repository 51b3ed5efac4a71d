// The offset tracker against a model: records complete in any order; the position (what a snapshot
// commits) is the lowest offset not complete, else one past the last tracked; commits never go backwards.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OffsetTracker } from '../../../src/runtime/offset-tracker.js';

describe('OffsetTracker', () => {
  it('stands exactly at the lowest incomplete record, completions in any order', () => {
    const stepArb = fc.oneof(
      fc.record({
        kind: fc.constant('track' as const),
        count: fc.integer({ min: 1, max: 30 }),
        gap: fc.nat(3),
      }),
      fc.record({ kind: fc.constant('complete' as const), pick: fc.nat() }),
      fc.record({ kind: fc.constant('commit' as const) }),
    );
    fc.assert(
      fc.property(fc.array(stepArb, { maxLength: 300 }), (steps) => {
        const tracker = new OffsetTracker();
        const incomplete = new Set<bigint>();
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
          } else if (step.kind === 'commit') {
            const model = min(incomplete) ?? next;
            const offset = tracker.position();
            expect(offset).toBe(model);
            if (offset !== undefined) {
              tracker.committed(offset);
              tracker.committed(0n); // a late, older acknowledgement never moves it back
              if (committed === undefined || offset > committed) committed = offset;
            }
            expect(tracker.committedOffsetValue).toBe(committed);
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
    expect(tracker.position()).toBe(5n);
    tracker.complete(5n);
    expect(tracker.position()).toBe(6n);
  });
});
