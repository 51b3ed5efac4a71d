// One partition's worker, fed fetched records directly: exact counts against a ground truth on
// out-of-order input, late and invalid records counted and never absorbed, re-fetches ignored.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { validatePipeline } from '../../../src/config/validate.js';
import { createLogger } from '../../../src/ops/logger.js';
import { PartitionWorker, type FetchedRecord } from '../../../src/runtime/partition-worker.js';
import { tumblingWindowOf } from '../../../src/windows/tumbling.js';

const pipeline = validatePipeline({
  name: 'p',
  time: { field: 'timestamp', maxOutOfOrderness: '5s', grace: '1s', idleTimeout: '10s' },
  windows: [{ name: 'w', type: 'tumbling', size: '1m', groupBy: ['url'] }],
});
const logger = createLogger('silent');

function record(offset: number, event: object | string): FetchedRecord {
  const value = typeof event === 'string' ? event : JSON.stringify(event);
  return { offset: String(offset), value: Buffer.from(value), timestamp: '0' };
}

function event(i: number, timestamp: number, url: string) {
  return { eventId: `e${i}`, type: 'page_view', userId: 'u', url, timestamp };
}

describe('PartitionWorker', () => {
  it('counts every event of a bounded out-of-order stream exactly once', () => {
    const input = fc.array(
      fc.record({
        step: fc.integer({ min: 0, max: 3_000 }),
        jitter: fc.integer({ min: -4_000, max: 0 }),
        url: fc.constantFrom('/a', '/b'),
      }),
      { maxLength: 300 },
    );
    fc.assert(
      fc.property(input, (items) => {
        const worker = new PartitionWorker('t', 0, pipeline, logger);
        let clock = 1_000_000;
        const truth = new Map<string, number>();
        const records = items.map((item, i) => {
          clock += item.step;
          const t = Math.max(1_000_000, clock + item.jitter);
          const key = `${tumblingWindowOf(t, 60_000).start}|${item.url}`;
          truth.set(key, (truth.get(key) ?? 0) + 1);
          return record(i, event(i, t, item.url));
        });
        worker.absorb(records, BigInt(records.length), 0);
        // Idle long after the last record: every window closes.
        const results = worker.resultsToSink(1e13);
        worker.sunk(results.length);
        const found = new Map(results.map((r) => [`${r.window.start}|${r.key[0]}`, r.count]));
        expect(found).toEqual(truth);
        expect(worker.counters.late).toBe(0);
        expect(worker.committable()).toBe(records.length === 0 ? undefined : BigInt(records.length));
      }),
    );
  });

  it('counts a late event instead of absorbing it, and skips invalid records', () => {
    const worker = new PartitionWorker('t', 0, pipeline, logger);
    const records = [
      record(0, event(0, 60_000, '/a')),
      record(1, event(1, 200_000, '/a')), // watermark → 195 000: [60 000, 120 000) closes
      record(2, event(2, 61_000, '/a')), // late for the closed window
      record(3, '{oops'),
      record(4, { eventId: 'x', type: 'click' }),
    ];
    worker.absorb(records, 5n, 0);
    const results = worker.resultsToSink(0);
    expect(results.map((r) => [r.window.start, r.count])).toEqual([[60_000, 1]]);
    expect(worker.counters).toEqual({ processed: 5, invalid: 2, late: 1 });
    worker.sunk(results.length);
    // The window of offset 1 is still open: the commit stops there.
    expect(worker.committable()).toBe(1n);
  });

  it('holds the commit for results the sink has not acknowledged, and ignores re-fetched records', () => {
    const worker = new PartitionWorker('t', 0, pipeline, logger);
    worker.absorb([record(0, event(0, 0, '/a')), record(1, event(1, 70_000, '/a'))], 2n, 0);
    expect(worker.resultsToSink(0)).toHaveLength(1);
    expect(worker.committable()).toBe(0n);
    // The sink failed; the same results are offered again, and a re-fetch changes nothing.
    worker.absorb([record(0, event(0, 0, '/a'))], 2n, 1);
    const again = worker.resultsToSink(1);
    expect(again.map((r) => r.count)).toEqual([1]);
    worker.sunk(again.length);
    expect(worker.committable()).toBe(1n);
  });
});
