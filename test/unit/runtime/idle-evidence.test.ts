// Idleness on evidence about the partition: against a model of the samples, and driving a watermark the
// way the runner's tick does, a partition whose leader stops answering never lets its watermark follow
// the wall clock past what its last fetched end allows, whatever other partitions' samples say.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IdleEvidence, sampling } from '../../../src/runtime/idle-evidence.js';
import { Watermark } from '../../../src/windows/watermark.js';

describe('IdleEvidence', () => {
  it('confirms exactly when the newest sample of that partition is fresh and read up to', () => {
    const sampleArb = fc.record({
      atMs: fc.integer({ min: 0, max: 10_000 }),
      ends: fc.dictionary(fc.constantFrom('0', '1', '2'), fc.bigInt({ min: 0n, max: 20n })),
    });
    const queryArb = fc.record({
      partition: fc.integer({ min: 0, max: 2 }),
      position: fc.option(fc.bigInt({ min: 0n, max: 20n }), { nil: undefined }),
      ageMs: fc.integer({ min: 0, max: 5_000 }),
    });
    fc.assert(
      fc.property(
        fc.array(sampleArb, { maxLength: 20 }),
        fc.array(queryArb, { maxLength: 10 }),
        fc.integer({ min: 0, max: 3_000 }),
        (samples, queries, maxAgeMs) => {
          const evidence = new IdleEvidence(maxAgeMs);
          const seen = samples.map((s) => ({
            atMs: s.atMs,
            ends: new Map(Object.entries(s.ends).map(([p, end]) => [Number(p), end])),
          }));
          for (const s of seen) evidence.sampled(s.ends, s.atMs);
          const lastAt = Math.max(0, ...seen.map((s) => s.atMs));
          for (const q of queries) {
            const now = lastAt + q.ageMs;
            // The model: the newest sample that reached the partition (the later one on a tie).
            const newest = seen
              .filter((s) => s.ends.has(q.partition))
              .reduce<(typeof seen)[number] | undefined>((a, b) => (a && a.atMs > b.atMs ? a : b), undefined);
            const expected =
              newest !== undefined &&
              q.position !== undefined &&
              now - newest.atMs <= maxAgeMs &&
              (newest.ends.get(q.partition) as bigint) <= q.position;
            if (evidence.confirmsQuiet(q.partition, q.position, now) !== expected) return false;
          }
          return true;
        },
      ),
    );
  });

  it("never confirms a partition on other partitions' samples", () => {
    const evidence = new IdleEvidence(10_000);
    evidence.sampled(new Map([[1, 5n]]), 0);
    expect(evidence.confirmsQuiet(0, 100n, 1)).toBe(false);
    expect(evidence.confirmsQuiet(1, 5n, 1)).toBe(true);
    expect(evidence.confirmsQuiet(1, 4n, 1)).toBe(false);
    expect(evidence.confirmsQuiet(1, 5n, 10_001)).toBe(false);
  });

  it('samples often enough that a lost leader is noticed before idleTimeout', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1_000, max: 3_600_000 }), (idleTimeoutMs) => {
        const { everyMs, maxAgeMs } = sampling(idleTimeoutMs);
        return everyMs >= 250 && everyMs <= 5_000 && maxAgeMs < idleTimeoutMs;
      }),
    );
  });

  it("a partition whose leader stops answering keeps its watermark below the leader's last answer", () => {
    // Records flow (one per step of event time = wall time) and every sample reaches the partition
    // until the leader is lost at `lostAt`; then only the other partitions' samples come back. The
    // runner's tick: without evidence the idle clock starts over; the watermark is read caught up.
    const arb = fc.record({
      idleTimeoutMs: fc.integer({ min: 1_000, max: 60_000 }),
      lostAt: fc.integer({ min: 0, max: 120_000 }),
      tickMs: fc.integer({ min: 50, max: 1_000 }),
      // How long a sample takes to come back, and whether it fails for a while before the loss too.
      latencyMs: fc.integer({ min: 0, max: 200 }),
      recordEveryMs: fc.integer({ min: 100, max: 10_000 }),
    });
    fc.assert(
      fc.property(arb, ({ idleTimeoutMs, lostAt, tickMs, latencyMs, recordEveryMs }) => {
        const { everyMs, maxAgeMs } = sampling(idleTimeoutMs);
        const evidence = new IdleEvidence(maxAgeMs);
        const watermark = new Watermark({ maxOutOfOrdernessMs: 0, idleTimeoutMs });
        let end = 0n;
        let lastAnswer = Number.NEGATIVE_INFINITY;
        let nextSample = 0;
        let nextRecord = 0;
        const horizon = lostAt + 3 * idleTimeoutMs;
        for (let now = 0; now <= horizon; now += tickMs) {
          while (nextRecord <= now && nextRecord < lostAt) {
            watermark.observe(nextRecord, nextRecord);
            end += 1n;
            nextRecord += recordEveryMs;
          }
          while (nextSample + latencyMs <= now) {
            if (nextSample < lostAt) {
              evidence.sampled(new Map([[0, end]]), nextSample);
              lastAnswer = nextSample;
            }
            evidence.sampled(new Map([[1, 0n]]), nextSample);
            nextSample += everyMs;
          }
          if (!evidence.confirmsQuiet(0, end, now)) watermark.restartIdleClock(now);
          const current = watermark.current(now, true);
          const allowed = Math.max(watermark.eventWatermark, lastAnswer + maxAgeMs - idleTimeoutMs);
          if (current > allowed) return false;
          // The backlog written while the leader was away has event times from lostAt on: none is late.
          if (current >= lostAt) return false;
        }
        return true;
      }),
      { numRuns: 200 },
    );
  });
});
