// The packed window store under the key cap's adds: closing in chunks, the key cap (drop or
// `__other__`), tombstones, the byte estimate that the state budget reads, and the budget itself.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { windowSchema } from '../../../src/config/schema.js';
import { validatePipeline } from '../../../src/config/validate.js';
import { PackedWindowStore } from '../../../src/state/packed-window-store.js';
import { addToWindow } from '../../../src/windows/key-cap.js';
import { tumblingWindowOf } from '../../../src/windows/tumbling.js';
import type { Window } from '../../../src/windows/window.js';
import { defineWindow, type WindowDefinition } from '../../../src/windows/window-definition.js';
import { resultOf, type CloseReason, type WindowResult } from '../../../src/windows/window-result.js';
import { keyIdOf, OTHER_KEY } from '../../../src/windows/window-store.js';
import { partitionWindowsOf } from '../../support/partition-windows.js';

const SIZE = 1_000;
const GRACE = 200;

function definition(overrides: Partial<WindowDefinition> = {}, grace = 0): WindowDefinition {
  const config = windowSchema.parse({ name: 'w', type: 'tumbling', size: SIZE, maxKeys: 1_000 });
  const compiled = defineWindow(config, { grace }, undefined);
  return {
    ...compiled,
    ...overrides,
    aggregations: (overrides.aggregations ?? []).map((spec) => ({ ...spec, path: spec.field })),
  };
}

/** The store with the adds and closes the window semantics make. */
class Store extends PackedWindowStore {
  addToWindow(d: WindowDefinition, window: Window, key: string[], event: unknown, offset: number) {
    return addToWindow(this, d, window, key, keyIdOf(key), event, offset);
  }

  closeUpTo(watermark: number, limit: number, reason: () => CloseReason): WindowResult[] {
    return this.removeDue(watermark, limit).map((w) => resultOf(w, reason()));
  }
}

function resultId(r: WindowResult): string {
  return `${r.window.start}|${r.key.join(',')}`;
}

const eventsArb = fc.array(
  fc.record({ time: fc.integer({ min: 0, max: 20_000 }), key: fc.constantFrom('a', 'b', 'c') }),
  { maxLength: 200 },
);

describe('PackedWindowStore', () => {
  it('closes the same windows in chunks of at most `limit` as in one go', () => {
    fc.assert(
      fc.property(
        eventsArb,
        fc.integer({ min: 1, max: 7 }),
        fc.integer({ min: 0, max: 25_000 }),
        (events, limit, watermark) => {
          const whole = new Store();
          const chunked = new Store();
          const d = definition({}, GRACE);
          events.forEach((e, i) => {
            whole.addToWindow(d, tumblingWindowOf(e.time, SIZE), [e.key], {}, i);
            chunked.addToWindow(d, tumblingWindowOf(e.time, SIZE), [e.key], {}, i);
          });
          const expected = whole
            .closeUpTo(watermark, Infinity, () => 'watermark')
            .map(resultId)
            .sort();
          const got: string[] = [];
          for (;;) {
            const chunk = chunked.closeUpTo(watermark, limit, () => 'watermark');
            expect(chunk.length).toBeLessThanOrEqual(limit);
            got.push(...chunk.map(resultId));
            if (chunk.length < limit) break;
          }
          expect(got.sort()).toEqual(expected);
          expect(chunked.size).toBe(whole.size);
        },
      ),
    );
  });

  it('caps the keys of a window: beyond it, drops the event or puts it under __other__', () => {
    const window = tumblingWindowOf(0, SIZE);
    const drop = new Store();
    const other = new Store();
    const outcomes = { drop: [] as string[], other: [] as string[] };
    ['a', 'b', 'c', 'a', 'd'].forEach((key, i) => {
      outcomes.drop.push(drop.addToWindow(definition({ maxKeys: 2 }), window, [key], {}, i));
      outcomes.other.push(
        other.addToWindow(definition({ maxKeys: 2, onKeyCap: 'other' }), window, [key], {}, i),
      );
    });
    expect(outcomes.drop).toEqual(['added', 'added', 'dropped', 'added', 'dropped']);
    expect(outcomes.other).toEqual(['added', 'added', 'other', 'added', 'other']);
    const counts = (store: Store) =>
      Object.fromEntries(
        store.closeUpTo(Infinity, Infinity, () => 'idle').map((r): [string, number] => [r.key[0]!, r.count]),
      );
    expect(counts(drop)).toEqual({ a: 2, b: 1 });
    expect(counts(other)).toEqual({ a: 2, b: 1, [OTHER_KEY]: 2 });
    // Another window has its own cap.
    expect(drop.addToWindow(definition({ maxKeys: 2 }), tumblingWindowOf(SIZE, SIZE), ['z'], {}, 9)).toBe(
      'added',
    );
  });

  it('writes a tombstone only for a window a snapshot has seen', () => {
    const store = new Store();
    store.addToWindow(definition(), tumblingWindowOf(0, SIZE), ['seen'], {}, 0);
    expect([...store.takeChanges().keys()]).toEqual([`w\u00010\u0001seen`]);
    store.addToWindow(definition(), tumblingWindowOf(0, SIZE), ['unseen'], {}, 1);
    store.closeUpTo(Infinity, Infinity, () => 'watermark');
    // `unseen` was opened and closed between two snapshots: never written, nothing to remove.
    expect([...store.takeChanges()]).toEqual([[`w\u00010\u0001seen`, null]]);
  });

  it('estimates state bytes that grow with windows and distinct values and fall back to zero', () => {
    const store = new Store();
    const distinct = definition({
      aggregations: [{ name: 'users', fn: 'count_distinct', field: 'user', exactUpTo: 10_000 }],
    });
    store.addToWindow(distinct, tumblingWindowOf(0, SIZE), ['a'], { user: 'u0' }, 0);
    const one = store.bytes;
    for (let i = 1; i < 500; i += 1)
      store.addToWindow(distinct, tumblingWindowOf(0, SIZE), ['a'], { user: `u${i}` }, i);
    expect(store.bytes).toBeGreaterThan(one + 400 * 40);
    store.closeUpTo(Infinity, Infinity, () => 'idle');
    expect(store.bytes).toBe(0);
  });
});

describe('the state budget', () => {
  it('closes the windows due first, early, moves the watermark there, and counts them', () => {
    const windows = partitionWindowsOf(
      validatePipeline({
        name: 'p',
        time: { maxOutOfOrderness: '1h', idleTimeout: '1h' },
        state: { maxBytes: 1024 * 1024 },
        windows: [{ name: 'w', type: 'tumbling', size: '1s', groupBy: ['k'] }],
      }),
    );
    // Distinct keys in many windows: well over a megabyte of state.
    for (let i = 0; i < 8_000; i += 1)
      windows.absorb({ value: { k: `key-${i}` }, eventTimeMs: i * 10 }, BigInt(i), 0);
    expect(windows.stateBytes).toBeLessThanOrEqual(1024 * 1024);
    expect(windows.counters.budgetClosed).toBeGreaterThan(0);
    const early = windows.closeDue(0, false);
    expect(early.length).toBe(windows.counters.budgetClosed);
    expect(early.every((r) => r.reason === 'state-budget')).toBe(true);
    // An event for a window closed early is late, like any other.
    const outcome = windows.absorb({ value: { k: 'late' }, eventTimeMs: 0 }, 8_000n, 0);
    expect(outcome.late.map((l) => l.definition)).toEqual(['w']);
  });
});
