// A late event merged into its window's row gives the row of the window computed with the event in it:
// checked against folding every event at once, for any split into a row and one late event.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  addEvent,
  aggregateResults,
  emptyAggregate,
  type AggregateSpec,
} from '../../../src/aggregations/aggregates.js';
import { validatePipeline } from '../../../src/config/validate.js';
import { mergeLateEvent, unmergeableWindow, type RowValues } from '../../../src/sinks/late-row-merge.js';
import { defineWindow } from '../../../src/windows/window-definition.js';

const specs: AggregateSpec[] = [
  { name: 'total', fn: 'sum', field: 'v' },
  { name: 'low', fn: 'min', field: 'v' },
  { name: 'high', fn: 'max', field: 'v' },
  { name: 'mean', fn: 'avg', field: 'v' },
];

/** The row of a window holding `events`, folded as the pipeline folds them. */
function rowOf(events: readonly { v?: number }[]): RowValues {
  const state = emptyAggregate(specs);
  for (const e of events) addEvent(state, specs, e);
  return aggregateResults(state, specs);
}

function expectedOf(events: readonly { v?: number }[]): RowValues {
  const vs = events.map((e) => e.v).filter((v): v is number => v !== undefined);
  return {
    count: events.length,
    total: vs.reduce((a, b) => a + b, 0),
    low: vs.length === 0 ? null : Math.min(...vs),
    high: vs.length === 0 ? null : Math.max(...vs),
    mean: vs.length === 0 ? null : vs.reduce((a, b) => a + b, 0) / vs.length,
    mean_n: vs.length,
  };
}

function expectClose(actual: RowValues, expected: RowValues): void {
  expect(Object.keys(actual).sort()).toEqual(Object.keys(expected).sort());
  for (const [name, value] of Object.entries(expected)) {
    if (value === null) expect(actual[name], name).toBeNull();
    else expect(actual[name], name).toBeCloseTo(value, 6);
  }
}

const eventArb = fc.record({ v: fc.option(fc.integer({ min: -1_000, max: 1_000 }), { nil: undefined }) });

describe('merging a late event into its row', () => {
  it('gives the row of the window with the event in it', () => {
    fc.assert(
      fc.property(fc.array(eventArb, { minLength: 1, maxLength: 30 }), eventArb, (events, late) => {
        const merged = mergeLateEvent(specs, rowOf(events), late);
        if ('unmergeable' in merged) return false;
        expectClose(merged.values, expectedOf([...events, late]));
        return true;
      }),
    );
  });

  it('makes a row of the event alone where the window had none of its key', () => {
    const merged = mergeLateEvent(specs, undefined, { v: 4 });
    expect(merged).toEqual({ values: { count: 1, total: 4, low: 4, high: 4, mean: 4, mean_n: 1 } });
  });

  it('counts an event without the field, leaving the aggregates as they were', () => {
    const merged = mergeLateEvent(specs, rowOf([{ v: 2 }, { v: 6 }]), {});
    expect(merged).toEqual({ values: { count: 3, total: 8, low: 2, high: 6, mean: 4, mean_n: 2 } });
  });

  it('refuses an average whose row lacks the count of its values (an older row)', () => {
    const old = { count: 2, total: 8, low: 2, high: 6, mean: 4, mean_n: 0 };
    const merged = mergeLateEvent(specs, old, { v: 1 });
    expect(merged).toEqual({ unmergeable: expect.stringContaining('mean_n') as string });
  });

  it('says which windows no row can take a late event into: sessions and count_distinct', () => {
    const config = validatePipeline({
      name: 'p',
      source: { topic: 't' },
      windows: [
        { name: 'ok', type: 'tumbling', size: '1m', aggregations: [{ fn: 'sum', field: 'v' }] },
        { name: 'users', type: 'tumbling', size: '1m', aggregations: [{ fn: 'count_distinct', field: 'u' }] },
        { name: 's', type: 'session', gap: '1m' },
      ],
    });
    const reasons = config.windows.map((w) =>
      unmergeableWindow(defineWindow(w, config.time, config.source.keyedBy)),
    );
    expect(reasons[0]).toBeUndefined();
    expect(reasons[1]).toContain('count_distinct');
    expect(reasons[2]).toContain('session');
  });
});
