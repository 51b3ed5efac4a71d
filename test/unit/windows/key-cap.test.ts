// The key cap's drops and their way back: every event the cap drops is reported with the window it
// missed (tumbling, sliding, session) and the cap, so windows + drops account for every event; and
// replaying exactly the dropped events, restricted to the windows they missed, into the restored state
// under a raised cap gives every window its full count, without counting anything twice elsewhere.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { PipelineInput } from '../../../src/config/schema.js';
import { validatePipeline } from '../../../src/config/validate.js';
import { admits, parseWindowRefs, windowRefOf, type KeyCapDrop } from '../../../src/windows/key-cap.js';
import { slidingWindowsOf } from '../../../src/windows/sliding.js';
import { tumblingWindowOf } from '../../../src/windows/tumbling.js';
import type { WindowResult } from '../../../src/windows/window-result.js';
import { partitionWindowsOf } from '../../support/partition-windows.js';

const HOUR = 3_600_000;
const GAP = 20 * 60_000;

interface Ev {
  t: number;
  key: string;
}

function pipeline(maxKeys: number): PipelineInput {
  return {
    name: 'p',
    // No event of the stream (three hours) is ever late: the cap is the only way to miss a window.
    time: { maxOutOfOrderness: '4h', grace: 0, idleTimeout: '1d' },
    windows: [
      { name: 'capped', type: 'tumbling', size: '1h', groupBy: ['key'], maxKeys },
      { name: 'slid', type: 'sliding', size: '1h', advance: '30m', groupBy: ['key'], maxKeys },
      { name: 'sess', type: 'session', gap: GAP, groupBy: ['key'], maxKeys },
      { name: 'all', type: 'tumbling', size: '1h', groupBy: ['key'], maxKeys: 1_000 },
    ],
  };
}

/** Events per `${definition}|${start}|${key}`, recomputed from scratch (sessions: unions of spans). */
function truthOf(events: readonly Ev[]): Map<string, number> {
  const truth = new Map<string, number>();
  const add = (id: string) => truth.set(id, (truth.get(id) ?? 0) + 1);
  const byKey = new Map<string, number[]>();
  for (const ev of events) {
    add(`capped|${tumblingWindowOf(ev.t, HOUR).start}|${ev.key}`);
    add(`all|${tumblingWindowOf(ev.t, HOUR).start}|${ev.key}`);
    for (const w of slidingWindowsOf(ev.t, HOUR, HOUR / 2)) add(`slid|${w.start}|${ev.key}`);
    byKey.set(ev.key, [...(byKey.get(ev.key) ?? []), ev.t]);
  }
  for (const [key, times] of byKey) {
    times.sort((a, b) => a - b);
    let start = times[0]!;
    let end = start + GAP;
    let count = 0;
    for (const t of times) {
      if (t >= end) {
        truth.set(`sess|${start}|${key}`, count);
        start = t;
        count = 0;
      }
      end = Math.max(end, t + GAP);
      count += 1;
    }
    truth.set(`sess|${start}|${key}`, count);
  }
  return truth;
}

function countsOf(rows: readonly WindowResult[]): Map<string, number> {
  return new Map(
    rows
      .filter((r) => r.reason !== 'superseded')
      .map((r) => [`${r.definition}|${r.window.start}|${r.key[0]}`, r.count]),
  );
}

const streamArb = fc.array(
  fc.record({
    t: fc.integer({ min: 0, max: 3 * 60 }).map((m) => m * 60_000),
    key: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g'),
  }),
  { maxLength: 120 },
);

describe('window references', () => {
  it('name one tumbling or sliding window by its start, a session by its definition', () => {
    expect(windowRefOf({ definition: 'views', windowStart: 60_000 })).toBe('views@60000');
    expect(windowRefOf({ definition: 'sessions' })).toBe('sessions');
    const only = parseWindowRefs(' views@60000, sessions ,')!;
    expect([...only]).toEqual(['views@60000', 'sessions']);
    expect(admits(only, 'views', 60_000)).toBe(true);
    expect(admits(only, 'views', 0)).toBe(false);
    expect(admits(only, 'sessions')).toBe(true);
    expect(admits(only, 'clicks', 60_000)).toBe(false);
    expect(parseWindowRefs('')).toBeUndefined();
    expect(parseWindowRefs(undefined)).toBeUndefined();
  });
});

describe('the key cap', () => {
  it('reports every event it drops with its window and cap: windows plus drops hold every event', () => {
    fc.assert(
      fc.property(streamArb, (events) => {
        const windows = partitionWindowsOf(validatePipeline(pipeline(3)));
        const drops = new Map<string, number>();
        events.forEach((ev, i) => {
          const outcome = windows.absorb({ value: ev, eventTimeMs: ev.t }, BigInt(i), 0);
          expect(outcome.late).toEqual([]);
          expect(outcome.capped).toBe(outcome.dropped?.length ?? 0);
          for (const drop of outcome.dropped ?? []) {
            expect(drop.maxKeys).toBe(3);
            // A session that was never opened has no start: one drop per event and definition.
            const start = drop.windowStart ?? 'session';
            const id = `${drop.definition}|${start}|${ev.key}`;
            drops.set(id, (drops.get(id) ?? 0) + 1);
          }
        });
        expect(windows.counters.keyCapDropped).toBe([...drops.values()].reduce((a, b) => a + b, 0));
        const counted = countsOf(windows.closeDue(Number.MAX_SAFE_INTEGER / 2, true));
        const truth = truthOf(events);
        // Tumbling and sliding: per window and key, counted + dropped = every event of it.
        for (const [id, n] of truth) {
          if (id.startsWith('sess|')) continue;
          expect((counted.get(id) ?? 0) + (drops.get(id) ?? 0)).toBe(n);
        }
        expect([...drops.keys()].some((id) => id.startsWith('all|'))).toBe(false);
        // Sessions: per key, counted + dropped = every event of the key.
        for (const key of new Set(events.map((e) => e.key))) {
          const inSessions = [...counted]
            .filter(([id]) => id.startsWith('sess|') && id.endsWith(`|${key}`))
            .reduce((n, [, c]) => n + c, 0);
          const dropped = drops.get(`sess|session|${key}`) ?? 0;
          expect(inSessions + dropped).toBe(events.filter((e) => e.key === key).length);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('brings the dropped events back: replayed into just the windows they missed, under a raised cap', () => {
    fc.assert(
      fc.property(streamArb, (events) => {
        const first = partitionWindowsOf(validatePipeline(pipeline(3)));
        const dropped: { ev: Ev; drops: KeyCapDrop[] }[] = [];
        events.forEach((ev, i) => {
          const outcome = first.absorb({ value: ev, eventTimeMs: ev.t }, BigInt(i), 0);
          if (outcome.dropped) dropped.push({ ev, drops: outcome.dropped });
        });
        // The fix: a raised cap, the state restored from the changelog, the dead letters replayed.
        const fixed = partitionWindowsOf(validatePipeline(pipeline(1_000)));
        const changelog = new Map<string, Buffer>();
        for (const [key, value] of first.takeChangelog()) if (value) changelog.set(key, value);
        expect(fixed.restore(changelog, { watermark: first.watermark.snapshot() }, 0)).toEqual([]);
        dropped.forEach(({ ev, drops }, i) => {
          const only = parseWindowRefs(drops.map(windowRefOf).join(','));
          const outcome = fixed.absorb({ value: ev, eventTimeMs: ev.t }, BigInt(events.length + i), 0, only);
          expect(outcome).toEqual({ late: [], capped: 0 });
        });
        const rows = [...first.takePending(), ...fixed.closeDue(Number.MAX_SAFE_INTEGER / 2, true)];
        expect(countsOf(rows)).toEqual(truthOf(events));
      }),
      { numRuns: 200 },
    );
  });
});
