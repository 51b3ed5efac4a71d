// Every window type against a brute-force reference over random, out-of-order streams: the reference
// keeps every accepted event in a list and recomputes windows (and session unions) from scratch.
// Checks exact membership and aggregates, lateness (with grace), closing exactly when due and once,
// session merges, and that in update mode the rows ClickHouse would keep (highest version per identity,
// superseded ones dropped) are exactly the final results.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { PipelineInput } from '../../../src/config/schema.js';
import { validatePipeline } from '../../../src/config/validate.js';
import type { Lateness } from '../../../src/windows/partition-windows.js';
import type { WindowResult } from '../../../src/windows/window-result.js';
import { partitionWindowsOf } from '../../support/partition-windows.js';
import { WindowReference, type ExpectedWindow } from '../../support/window-reference.js';

const GRACE = 1_000;
const OUT_OF_ORDERNESS = 2_000;
const GAP = 3_000;

interface Ev {
  t: number;
  key: string;
  value: number;
  user: string;
}
type Op = { kind: 'add'; ev: Ev } | { kind: 'close' };

const aggregations = [
  { fn: 'sum' as const, field: 'value' },
  { fn: 'min' as const, field: 'value' },
  { fn: 'max' as const, field: 'value' },
  { fn: 'avg' as const, field: 'value' },
  { fn: 'count_distinct' as const, field: 'user', exactUpTo: 3 },
];

function pipeline(mode: 'final' | 'update'): PipelineInput {
  const common = { groupBy: ['key'], aggregations, emit: { mode, every: 0 } };
  return {
    name: 'p',
    time: { maxOutOfOrderness: OUT_OF_ORDERNESS, grace: GRACE, idleTimeout: '1h' },
    windows: [
      { name: 'tumbling', type: 'tumbling', size: '10s', ...common },
      { name: 'sliding', type: 'sliding', size: '10s', advance: '5s', ...common },
      { name: 'session', type: 'session', gap: GAP, ...common },
    ],
  };
}

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc
      .record({
        // On a 500 ms grid, so events exactly one gap apart (touching, not merging) are common.
        t: fc.integer({ min: 0, max: 120 }).map((n) => n * 500),
        key: fc.constantFrom('a', 'b'),
        value: fc.integer({ min: -50, max: 50 }),
        user: fc.constantFrom('u1', 'u2', 'u3', 'u4', 'u5'),
      })
      .map((ev) => ({ kind: 'add' as const, ev })),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'close' as const }) },
);

/** A stream that is mostly in order: each event at most ~8 s behind the one before, as real ones are. */
const streamArb = fc.array(opArb, { maxLength: 150 }).map((ops) => {
  let clock = 0;
  return ops.map((op) => {
    if (op.kind === 'close') return op;
    clock = Math.max(clock, op.ev.t);
    return { kind: 'add' as const, ev: { ...op.ev, t: Math.max(0, clock - (op.ev.t % 8_000)) } };
  });
});

function id(definition: string, start: number, key: string): string {
  return `${definition}|${start}|${key}`;
}

function aggregatesOf(events: readonly Ev[]) {
  const values = events.map((e) => e.value);
  const users = new Set(events.map((e) => e.user));
  return {
    count: events.length,
    sum_value: values.reduce((a, b) => a + b, 0),
    min_value: Math.min(...values),
    max_value: Math.max(...values),
    avg_value: values.reduce((a, b) => a + b, 0) / values.length,
    avg_value_n: values.length,
    count_distinct_user: users.size,
    count_distinct_user_exact: users.size > 3 ? 0 : 1,
  };
}

function newReference(): WindowReference {
  return new WindowReference(
    [
      { name: 'tumbling', type: 'tumbling', size: 10_000, groupBy: ['key'] },
      { name: 'sliding', type: 'sliding', size: 10_000, advance: 5_000, groupBy: ['key'] },
      { name: 'session', type: 'session', gap: GAP, groupBy: ['key'] },
    ],
    { grace: GRACE, outOfOrderness: OUT_OF_ORDERNESS },
  );
}

function summary(r: WindowResult) {
  return { id: id(r.definition, r.window.start, r.key[0]!), end: r.window.end, ...r.values };
}

function expectedSummary(e: ExpectedWindow) {
  return {
    id: id(e.definition, e.window.start, e.key[0]!),
    end: e.window.end,
    ...aggregatesOf(e.events.map((ev) => ev.value as unknown as Ev)),
  };
}

const byId = (a: { id: string }, b: { id: string }) => a.id.localeCompare(b.id);

/** What a ReplacingMergeTree keeps (highest version per identity), superseded rows dropped, is the truth. */
function expectClickHouseToHoldTheFinalRows(rows: readonly WindowResult[], reference: WindowReference): void {
  const kept = new Map<string, WindowResult>();
  for (const row of rows) {
    const key = id(row.definition, row.window.start, row.key[0]!);
    const previous = kept.get(key);
    // Equal versions must carry equal values, whichever ClickHouse keeps.
    if (previous && previous.version === row.version) expect(summary(row)).toEqual(summary(previous));
    if (!previous || row.version > previous.version) kept.set(key, row);
  }
  const visible = [...kept.values()].filter((r) => r.reason !== 'superseded');
  expect(visible.map(summary).sort(byId)).toEqual(reference.windows().map(expectedSummary).sort(byId));
}

function run(ops: readonly Op[], mode: 'final' | 'update') {
  const windows = partitionWindowsOf(validatePipeline(pipeline(mode)));
  const reference = newReference();
  const rows: WindowResult[] = [];
  const closedIds = new Set<string>();
  let offset = 0n;
  let now = 0;
  for (const op of ops) {
    now += 1;
    if (op.kind === 'add') {
      const outcome = windows.absorb({ value: op.ev, eventTimeMs: op.ev.t }, offset, now);
      const lateFor = reference.add({ t: op.ev.t, value: { ...op.ev } });
      expect(outcome.late.map((l) => l.definition)).toEqual(lateFor);
      expect(outcome.late.every((l) => l.byMs >= 0)).toBe(true);
      expect(missedRefsOf(outcome.late)).toEqual(reference.lastMissed);
      offset += 1n;
      if (mode === 'update') rows.push(...windows.updatesDue(now));
      continue;
    }
    const got = windows.closeDue(now, false);
    rows.push(...got);
    const closed = got.filter((r) => r.reason !== 'superseded');
    // Exactly the reference windows that are due now and were not closed before.
    const due = reference
      .windows()
      .filter((e) => e.window.end + GRACE <= reference.watermark)
      .filter((e) => !closedIds.has(id(e.definition, e.window.start, e.key[0]!)));
    expect(closed.map(summary).sort(byId)).toEqual(due.map(expectedSummary).sort(byId));
    for (const r of closed) {
      expect(r.reason).toBe('watermark');
      closedIds.add(id(r.definition, r.window.start, r.key[0]!));
    }
  }
  // Idleness closes the rest.
  const closedBefore = rows.filter((r) => r.reason === 'watermark');
  const rest = windows.closeDue(Number.MAX_SAFE_INTEGER / 2, true);
  rows.push(...rest);
  const finals = [...closedBefore, ...rest.filter((r) => r.reason !== 'superseded')];
  expect(finals.map(summary).sort(byId)).toEqual(reference.windows().map(expectedSummary).sort(byId));
  expect(windows.openWindows).toBe(0);
  return { rows, reference };
}

/** The windows a late outcome says the event missed, as the late record's header names them. */
function missedRefsOf(late: readonly Lateness[]): string[] {
  return late.flatMap((l) => (l.windowStarts ?? []).map((start) => `${l.definition}@${start}`));
}

const LATENESS = 4_000;

/** The pipeline with allowed lateness on its tumbling and sliding windows (sessions take none). */
function latePipeline(): PipelineInput {
  const base = pipeline('final');
  return {
    ...base,
    windows: base.windows.map((w) => (w.type === 'session' ? w : { ...w, allowedLateness: LATENESS })),
  };
}

/**
 * Runs the stream with allowed lateness, moving the partition to a fresh engine through its changelog
 * (compacted: the last record per key) at the ops `moveAt` marks, as a restart or a rebalance would.
 */
function runWithLateness(ops: readonly Op[], moveAt: readonly boolean[]) {
  const config = validatePipeline(latePipeline());
  let windows = partitionWindowsOf(config);
  const changelog = new Map<string, Buffer>();
  const reference = new WindowReference(
    [
      { name: 'tumbling', type: 'tumbling', size: 10_000, groupBy: ['key'], allowedLateness: LATENESS },
      {
        name: 'sliding',
        type: 'sliding',
        size: 10_000,
        advance: 5_000,
        groupBy: ['key'],
        allowedLateness: LATENESS,
      },
      { name: 'session', type: 'session', gap: GAP, groupBy: ['key'] },
    ],
    { grace: GRACE, outOfOrderness: OUT_OF_ORDERNESS },
  );
  const rows: WindowResult[] = [];
  let offset = 0n;
  let now = 0;
  ops.forEach((op, i) => {
    now += 1;
    if (op.kind === 'add') {
      const outcome = windows.absorb({ value: op.ev, eventTimeMs: op.ev.t }, offset, now);
      expect(outcome.late.map((l) => l.definition)).toEqual(
        reference.add({ t: op.ev.t, value: { ...op.ev } }),
      );
      // Exactly the windows past their lateness: a sliding event may still count in its newer ones.
      expect(missedRefsOf(outcome.late)).toEqual(reference.lastMissed);
      offset += 1n;
      return;
    }
    rows.push(...windows.closeDue(now, false));
    if (!moveAt[i]) return;
    // A snapshot owes the sinks nothing: every waiting row goes out first.
    rows.push(...windows.takePending());
    for (const [key, value] of windows.takeChangelog()) {
      if (value === null) changelog.delete(key);
      else changelog.set(key, value);
    }
    const watermark = windows.watermark.snapshot();
    windows = partitionWindowsOf(config);
    expect(windows.restore(changelog, { watermark }, now)).toEqual([]);
  });
  rows.push(...windows.closeDue(Number.MAX_SAFE_INTEGER / 2, true));
  expect(windows.openWindows).toBe(0);
  expect(windows.retainedWindows).toBe(0);
  return { rows, reference };
}

describe('PartitionWindows against a brute-force reference', () => {
  it('assigns, aggregates, closes and flags late events exactly, for tumbling, sliding and session windows', () => {
    fc.assert(
      fc.property(streamArb, (ops) => {
        const { rows, reference } = run(ops, 'final');
        expect(rows.every((r) => r.reason !== 'update')).toBe(true);
        expectClickHouseToHoldTheFinalRows(rows, reference);
      }),
      { numRuns: 200 },
    );
  });

  it('in update mode, leaves ClickHouse (highest version per identity, superseded dropped) with the final rows', () => {
    fc.assert(
      fc.property(streamArb, (ops) => {
        const { rows, reference } = run(ops, 'update');
        expectClickHouseToHoldTheFinalRows(rows, reference);
      }),
      { numRuns: 200 },
    );
  });

  it('with allowed lateness, updates fired windows with late events within it, across restores, and leaves ClickHouse with the reference', () => {
    fc.assert(
      fc.property(streamArb, fc.array(fc.boolean(), { minLength: 150, maxLength: 150 }), (ops, moveAt) => {
        const { rows, reference } = runWithLateness(ops, moveAt);
        expectClickHouseToHoldTheFinalRows(rows, reference);
        // Every row of a fired window that a late event changed says so, and outranks the one before.
        for (const row of rows.filter((r) => r.reason === 'late'))
          expect(row.definition === 'session').toBe(false);
      }),
      { numRuns: 300 },
    );
  });

  it('keeps a fired window until its lateness is over, then lets it go without a row', () => {
    const tumblingOnly = latePipeline();
    const windows = partitionWindowsOf(
      validatePipeline({
        ...tumblingOnly,
        windows: tumblingOnly.windows.filter((w) => w.type === 'tumbling'),
      }),
    );
    const ev = (t: number, value: number) => ({ value: { t, key: 'a', value, user: 'u1' }, eventTimeMs: t });
    windows.absorb(ev(1_000, 1), 0n, 0);
    // The watermark (max event time - 2 s) passes the first tumbling window's end + grace (11 s).
    windows.absorb(ev(13_500, 2), 1n, 0);
    const fired = windows.closeDue(0, false);
    expect(fired.map((r) => [r.window.start, r.count, r.reason])).toEqual([[0, 1, 'watermark']]);
    expect(windows.retainedWindows).toBeGreaterThan(0);
    // Late for the fired window, within its 4 s of lateness: counted there, not late.
    expect(windows.absorb(ev(2_000, 5), 2n, 0).late).toEqual([]);
    const late = windows.closeDue(0, false);
    expect(late.map((r) => [r.window.start, r.count, r.values.sum_value, r.reason])).toEqual([
      [0, 2, 6, 'late'],
    ]);
    expect(late[0]!.version).toBeGreaterThan(fired[0]!.version);
    expect(windows.counters.lateUpdates).toBeGreaterThan(0);
    // Past end + grace + lateness (15 s): the window is let go, and a later event for it is late.
    windows.absorb(ev(17_500, 3), 3n, 0);
    expect(
      windows.closeDue(0, false).filter((r) => r.definition === 'tumbling' && r.window.start === 0),
    ).toEqual([]);
    expect(windows.retainedWindows).toBe(0);
    expect(windows.absorb(ev(3_000, 7), 4n, 0).late).toEqual([
      { definition: 'tumbling', byMs: expect.any(Number) as number, windowStarts: [0] },
    ]);
  });

  it('merges two sessions that an out-of-order event bridges', () => {
    const windows = partitionWindowsOf(validatePipeline(pipeline('update')));
    const ev = (t: number): Ev => ({ t, key: 'a', value: 1, user: 'u1' });
    windows.absorb({ value: ev(10_000), eventTimeMs: 10_000 }, 0n, 0);
    windows.absorb({ value: ev(15_000), eventTimeMs: 15_000 }, 1n, 0);
    const early = windows.updatesDue(1).filter((r) => r.definition === 'session');
    expect(early.map((r) => r.window)).toEqual([
      { start: 10_000, end: 13_000 },
      { start: 15_000, end: 18_000 },
    ]);
    windows.absorb({ value: ev(12_500), eventTimeMs: 12_500 }, 2n, 2);
    const rows = windows.closeDue(3, false).filter((r) => r.definition === 'session');
    // The later session's row is replaced; the merged one keeps the earlier start.
    expect(rows.map((r) => [r.window.start, r.reason])).toEqual([[15_000, 'superseded']]);
    const merged = windows.closeDue(1e12, true).find((r) => r.definition === 'session');
    expect(merged?.window).toEqual({ start: 10_000, end: 18_000 });
    expect(merged?.count).toBe(3);
    expect(merged!.version).toBeGreaterThan(rows[0]!.version - 1);
  });
});
