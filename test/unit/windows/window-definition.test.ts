// A definition's fingerprint changes with every field that gives its rows their meaning (type, sizes,
// group-by and its order, aggregations and their order, emit mode) and with nothing cosmetic.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { windowSchema } from '../../../src/config/schema.js';
import { defineWindow } from '../../../src/windows/window-definition.js';

const TIME = { grace: 0 };

function fingerprint(input: Record<string, unknown>): string {
  return defineWindow(windowSchema.parse(input), TIME, undefined).fingerprint;
}

const base = {
  name: 'w',
  type: 'tumbling',
  size: '1m',
  groupBy: ['a', 'b'],
  aggregations: [
    { fn: 'sum', field: 'price' },
    { fn: 'count_distinct', field: 'user' },
  ],
};

describe('defineWindow', () => {
  it('changes the fingerprint with each field that changes a row’s meaning', () => {
    const changed = [
      { type: 'sliding', advance: '30s' },
      { size: '2m' },
      { groupBy: ['b', 'a'] },
      { groupBy: ['a'] },
      { aggregations: [...base.aggregations].reverse() },
      { aggregations: [{ fn: 'max', field: 'price' }, base.aggregations[1]] },
      { aggregations: [{ fn: 'sum', field: 'cost' }, base.aggregations[1]] },
      { aggregations: base.aggregations.slice(0, 1) },
      { emit: { mode: 'update' } },
    ].map((change) => fingerprint({ ...base, ...change }));
    changed.push(
      fingerprint({
        name: 'w',
        type: 'session',
        gap: '1m',
        groupBy: base.groupBy,
        aggregations: base.aggregations,
      }),
    );
    changed.push(
      fingerprint({
        name: 'w',
        type: 'session',
        gap: '2m',
        groupBy: base.groupBy,
        aggregations: base.aggregations,
      }),
    );
    const all = [fingerprint(base), ...changed];
    expect(new Set(all).size).toBe(all.length);
  });

  it('keeps the fingerprint under cosmetic and operational changes', () => {
    const same = [
      { name: 'renamed' },
      { aggregations: base.aggregations.map((a, i) => ({ ...a, name: `col_${i}` })) },
      { emit: { mode: 'final', every: '1m' } },
      { maxKeys: 5, onKeyCap: 'other' },
    ].map((change) => fingerprint({ ...base, ...change }));
    expect(new Set([fingerprint(base), ...same]).size).toBe(1);
    expect(defineWindow(windowSchema.parse(base), { grace: 9_000 }, undefined).fingerprint).toBe(
      fingerprint(base),
    );
  });

  it('gives equal fingerprints exactly to definitions of equal meaning', () => {
    const field = fc.constantFrom('a', 'b', 'c.d');
    const window = fc.record({
      size: fc.constantFrom('1m', '2m'),
      groupBy: fc.array(fc.constantFrom('a', 'b', 'c'), { maxLength: 3 }),
      aggregations: fc.array(fc.record({ fn: fc.constantFrom('sum', 'min'), field }), { maxLength: 3 }),
      mode: fc.constantFrom('final', 'update'),
      name: fc.constantFrom('x', 'y'),
      every: fc.constantFrom('1s', '5s'),
    });
    fc.assert(
      fc.property(window, window, (a, b) => {
        const of = (w: typeof a) =>
          fingerprint({
            name: w.name,
            type: 'tumbling',
            size: w.size,
            groupBy: w.groupBy,
            aggregations: w.aggregations,
            emit: { mode: w.mode, every: w.every },
          });
        const meaning = (w: typeof a) => JSON.stringify([w.size, w.groupBy, w.aggregations, w.mode]);
        return (of(a) === of(b)) === (meaning(a) === meaning(b));
      }),
    );
  });

  it('splits dotted paths once and keeps top-level fields as strings', () => {
    const d = defineWindow(
      windowSchema.parse({ ...base, aggregations: [{ fn: 'sum', field: 'p.price' }] }),
      TIME,
      undefined,
    );
    expect(d.groupByPaths).toEqual(['a', 'b']);
    expect(d.aggregations[0]!.path).toEqual(['p', 'price']);
  });
});
