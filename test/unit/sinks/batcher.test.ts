import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BatchClosedError, Batcher } from '../../../src/sinks/batcher.js';

interface Row {
  id: number;
  key: string;
}

/** Timers that run only when the test says so: time is an argument, not the wall clock. */
function manualClock() {
  let now = 0;
  const timers: { at: number; fn: () => void; cancelled: boolean }[] = [];
  return {
    schedule: (fn: () => void, ms: number) => {
      const timer = { at: now + ms, fn, cancelled: false };
      timers.push(timer);
      return { cancel: () => (timer.cancelled = true) };
    },
    advance: async (ms: number) => {
      now += ms;
      for (;;) {
        const due = timers.find((t) => !t.cancelled && t.at <= now);
        if (!due) break;
        due.cancelled = true;
        due.fn();
        await settle();
      }
      // Always yield once, so that a caller looping on advance() lets pending I/O callbacks run.
      await settle();
    },
    pending: () => timers.filter((t) => !t.cancelled).length,
  };
}

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('batcher', () => {
  it('writes a batch when maxSize rows are in, and the rest after maxWaitMs', async () => {
    const clock = manualClock();
    const written: Row[][] = [];
    const batcher = new Batcher<Row>({
      maxSize: 3,
      maxWaitMs: 100,
      write: (rows) => {
        written.push(rows);
        return Promise.resolve();
      },
      schedule: clock.schedule,
    });
    const adds = [1, 2, 3, 4].map((id) => batcher.add('t', [{ id, key: `k${id}` }]));
    await settle();
    expect(written.map((b) => b.map((r) => r.id))).toEqual([[1, 2, 3]]);
    await Promise.all(adds.slice(0, 3));
    expect(batcher.sizes()).toEqual({ t: 1 });
    await clock.advance(99);
    expect(written).toHaveLength(1);
    await clock.advance(1);
    await adds[3];
    expect(written.map((b) => b.map((r) => r.id))).toEqual([[1, 2, 3], [4]]);
  });

  it('collapses rows with the same key in a batch to the preferred one and acknowledges both', async () => {
    const written: Row[][] = [];
    const batcher = new Batcher<Row>({
      maxSize: 10,
      maxWaitMs: 1_000,
      keyOf: (r) => r.key,
      prefer: (a, b) => (b.id > a.id ? b : a),
      write: (rows) => {
        written.push(rows);
        return Promise.resolve();
      },
    });
    const first = batcher.add('t', [
      { id: 5, key: 'a' },
      { id: 1, key: 'b' },
    ]);
    const second = batcher.add('t', [
      { id: 2, key: 'a' },
      { id: 3, key: 'b' },
    ]);
    await batcher.flush();
    await Promise.all([first, second]);
    expect(written).toEqual([
      [
        { id: 5, key: 'a' },
        { id: 3, key: 'b' },
      ],
    ]);
  });

  it('runs beforeFlush, onSuccess and onFail, and tries a failed batch again', async () => {
    const clock = manualClock();
    const events: string[] = [];
    let failures = 1;
    const batcher = new Batcher<Row>({
      maxSize: 10,
      maxWaitMs: 50,
      retryDelayMs: 10,
      schedule: clock.schedule,
      write: async (rows) => {
        await settle();
        if (failures-- > 0) throw new Error('down');
        events.push(`write ${rows.map((r) => r.id).join(',')}`);
      },
      hooks: {
        beforeFlush: (rows) => rows.filter((r) => r.id !== 2),
        onSuccess: (rows, group) => events.push(`ok ${group} ${rows.length}`),
        onFail: (error, rows) => events.push(`fail ${(error as Error).message} ${rows.length}`),
      },
    });
    const added = batcher.add(
      'g',
      [1, 2, 3].map((id) => ({ id, key: `${id}` })),
    );
    const flushed = batcher.flush('g');
    await settle();
    await settle();
    expect(events).toEqual(['fail down 3']);
    await clock.advance(10);
    await flushed;
    await added;
    expect(events).toEqual(['fail down 3', 'write 1,3', 'ok g 2']);
  });

  it('does not write on size or time while paused, writes on demand, and resumes', async () => {
    const clock = manualClock();
    const written: number[] = [];
    const batcher = new Batcher<Row>({
      maxSize: 2,
      maxWaitMs: 10,
      schedule: clock.schedule,
      write: (rows) => {
        written.push(rows.length);
        return Promise.resolve();
      },
    });
    batcher.pause();
    const adds = batcher.add(
      'a',
      [1, 2, 3].map((id) => ({ id, key: `${id}` })),
    );
    await clock.advance(100);
    expect(written).toEqual([]);
    expect(batcher.sizes()).toEqual({ a: 3 });
    batcher.resume();
    await settle();
    expect(written).toEqual([2]);
    await clock.advance(10);
    await adds;
    expect(written).toEqual([2, 1]);
    expect(batcher.buffered()).toBe(0);
  });

  it('rejects waiting adds when closed', async () => {
    const batcher = new Batcher<Row>({ maxSize: 10, maxWaitMs: 60_000, write: () => Promise.resolve() });
    const added = batcher.add('a', [{ id: 1, key: '1' }]);
    batcher.close();
    await expect(added).rejects.toBeInstanceOf(BatchClosedError);
    await expect(batcher.add('a', [{ id: 2, key: '2' }])).rejects.toBeInstanceOf(BatchClosedError);
  });

  it('writes every row once, or a later row of its key in the same batch, whatever the order of events', async () => {
    const op = fc.oneof(
      fc.record({
        kind: fc.constant('add' as const),
        group: fc.constantFrom('x', 'y'),
        keys: fc.array(fc.constantFrom('a', 'b', 'c', 'd'), { minLength: 1, maxLength: 6 }),
      }),
      fc.record({ kind: fc.constant('tick' as const), ms: fc.integer({ min: 1, max: 40 }) }),
      fc.record({ kind: fc.constant('flush' as const), group: fc.option(fc.constantFrom('x', 'y')) }),
      fc.record({ kind: fc.constant('fail' as const) }),
      fc.record({ kind: fc.constant('pause' as const), on: fc.boolean() }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(op, { maxLength: 40 }),
        fc.integer({ min: 1, max: 5 }),
        async (ops, maxSize) => {
          const clock = manualClock();
          const batches: { group: string; rows: Row[] }[] = [];
          let failNext = 0;
          const batcher = new Batcher<Row>({
            maxSize,
            maxWaitMs: 25,
            retryDelayMs: 5,
            schedule: clock.schedule,
            keyOf: (r) => r.key,
            write: async (rows, group) => {
              await settle();
              if (failNext > 0) {
                failNext -= 1;
                throw new Error('injected');
              }
              batches.push({ group, rows });
            },
          });
          const added: { group: string; row: Row }[] = [];
          const acks: Promise<void>[] = [];
          let id = 0;
          for (const o of ops) {
            if (o.kind === 'add') {
              const rows = o.keys.map((key) => ({ id: id++, key }));
              rows.forEach((row) => added.push({ group: o.group, row }));
              acks.push(batcher.add(o.group, rows));
            } else if (o.kind === 'tick') await clock.advance(o.ms);
            else if (o.kind === 'flush') void batcher.flush(o.group ?? undefined);
            else if (o.kind === 'fail') failNext += 1;
            else if (o.on) batcher.pause();
            else batcher.resume();
            await settle();
          }
          batcher.resume();
          let drained = false;
          const draining = batcher.drain().then(() => (drained = true));
          while (!drained) await clock.advance(100);
          await draining;
          await Promise.all(acks);

          const writtenIds = batches.flatMap((b) => b.rows.map((r) => r.id));
          expect(new Set(writtenIds).size).toBe(writtenIds.length);
          for (const batch of batches) {
            expect(batch.rows.length).toBeLessThanOrEqual(maxSize);
            expect(new Set(batch.rows.map((r) => r.key)).size).toBe(batch.rows.length);
          }
          const batchOf = new Map<number, number>();
          batches.forEach((b, i) => b.rows.forEach((r) => batchOf.set(r.id, i)));
          for (const { group, row } of added) {
            if (batchOf.has(row.id)) continue;
            // Not written itself: a later row of its group and key was, in place of it.
            const replacement = added.find(
              (a) => a.group === group && a.row.key === row.key && a.row.id > row.id && batchOf.has(a.row.id),
            );
            expect(
              replacement,
              `row ${row.id} (${group}/${row.key}) was neither written nor replaced`,
            ).toBeDefined();
          }
          expect(batcher.buffered()).toBe(0);
        },
      ),
      { numRuns: 200 },
    );
  }, 30_000);
});
