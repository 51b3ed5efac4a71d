// The window store against a brute-force model: every record kept in a list, windows recomputed from it.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { WindowStore, type WindowResult } from '../../../src/state/window-store.js';
import { tumblingWindowOf } from '../../../src/windows/tumbling.js';

interface Op {
  kind: 'add' | 'close';
  time: number;
  key: string;
}

const SIZE = 1_000;
const GRACE = 200;

const opArb = fc.record({
  kind: fc.constantFrom<'add' | 'close'>('add', 'add', 'add', 'close'),
  time: fc.integer({ min: 0, max: 20_000 }),
  key: fc.constantFrom('a', 'b', 'c'),
});

function resultId(r: WindowResult): string {
  return `${r.window.start}|${r.key.join(',')}`;
}

describe('WindowStore', () => {
  it('emits each window once with the count, first and last offsets of the records it absorbed', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 300 }), (ops: Op[]) => {
        const store = new WindowStore(GRACE);
        const model: { start: number; key: string; offset: bigint }[] = [];
        const emitted = new Map<string, WindowResult>();
        let offset = 0n;
        let watermark = Number.NEGATIVE_INFINITY;
        for (const op of ops) {
          if (op.kind === 'add') {
            const window = tumblingWindowOf(op.time, SIZE);
            // As the partition worker does: a record for a closed window is late, never absorbed.
            if (store.isClosed(window.end, watermark)) continue;
            store.add('w', window, [op.key], offset);
            model.push({ start: window.start, key: op.key, offset });
            offset += 1n;
          } else {
            watermark = Math.max(watermark, op.time);
            for (const result of store.closeUpTo(watermark)) {
              const id = resultId(result);
              expect(emitted.has(id)).toBe(false);
              expect(result.window.end + GRACE).toBeLessThanOrEqual(watermark);
              const absorbed = model.filter(
                (m) => m.start === result.window.start && m.key === result.key[0],
              );
              expect(result.count).toBe(absorbed.length);
              expect(result.firstOffset).toBe(absorbed[0]!.offset);
              expect(result.lastOffset).toBe(absorbed.at(-1)!.offset);
              emitted.set(id, result);
            }
            // What stays open is exactly what the model has not emitted; it holds the lowest offset.
            const open = model.filter((m) => !emitted.has(`${m.start}|${m.key}`));
            expect(store.lowestOffsetHeld()).toBe(open[0]?.offset);
            expect(store.size).toBe(new Set(open.map((m) => `${m.start}|${m.key}`)).size);
          }
        }
      }),
    );
  });

  it('says a window is closed once end + grace has been reached by the watermark', () => {
    const store = new WindowStore(GRACE);
    expect(store.isClosed(1_000, 1_199)).toBe(false);
    expect(store.isClosed(1_000, 1_200)).toBe(true);
  });

  it('closes the same windows in chunks of at most `limit` as in one go', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({ time: fc.integer({ min: 0, max: 20_000 }), key: fc.constantFrom('a', 'b', 'c') }),
          {
            maxLength: 200,
          },
        ),
        fc.integer({ min: 1, max: 7 }),
        fc.integer({ min: 0, max: 25_000 }),
        (events, limit, watermark) => {
          const whole = new WindowStore(GRACE);
          const chunked = new WindowStore(GRACE);
          events.forEach((e, i) => {
            whole.add('w', tumblingWindowOf(e.time, SIZE), [e.key], BigInt(i));
            chunked.add('w', tumblingWindowOf(e.time, SIZE), [e.key], BigInt(i));
          });
          const expected = whole.closeUpTo(watermark).map(resultId).sort();
          const got: string[] = [];
          for (;;) {
            const chunk = chunked.closeUpTo(watermark, limit);
            expect(chunk.length).toBeLessThanOrEqual(limit);
            got.push(...chunk.map(resultId));
            if (chunk.length < limit) break;
          }
          expect(got.sort()).toEqual(expected);
          expect(chunked.size).toBe(whole.size);
          // A partly closed bucket may hold the commit lower than needed, never higher.
          const held = chunked.lowestOffsetHeld();
          const exact = whole.lowestOffsetHeld();
          if (exact !== undefined) expect(held !== undefined && held <= exact).toBe(true);
        },
      ),
    );
  });
});
