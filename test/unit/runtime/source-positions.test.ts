// A re-keyed partition's source positions (source-positions.ts) against a reference model, the whole
// list of source offsets seen per source partition and group key: an event is admitted exactly when its
// offset is above every one taken before for its source partition and group key, and a checkpoint's
// snapshot restores to positions that decide every later event the same way.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SourcePositions, groupIdOf } from '../../../src/runtime/source-positions.js';

const arrival = fc.record({
  source: fc.nat(3),
  group: fc.constantFrom(groupIdOf(['url']), groupIdOf(['type', 'url']), groupIdOf(['url', 'type'])),
  offset: fc.nat(40),
});

describe('SourcePositions', () => {
  it('admits an event only above every offset taken for its source partition and group key', () => {
    fc.assert(
      fc.property(fc.array(arrival, { maxLength: 200 }), fc.nat(200), (arrivals, restartAt) => {
        let positions = new SourcePositions();
        const taken = new Map<string, number[]>();
        arrivals.forEach(({ source, group, offset }, i) => {
          // A restart from a checkpoint somewhere along the way changes nothing.
          if (i === restartAt) {
            const restored = new SourcePositions();
            restored.restore(JSON.parse(JSON.stringify(positions.snapshot())) as Record<string, number>);
            positions = restored;
          }
          const key = `${source}|${group}`;
          const before = taken.get(key) ?? [];
          const expected = before.every((o) => o < offset);
          expect(positions.admit(source, group, offset)).toBe(expected);
          if (expected) taken.set(key, [...before, offset]);
        });
      }),
    );
  });

  it('names a group key by its fields in any order, and restores nothing from an older checkpoint', () => {
    expect(groupIdOf(['url', 'type'])).toBe(groupIdOf(['type', 'url']));
    const positions = new SourcePositions();
    positions.restore(undefined);
    expect(positions.size).toBe(0);
    expect(positions.admit(0, groupIdOf(['url']), 0)).toBe(true);
  });
});
