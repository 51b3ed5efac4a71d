// Aggregations against plain recomputation, merging (as session merges do), the changelog round trip,
// and the HyperLogLog's accuracy past the exact threshold.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  addEvent,
  aggregateResults,
  deserializeAggregate,
  emptyAggregate,
  mergeAggregates,
  serializeAggregate,
  type AggregateSpec,
  type SerializedAggregate,
} from '../../../src/aggregations/aggregates.js';
import { HyperLogLog } from '../../../src/aggregations/hyperloglog.js';

const specs: AggregateSpec[] = [
  { name: 'total', fn: 'sum', field: 'n' },
  { name: 'mean', fn: 'avg', field: 'n' },
  { name: 'low', fn: 'min', field: 'n' },
  { name: 'high', fn: 'max', field: 'props.n' },
  { name: 'users', fn: 'count_distinct', field: 'user', exactUpTo: 4 },
];

const eventArb = fc.record({
  n: fc.option(fc.integer({ min: -100, max: 100 })),
  user: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f'),
});

function expected(events: { n: number | null; user: string }[]) {
  const ns = events.map((e) => e.n).filter((n): n is number => n !== null);
  const users = new Set(events.map((e) => e.user));
  return {
    count: events.length,
    total: ns.reduce((a, b) => a + b, 0),
    mean: ns.length === 0 ? null : ns.reduce((a, b) => a + b, 0) / ns.length,
    mean_n: ns.length,
    low: ns.length === 0 ? null : Math.min(...ns),
    high: ns.length === 0 ? null : Math.max(...ns),
    users: users.size,
    users_exact: users.size > 4 ? 0 : 1,
  };
}

function fold(events: { n: number | null; user: string }[]) {
  const state = emptyAggregate(specs);
  for (const e of events) addEvent(state, specs, { n: e.n, user: e.user, props: { n: e.n } });
  return state;
}

describe('aggregates', () => {
  it('equal a plain recomputation, whether folded at once, merged from two halves, or restored from JSON', () => {
    fc.assert(
      fc.property(fc.array(eventArb, { maxLength: 60 }), fc.nat(), (events, cut) => {
        const split = events.length === 0 ? 0 : cut % (events.length + 1);
        const whole = fold(events);
        const merged = fold(events.slice(0, split));
        mergeAggregates(merged, fold(events.slice(split)), specs);
        const restored = deserializeAggregate(
          JSON.parse(JSON.stringify(serializeAggregate(whole))) as SerializedAggregate,
          specs,
        );
        const want = expected(events);
        expect(aggregateResults(whole, specs)).toEqual(want);
        expect(aggregateResults(merged, specs)).toEqual(want);
        expect(aggregateResults(restored, specs)).toEqual(want);
      }),
    );
  });
});

describe('HyperLogLog', () => {
  it('estimates within 5 % from 100 to 200,000 distinct values, and merges like a union', () => {
    for (const n of [100, 1_000, 10_000, 200_000]) {
      const hll = new HyperLogLog();
      for (let i = 0; i < n; i += 1) hll.add(`user-${i}`);
      expect(Math.abs(hll.estimate() / n - 1)).toBeLessThan(0.05);
      expect(HyperLogLog.fromBase64(hll.toBase64()).estimate()).toBe(hll.estimate());
    }
    const a = new HyperLogLog();
    const b = new HyperLogLog();
    for (let i = 0; i < 30_000; i += 1) a.add(`u${i}`);
    for (let i = 20_000; i < 60_000; i += 1) b.add(`u${i}`);
    a.merge(b);
    expect(Math.abs(a.estimate() / 60_000 - 1)).toBeLessThan(0.05);
  });
});
