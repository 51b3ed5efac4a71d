// One partition's worker, fed fetched records directly, with side effects captured in memory: exact
// counts on out-of-order input, stages with concurrency that keep offset order, fan-out and filters,
// retries and every error action, and the buffer bound under each backpressure strategy.
import { setTimeout as sleep } from 'node:timers/promises';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { PipelineInput } from '../../../src/config/schema.js';
import { validatePipeline } from '../../../src/config/validate.js';
import { messageOf } from '../../../src/errors.js';
import { createLogger } from '../../../src/ops/logger.js';
import { compiledForTest } from '../../support/compiled-pipeline.js';
import {
  PartitionWorker,
  type FetchedRecord,
  type KeyCappedEvent,
  type LateEvent,
  type WorkerEffects,
} from '../../../src/runtime/partition-worker.js';
import type { Origin, StageFailure } from '../../../src/runtime/stage-chain.js';
import { tumblingWindowOf } from '../../../src/windows/tumbling.js';
import type { StageRecord } from '../../../src/config/user-functions.js';
import { assemblePipeline, rekeyedPipelineOf } from '../../../src/runtime/compiled-pipeline.js';
import { createDecoder } from '../../../src/stages/record-decoders.js';
import { createEventContract } from '../../../src/stages/event-contract.js';
import type { OutgoingRecord } from '../../../src/source/outgoing-record.js';
import { repartitionRecords, watermarkMarkers } from '../../../src/source/repartition-records.js';
import { packRepartitionRecords } from '../../../src/source/repartition-packing.js';
import { durableEffects } from '../../support/worker-effects.js';
import {
  CHECKPOINT_KEY,
  decodeCheckpoint,
  type RestoredPartition,
} from '../../../src/state/changelog-codec.js';
import { REPLAYED_FROM_HEADER } from '../../../src/sinks/dead-letters.js';

const logger = createLogger('silent');
const base: PipelineInput = {
  name: 'p',
  time: { field: 'timestamp', maxOutOfOrderness: '5s', grace: '1s', idleTimeout: '10s' },
  windows: [{ name: 'w', type: 'tumbling', size: '1m', groupBy: ['url'] }],
};

function record(offset: number, event: object | string): FetchedRecord {
  const value = typeof event === 'string' ? event : JSON.stringify(event);
  return { offset: String(offset), key: null, value: Buffer.from(value), timestamp: '0' };
}

function event(i: number, timestamp: number, url: string) {
  return { eventId: `e${i}`, type: 'page_view', userId: 'u', url, timestamp };
}

function harness(
  overrides: Partial<PipelineInput> = {},
  now = () => 0,
  keyCapWrite: () => Promise<void> = () => Promise.resolve(),
) {
  const deadLetters: StageFailure[] = [];
  const overflow: Origin[] = [];
  const late: LateEvent[] = [];
  const keyCapped: KeyCappedEvent[] = [];
  const aborts: Error[] = [];
  const effects: WorkerEffects = {
    deadLetter: (failure) => {
      deadLetters.push(failure);
      return Promise.resolve();
    },
    overflow: (origin) => {
      overflow.push(origin);
      return Promise.resolve();
    },
    late: (event) => {
      late.push(event);
      return Promise.resolve();
    },
    keyCapped: (event) => {
      keyCapped.push(event);
      return keyCapWrite();
    },
    abort: (error) => aborts.push(error),
  };
  const worker = new PartitionWorker(
    't',
    0,
    compiledForTest(validatePipeline({ ...base, ...overrides })),
    logger,
    effects,
    now,
  );
  return { worker, deadLetters, overflow, late, keyCapped, aborts };
}

/** Closes everything by idleness and returns counts per `${windowStart}|${url}`. */
function closeAll(worker: PartitionWorker, clock: { now: number }): Map<string, number> {
  clock.now = 1e13;
  const results = worker.resultsToSink();
  worker.sunk(results.length);
  return new Map(results.map((r) => [`${r.window.start}|${r.key[0]}`, r.count]));
}

/** Takes a snapshot as a commit would and marks it published; its checkpoint offset. */
function checkpoint(worker: PartitionWorker): bigint | undefined {
  const snapshot = worker.snapshot();
  if (snapshot) worker.published(snapshot);
  return snapshot?.offset;
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
        const clock = { now: 0 };
        const { worker } = harness({}, () => clock.now);
        let time = 1_000_000;
        const truth = new Map<string, number>();
        const records = items.map((item, i) => {
          time += item.step;
          const t = Math.max(1_000_000, time + item.jitter);
          const key = `${tumblingWindowOf(t, 60_000).start}|${item.url}`;
          truth.set(key, (truth.get(key) ?? 0) + 1);
          return record(i, event(i, t, item.url));
        });
        expect(worker.accept(records, BigInt(records.length))).toBe(records.length);
        expect(closeAll(worker, clock)).toEqual(truth);
        expect(worker.counters.late).toBe(0);
        expect(checkpoint(worker)).toBe(records.length === 0 ? undefined : BigInt(records.length));
      }),
    );
  });

  it('closes the windows the watermark passes while a large fetch flows, not only when asked', async () => {
    const { worker } = harness();
    // One fetch of 2,000 events a second apart: 34 one-minute windows of event time.
    const records = Array.from({ length: 2_000 }, (_, i) => record(i, event(i, 1_000_000 + i * 1_000, '/a')));
    expect(worker.accept(records, 2_000n)).toBe(2_000);
    await worker.drained();
    // Checked every 256 records: at most the windows of the last 256 s of event time stay open (not 34).
    expect(worker.openWindows).toBeLessThanOrEqual(6);
    const results = worker.resultsToSink();
    expect(results.length + worker.openWindows).toBe(34);
    expect(results.reduce((n, r) => n + r.count, 0)).toBeGreaterThan(1_700);
    // Closed ones wait for the sink inside the buffer bound.
    expect(worker.fill().records).toBe(results.length);
  });

  it('dead-letters bad input, sends late events to their topic, and holds the commit at neither', async () => {
    const { worker, deadLetters, late } = harness();
    const records = [
      record(0, event(0, 60_000, '/a')),
      record(1, event(1, 200_000, '/a')), // watermark → 195 000: [60 000, 120 000) closes
      record(2, event(2, 61_000, '/a')), // late for the closed window
      record(3, '{oops'),
      record(4, { eventId: 'x', type: 'click' }),
      { ...record(5, ''), value: null }, // a tombstone
    ];
    worker.accept(records, 6n);
    await worker.drained();
    const results = worker.resultsToSink();
    expect(results.map((r) => [r.window.start, r.count])).toEqual([[60_000, 1]]);
    expect(deadLetters.map((f) => [f.origin.raw.offset, f.stage, messageOf(f.error)])).toEqual([
      ['3', 'parse', expect.stringMatching(/^t\[0\]@3 parse: invalid JSON/)],
      [
        '4',
        'parse',
        expect.stringMatching(
          /^t\[0\]@4 parse: field 'timestamp': expected epoch milliseconds or an ISO-8601 time, found nothing/,
        ),
      ],
      ['5', 'parse', 't[0]@5 parse: expected a value, found a null value (tombstone)'],
    ]);
    expect(worker.counters).toMatchObject({ fetched: 6, completed: 6, deadLettered: 3, late: 1 });
    // [60 000, 120 000) closed at 121 000 (grace 1 s); the watermark was 195 000.
    expect(late.map((l) => [l.origin.raw.offset, l.late])).toEqual([
      ['2', [{ definition: 'w', byMs: 74_000, windowStarts: [60_000] }]],
    ]);
    worker.sunk(results.length);
    // The window of offset 1 is still open: it goes to the changelog, and the commit covers everything.
    const snapshot = worker.snapshot();
    expect(snapshot?.offset).toBe(6n);
    const windows = [...snapshot!.records].filter(([k]) => k.startsWith('w'));
    expect(windows.filter(([, v]) => v !== null)).toHaveLength(1); // the open one
    // The closed one opened and closed since the last snapshot: never written, so no tombstone.
    expect(windows.filter(([, v]) => v === null)).toHaveLength(0);
    expect(snapshot!.records.get('checkpoint')).toContain('"offset":"6"');
  });

  it('sends an event the key cap drops to its own side write, and completes the record only once that is durable', async () => {
    const clock = { now: 0 };
    let release!: () => void;
    const durable = new Promise<void>((resolve) => (release = resolve));
    const { worker, keyCapped } = harness(
      {
        windows: [
          { name: 'w', type: 'tumbling', size: '1m', groupBy: ['url'], maxKeys: 2 },
          { name: 's', type: 'session', gap: '1m', groupBy: ['url'], maxKeys: 2 },
          { name: 'o', type: 'tumbling', size: '1m', groupBy: ['url'], maxKeys: 2, onKeyCap: 'other' },
        ],
      },
      () => clock.now,
      () => durable,
    );
    worker.accept(
      ['/a', '/b', '/c', '/a'].map((url, i) => record(i, event(i, 60_000 + i, url))),
      4n,
    );
    await sleep(1);
    expect(keyCapped.map((k) => [k.origin.raw.offset, k.dropped])).toEqual([
      [
        '2',
        [
          { definition: 'w', windowStart: 60_000, maxKeys: 2 },
          { definition: 's', maxKeys: 2 },
        ],
      ],
    ]);
    // `o` put it under __other__: counted there, not dropped. Three windows capped in all.
    expect(worker.counters.keyCapped).toBe(3);
    // Offset 2 waits for its dead letter and holds the commit there.
    expect(worker.counters.completed).toBe(3);
    expect(checkpoint(worker)).toBeUndefined();
    release();
    await worker.drained();
    expect(worker.counters.completed).toBe(4);
    expect(checkpoint(worker)).toBe(4n);
  });

  it('lets a replayed record (sluice.only.windows) into just the windows it names', async () => {
    const clock = { now: 0 };
    const { worker, keyCapped } = harness(
      {
        windows: [
          { name: 'w', type: 'tumbling', size: '1m', groupBy: ['url'] },
          { name: 's', type: 'session', gap: '1m', groupBy: ['url'] },
        ],
      },
      () => clock.now,
    );
    const replayed = (offset: number, only: string): FetchedRecord => ({
      ...record(offset, event(offset, 60_000, '/a')),
      headers: { 'sluice.only.windows': Buffer.from(only) },
    });
    worker.accept([record(0, event(0, 60_000, '/a')), replayed(1, 'w@60000'), replayed(2, 's')], 3n);
    await worker.drained();
    expect(keyCapped).toEqual([]);
    clock.now = 1e13;
    const results = worker.resultsToSink();
    expect(results.map((r) => [r.definition, r.window.start, r.count])).toEqual(
      expect.arrayContaining([
        ['w', 60_000, 2],
        ['s', 60_000, 2],
      ]),
    );
    expect(results).toHaveLength(2);
  });

  it('runs a stage concurrently yet hands records on in offset order, with fan-out and filtering', async () => {
    const seen: string[] = [];
    const clock = { now: 0 };
    const { worker } = harness(
      {
        stages: [
          {
            name: 'slow_enrich',
            concurrency: 8,
            process: async (r) => {
              await sleep(Math.random() * 20);
              return { ...(r.value as object), enriched: true };
            },
          },
          { name: 'fan_out', process: (r) => [r.value, { ...(r.value as object), url: '/copy' }] },
          { name: 'no_b', type: 'filter', field: 'url', in: ['/a', '/copy'] },
          {
            name: 'observe',
            process: (r) => {
              seen.push(`${r.offset}:${(r.value as { url: string }).url}`);
              return r.value;
            },
          },
        ],
      },
      () => clock.now,
    );
    const records = Array.from({ length: 40 }, (_, i) =>
      record(i, event(i, 1_000 * i, i % 3 === 0 ? '/b' : '/a')),
    );
    worker.accept(records, 40n);
    await worker.drained();
    const expected = records.flatMap((_, i) => (i % 3 === 0 ? [`${i}:/copy`] : [`${i}:/a`, `${i}:/copy`]));
    expect(seen).toEqual(expected);
    const counts = closeAll(worker, clock);
    expect(counts.get('0|/copy')).toBe(40);
    expect(counts.get('0|/a')).toBe(26);
    expect(worker.counters).toMatchObject({ completed: 40, filtered: 14 });
    expect(checkpoint(worker)).toBe(40n);
  });

  it('retries a failing stage with backoff, then applies its error policy', async () => {
    let calls = 0;
    const flaky = harness({
      stages: [
        {
          name: 'flaky',
          retry: { max: 3, baseDelay: 1, maxDelay: 5 },
          process: (r) => {
            calls += 1;
            if (calls < 3) throw new Error('lookup unavailable');
            return r.value;
          },
        },
      ],
    });
    flaky.worker.accept([record(0, event(0, 0, '/a'))], 1n);
    await flaky.worker.drained();
    expect(calls).toBe(3);
    expect(flaky.worker.counters).toMatchObject({ completed: 1, deadLettered: 0 });

    const broken = harness({
      stages: [
        {
          name: 'broken',
          retry: { max: 2, baseDelay: 1, maxDelay: 2 },
          onError: 'skip',
          process: () => Promise.reject(new Error('down')),
        },
      ],
    });
    broken.worker.accept([record(0, event(0, 0, '/a'))], 1n);
    await broken.worker.drained();
    expect(broken.worker.counters).toMatchObject({ completed: 1, skipped: 1 });
  });

  it('times out a slow attempt and lets onStageError choose dead-letter or abort', async () => {
    const decisions: string[] = [];
    const { worker, deadLetters, aborts } = harness({
      stages: [
        {
          name: 'hang',
          timeout: 20,
          process: (r) => ((r.value as { url: string }).url === '/a' ? new Promise(() => {}) : r.value),
        },
        {
          name: 'picky',
          process: (r) => {
            if ((r.value as { url: string }).url === '/stop') throw new Error('fatal');
            return r.value;
          },
        },
      ],
      onStageError: (stage, error) => {
        decisions.push(`${stage}:${(error as Error).message}`);
        return stage === 'picky' ? 'abort' : 'dead-letter';
      },
    });
    worker.accept([record(0, event(0, 0, '/a')), record(1, event(1, 0, '/stop'))], 2n);
    await sleep(100);
    expect(decisions).toEqual(['hang:stage hang did not finish within 20 ms', 'picky:fatal']);
    expect(deadLetters.map((f) => [f.origin.raw.offset, f.stage, f.attempts])).toEqual([['0', 'hang', 1]]);
    expect(aborts[0]?.message).toMatch(/t\[0\]@1 stage picky aborted the pipeline: fatal/);
  });

  it('never holds more than maxBufferSize records under pause-upstream', async () => {
    const { worker } = harness({
      backpressure: { maxBufferSize: 10 },
      stages: [{ name: 'slow', concurrency: 2, process: async (r) => (await sleep(2), r.value) }],
    });
    const records = Array.from({ length: 50 }, (_, i) => record(i, event(i, 0, '/a')));
    let offset = 0;
    while (offset < records.length) {
      offset += worker.accept(records.slice(offset), 50n);
      expect(worker.fill().records).toBeLessThanOrEqual(10);
      await sleep(1);
    }
    await worker.drained();
    expect(worker.peak.records).toBe(10);
    expect(worker.counters.completed).toBe(50);
  });

  it('sheds the oldest unprocessed records under drop-oldest and reject, counting each', async () => {
    for (const strategy of ['drop-oldest', 'reject'] as const) {
      const { worker, overflow } = harness({
        backpressure: { strategy, maxBufferSize: 70 },
        stages: [{ name: 'slow', process: async (r) => (await sleep(1), r.value) }],
      });
      const records = Array.from({ length: 200 }, (_, i) => record(i, event(i, 0, '/a')));
      expect(worker.accept(records, 200n)).toBe(200);
      expect(worker.fill().records).toBeLessThanOrEqual(70);
      await worker.drained();
      expect(worker.counters.shed).toBe(130);
      expect(worker.counters.completed).toBe(200);
      expect(overflow.length).toBe(strategy === 'reject' ? 130 : 0);
    }
  });

  it('lets no more results wait for the sink than the buffer holds, and snapshots only once they are sunk', () => {
    const clock = { now: 0 };
    const { worker } = harness({ backpressure: { maxBufferSize: 5 } }, () => clock.now);
    const records = Array.from({ length: 40 }, (_, i) => record(i, event(i, i * 60_000, '/a')));
    let taken = 0;
    while (taken < records.length) taken += worker.accept(records.slice(taken), 40n);
    clock.now = 1e13;
    const seen: number[] = [];
    for (let round = 0; round < 20 && seen.length < 40; round += 1) {
      const results = worker.resultsToSink();
      expect(results.length).toBeLessThanOrEqual(5);
      expect(worker.fill().records).toBeLessThanOrEqual(5);
      // Results waiting for the sink would vanish from a snapshot: none is taken until they are sunk.
      if (results.length > 0) expect(worker.snapshot()).toBeUndefined();
      seen.push(...results.map((r) => r.window.start));
      worker.sunk(results.length);
    }
    expect(seen.sort((a, b) => a - b)).toEqual(records.map((_, i) => i * 60_000));
    expect(checkpoint(worker)).toBe(40n);
  });

  it('does not take records still waiting in a slow stage for idleness, however long the wait', async () => {
    // Wall time well past the events' time: a watermark that followed the clock would make them late.
    const clock = { now: 1_000_000 };
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const { worker, late } = harness(
      {
        stages: [
          {
            name: 'slow',
            process: async (r: StageRecord) => {
              if ((r.value as { url: string }).url === '/b') await gate;
              return r.value;
            },
          },
        ],
      },
      () => clock.now,
    );
    // Fetched to the end of the partition (caught up); the first record goes through, the stage holds
    // the second, and the third waits behind it (offset order).
    const records = ['/a', '/b', '/a'].map((url, i) => record(i, event(i, 60_000 + i * 1_000, url)));
    worker.accept(records, 3n);
    await sleep(10);
    clock.now += 60_000; // far past idleTimeout (10 s) of wall time
    expect(worker.resultsToSink()).toEqual([]);
    release();
    await sleep(10);
    expect(late).toEqual([]);
    // Once they have been through the windows, silence is idleness: the windows close, all three in them.
    clock.now += 60_000;
    const results = worker.resultsToSink();
    expect(results.map((r) => [r.key[0], r.count]).sort()).toEqual([
      ['/a', 2],
      ['/b', 1],
    ]);
  });

  it('does not take a paused partition or a broker out of reach for idleness: idle time starts over once it is read again', async () => {
    const clock = { now: 1_000_000 };
    const { worker, late } = harness({}, () => clock.now);
    worker.accept([record(0, event(0, 60_000, '/a'))], 1n);
    await sleep(10);
    // 30 s unread (paused for a sink, or no fetch answers; the runner says so every tick): far past idleTimeout (10 s), no window closes.
    for (let second = 0; second < 30; second += 1) {
      clock.now += 1_000;
      worker.notFetching();
      expect(worker.resultsToSink()).toEqual([]);
    }
    // Fetches answer again and the next record of the stream is not late.
    clock.now += 5_000;
    worker.accept([record(1, event(1, 61_000, '/a'))], 2n);
    await sleep(10);
    expect(late).toEqual([]);
    expect(worker.resultsToSink()).toEqual([]);
    // Confirmed silence for a full idleTimeout: now the window closes, with both events.
    clock.now += 10_000;
    expect(worker.resultsToSink().map((r) => [r.key[0], r.count])).toEqual([['/a', 2]]);
  });

  it('reads its position (what the idle evidence compares a fetched log end with) past records taken and markers skipped', () => {
    const { worker } = harness({}, () => 0);
    expect(worker.readPosition()).toBeUndefined();
    worker.accept([record(4, event(4, 60_000, '/a')), record(5, event(5, 61_000, '/a'))], 9n);
    expect(worker.readPosition()).toBe(6n);
    // Only a transaction marker after them: read up to the end.
    worker.skippedTo(8n, 9n);
    expect(worker.readPosition()).toBe(9n);
    // A batch taken whole whose last offset is a commit marker after its last record: read past it.
    worker.accept([record(9, event(9, 62_000, '/a'))], 11n, 10n);
    expect(worker.readPosition()).toBe(11n);
  });

  it('reports no lag once every record read is done, the trailing transaction markers included', async () => {
    const { worker } = harness({}, () => 0);
    expect(worker.lag()).toBeUndefined();
    // Records 4 and 5, then a commit marker at 6; the log ends at 12.
    worker.accept([record(4, event(4, 60_000, '/a')), record(5, event(5, 61_000, '/a'))], 12n, 6n);
    await worker.drained();
    expect(worker.lag()).toBe(5n);
    // Only markers up to the end: nothing is left to read (as on an idle repartition topic).
    worker.skippedTo(11n, 12n);
    expect(worker.lag()).toBe(0n);
  });

  it('takes a batch of many thousand records without deepening the stack', () => {
    const { worker } = harness({ backpressure: { maxBufferSize: 100_000 } });
    const records = Array.from({ length: 30_000 }, (_, i) => record(i, event(i, i, '/a')));
    expect(worker.accept(records, 30_000n)).toBe(30_000);
    expect(worker.counters.completed).toBe(30_000);
  });
});

describe('PartitionWorker of re-keyed windows', () => {
  // The re-keyed side of a pipeline whose window groups by url on a topic keyed by user: what it
  // computes from packs must be what it computes from the same events sent one record each.
  const pipeline = validatePipeline({ ...base, source: { topic: 't', keyedBy: ['userId'] } });
  const sourceSide = assemblePipeline(
    pipeline,
    [],
    createDecoder(pipeline.parse, { baseDir: process.cwd() }),
    createEventContract(pipeline.parse, process.cwd()),
    () => Promise.resolve(),
  );
  const rekeyed = rekeyedPipelineOf(pipeline, sourceSide, 1);
  const groups = sourceSide.repartition!.groups;

  function rekeyedWorker(clock: { now: number }) {
    return new PartitionWorker('repartition', 0, rekeyed, logger, durableEffects(), () => clock.now);
  }

  /** What the source side's partition 0 writes for these events, then its marker saying it is done. */
  function written(events: readonly ReturnType<typeof event>[]): OutgoingRecord[] {
    let watermark = Number.NEGATIVE_INFINITY;
    const records = events.flatMap((e, i) => {
      const made = repartitionRecords(
        {
          value: e,
          eventTimeMs: e.timestamp,
          sourcePartition: 0,
          sourceOffset: String(i),
          watermark,
          admitted: ['w'],
        },
        groups,
      );
      watermark = Math.max(watermark, e.timestamp - 5_000);
      return made;
    });
    return [...records, ...watermarkMarkers(0, 2e12, false, 1)];
  }

  const asFetched = (records: readonly OutgoingRecord[]): FetchedRecord[] =>
    records.map((r, offset) => ({
      offset: String(offset),
      timestamp: '0',
      key: r.key === null || r.key === undefined ? null : Buffer.from(r.key),
      value: r.value === null ? null : Buffer.from(r.value),
      headers: Object.fromEntries(
        Object.entries(r.headers ?? {}).map(([name, value]) => [name, Buffer.from(value as string)]),
      ),
    }));

  it('counts the events of packs exactly as the records they were, and checkpoints a pack whole', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({ at: fc.integer({ min: 0, max: 600_000 }), url: fc.constantFrom('/a', '/b', '/c') }),
          { minLength: 1, maxLength: 300 },
        ),
        async (drawn) => {
          const events = drawn.map((d, i) => event(i, 1_700_000_000_000 + d.at, d.url));
          const single = asFetched(written(events));
          const packed = asFetched(packRepartitionRecords(written(events)));
          // One pack (300 small events fit one) and the marker.
          expect(packed.length).toBe(2);
          const counts = [];
          const late = [];
          for (const records of [single, packed]) {
            const clock = { now: 1_700_000_000_000 };
            const worker = rekeyedWorker(clock);
            expect(worker.accept(records, BigInt(records.length))).toBe(records.length);
            await worker.drained();
            // Every event counted once, a pack's as the events it holds; the checkpoint past every record.
            expect(worker.counters.completed).toBe(events.length);
            expect(checkpoint(worker)).toBe(BigInt(records.length));
            counts.push(closeAll(worker, clock));
            late.push(worker.counters.late);
          }
          expect(counts[1]).toEqual(counts[0]);
          expect(late[1]).toBe(late[0]);
          // In a window or late (behind its source partition's watermark), never both, never neither.
          expect([...counts[0]!.values()].reduce((n, c) => n + c, 0) + late[0]!).toBe(events.length);
        },
      ),
      { numRuns: 25 },
    );
  });

  /** The state a restart reads back from the changelog: a committed snapshot's records and checkpoint. */
  function restoredFrom(worker: PartitionWorker): RestoredPartition {
    const snapshot = worker.snapshot()!;
    worker.published(snapshot);
    const records = new Map<string, Buffer>();
    for (const [key, value] of snapshot.records)
      if (key !== CHECKPOINT_KEY && value !== null) records.set(key, Buffer.from(value));
    const checkpoint = decodeCheckpoint(String(snapshot.records.get(CHECKPOINT_KEY)));
    return { records, checkpoint, highWatermark: 0n };
  }

  it("drops a source partition's events that come again, across a restart, and nothing else", async () => {
    // A split transaction: the source partition's events [from, cut) reached this partition, its state
    // did not land, and they are sent again after a restart; then the stream goes on. The counts must be
    // those of every event once; a replayed dead letter of an event taken before still counts.
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({ at: fc.integer({ min: 0, max: 600_000 }), url: fc.constantFrom('/a', '/b', '/c') }),
          { minLength: 2, maxLength: 200 },
        ),
        fc.nat(),
        fc.nat(),
        async (drawn, a, b) => {
          const events = drawn.map((d, i) => event(i, 1_700_000_000_000 + d.at, d.url));
          const cut = 1 + (a % (events.length - 1));
          const from = b % cut;
          const all = written(events);
          const perEvent = all.slice(0, events.length);
          const marker = all.slice(events.length);
          const at = (records: readonly OutgoingRecord[], first: number) =>
            asFetched(records).map((r, i) => ({ ...r, offset: String(first + i) }));
          const firstPack = at(packRepartitionRecords(perEvent.slice(0, cut)), 0);
          const replay = at(packRepartitionRecords(perEvent.slice(from, cut)), 1);
          const rest = at(packRepartitionRecords(perEvent.slice(cut)), 2);
          // The first event, replayed from the dead-letter topic: not a copy, it counts (again).
          const deadLetter = at([perEvent[0]!], 2 + rest.length).map((r) => ({
            ...r,
            headers: { ...r.headers, [REPLAYED_FROM_HEADER]: Buffer.from('dlq/0@0') },
          }));
          const end = at(marker, 3 + rest.length);

          const reference = rekeyedWorker({ now: 1_700_000_000_000 });
          const once = [...firstPack, ...rest, ...deadLetter, ...end];
          reference.accept(once, BigInt(once.length));
          await reference.drained();
          const expected = closeAll(reference, { now: 0 });

          const clock = { now: 1_700_000_000_000 };
          const before = rekeyedWorker(clock);
          before.accept(firstPack, 1n);
          await before.drained();
          const after = new PartitionWorker(
            'repartition',
            0,
            rekeyed,
            logger,
            durableEffects(),
            () => clock.now,
            restoredFrom(before),
          );
          const again = [...replay, ...rest, ...deadLetter, ...end];
          expect(after.accept(again, BigInt(2 + again.length))).toBe(again.length);
          await after.drained();
          expect(after.counters.replaysDropped).toBe(cut - from);
          expect(closeAll(after, clock)).toEqual(expected);
          // Late events too, once each: those of the first pack were the first worker's.
          expect(before.counters.late + after.counters.late).toBe(reference.counters.late);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('stops the pipeline at a pack of a format it cannot read, taking nothing from it or after it', async () => {
    const events = [event(0, 1_700_000_000_000, '/a'), event(1, 1_700_000_001_000, '/b')];
    const [pack, marker] = asFetched(packRepartitionRecords(written(events)));
    const otherFormat = { ...pack!, headers: { ...pack!.headers, 'sluice.packed': Buffer.from('9') } };
    const aborts: Error[] = [];
    const effects = { ...durableEffects(), abort: (error: Error) => aborts.push(error) };
    const worker = new PartitionWorker('repartition', 0, rekeyed, logger, effects, () => 1_700_000_000_000);
    expect(worker.accept([otherFormat, { ...marker!, offset: '1' }], 2n)).toBe(0);
    await worker.drained();
    expect(aborts.map((e) => (e as { code?: string }).code)).toEqual(['SLUICE_STATE_INVALID']);
    expect(aborts[0]!.message).toMatch(/packed in format 9, which this version of Sluice cannot read/);
    // Nothing was counted or tracked: no checkpoint moves past the pack.
    expect(worker.counters.fetched).toBe(0);
    expect(worker.counters.completed).toBe(0);
  });
});
