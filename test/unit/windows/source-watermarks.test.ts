// The watermark of a partition computing re-keyed windows, against a model: the lowest of what each
// source partition said last (empty ones left out, unheard ones holding it at -Infinity). And the
// property lateness rests on: whatever the interleaving of the source partitions, the watermark an
// event meets is never above its own source partition's watermark before it.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SourceWatermarks } from '../../../src/windows/source-watermarks.js';

const OOO = 1_000;
const SOURCES = 3;

/** Per source: event times; markers are sent after some events. */
const streams = fc.array(
  fc.array(fc.record({ t: fc.integer({ min: 0, max: 100_000 }), marker: fc.boolean() }), { maxLength: 30 }),
  { minLength: SOURCES, maxLength: SOURCES },
);

describe('SourceWatermarks', () => {
  it('is the lowest source watermark, and never above the watermark an event left its source with', () => {
    fc.assert(
      fc.property(streams, fc.array(fc.nat(SOURCES - 1), { maxLength: 200 }), (perSource, order) => {
        const watermarks = new SourceWatermarks(SOURCES, OOO);
        const position = [0, 0, 0];
        const sourceWatermark = [-Infinity, -Infinity, -Infinity];
        const said = new Map<number, number>();
        const emptyAtStart = perSource.map((events) => events.length === 0);
        // Sources without events say so once, as their markers would.
        emptyAtStart.forEach((empty, s) => empty && watermarks.hear(s, -Infinity, true));
        const model = () => {
          let lowest = Infinity;
          for (let s = 0; s < SOURCES; s += 1) {
            if (emptyAtStart[s]) continue;
            const w = said.get(s);
            if (w === undefined) return -Infinity;
            lowest = Math.min(lowest, w);
          }
          return lowest === Infinity ? -Infinity : lowest;
        };
        let highest = -Infinity;
        for (const s of [...order, 0, 1, 2, 0, 1, 2]) {
          const event = perSource[s]![position[s]!];
          if (!event) continue;
          position[s]! += 1;
          const before = sourceWatermark[s]!;
          // The event meets a watermark no higher than its source's own before it: never late here
          // when on time there.
          expect(watermarks.current()).toBeLessThanOrEqual(before === -Infinity ? Infinity : before);
          watermarks.observe(event.t, 0, { partition: s, watermark: before });
          sourceWatermark[s] = Math.max(before, event.t - OOO);
          said.set(s, sourceWatermark[s]);
          if (event.marker) watermarks.hear(s, sourceWatermark[s]);
          highest = Math.max(highest, model());
          expect(watermarks.current()).toBe(highest);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('restores what it heard from a snapshot', () => {
    const watermarks = new SourceWatermarks(2, 0);
    watermarks.hear(0, 5_000);
    watermarks.hear(1, 7_000);
    const restored = new SourceWatermarks(2, 0);
    restored.restore(watermarks.snapshot());
    expect(restored.current()).toBe(5_000);
    restored.hear(0, 9_000);
    expect(restored.current()).toBe(7_000);
  });
});
