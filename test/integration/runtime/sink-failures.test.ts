// A sink that fails for a while and a sink that is slow, played by a TCP proxy in front of the real
// ClickHouse: the sink's circuit opens and every partition pauses instead of buffering, nothing is
// committed past what is unsunk, the member keeps its partitions (heartbeats go on while paused), and
// once the circuit closes again everything lands exactly once.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ClickHouseClient } from '@clickhouse/client';
import type { Kafka } from 'kafkajs';
import { setTimeout as sleep } from 'node:timers/promises';
import { definePipeline, run, type RunningPipeline } from '../../../src/index.js';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { createTopic, testClickHouse, testKafka, uniqueName, waitFor } from '../support/fixtures.js';
import { captureLog, type CapturedLog } from '../support/log-capture.js';
import {
  committedOffsets,
  countingPipeline,
  countsIn,
  endOffsets,
  groundTruth,
  produceEvents,
  total,
  withProducer,
  type Produced,
} from '../support/pipeline-truth.js';

const PARTITIONS = 4;
const BASE = Date.UTC(2026, 1, 1);
const SECOND = 1_000;

describe('a failing or slow sink', () => {
  let kafka: Kafka;
  let clickhouse: ClickHouseClient;
  const cleanups: (() => Promise<unknown>)[] = [];

  beforeAll(() => {
    kafka = testKafka();
    clickhouse = testClickHouse();
  });

  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
    await clickhouse.close();
  });

  async function setUp(
    prefix: string,
    windowSize: string,
    extra: (
      source: Record<string, unknown>,
      sinks: { clickhouse: Record<string, unknown> },
    ) => Record<string, unknown>,
  ) {
    const proxy: FaultProxy = await startFaultProxy(inject('clickhouseUrl'));
    cleanups.push(() => proxy.close());
    const name = uniqueName(prefix);
    const topic = uniqueName('user_events');
    const database = uniqueName(prefix);
    await createTopic(kafka, topic, PARTITIONS);
    const config = countingPipeline({
      name,
      topic,
      database,
      idleTimeout: '1s',
      windowSize,
      clickhouseUrl: proxy.url,
      // Computed per source partition (declared keyed by a field of its groupBy): the partitions the
      // test watches pause, hold windows and commit as the sink does; re-keyed members are the fault suite's.
      keyedBy: ['type'],
    });
    const log: CapturedLog = captureLog();
    const running: RunningPipeline = await run(
      definePipeline({ ...config, ...extra(config.source, config.sinks) }),
      {
        logger: log.logger,
      },
    );
    cleanups.push(() => running.stop());
    const counts = () => countsIn(clickhouse, database);
    const commits = () => committedOffsets(kafka, `sluice-${name}`, topic);
    return { proxy, topic, log, running, counts, commits };
  }

  it('pauses while the sink fails, commits nothing past unsunk results, keeps its partitions, then lands everything', async () => {
    const { proxy, topic, log, running, counts, commits } = await setUp('failing', '1s', (source, sinks) => ({
      source: { ...source, sessionTimeout: '6s', heartbeatInterval: '1s' },
      // Give up on a batch quickly, and open the circuit at the first exhausted batch.
      sinks: {
        clickhouse: {
          ...sinks.clickhouse,
          batch: { maxSize: 500, maxWaitMs: 200 },
          retry: { max: 2, baseDelay: '100ms' },
          circuitBreaker: { failures: 1, halfOpenAfter: '1s' },
        },
      },
    }));
    const produce = (seed: number, base: number, span: number) =>
      withProducer(kafka, (producer) =>
        produceEvents(producer, topic, { partitions: PARTITIONS, perPartition: 200, base, span, seed }),
      );
    const truth = (produced: Produced[]) => groundTruth(produced, () => true, SECOND);

    // History first: the idle partitions' watermarks then follow the wall clock and close every window.
    const before = await produce(1, BASE, 5 * 60_000);
    await waitFor('the first batch sunk', counts, (c) => total(c) >= total(truth(before)));
    expect(await counts()).toEqual(truth(before));
    await waitFor('the first batch committed', commits, (c) => sameOffsets(c, endOffsets(before)));

    proxy.cut();
    // Live events, stamped a little ahead of now: their windows close within seconds, while the sink is down.
    const during = await produce(2, Date.now() + 1_000, 3_000);
    await waitFor(
      'every partition paused for the sink',
      () => Promise.resolve(running.status()),
      (status) => status.length === PARTITIONS && status.every((p) => p.pausedFor.includes('sink')),
      30_000,
    ).catch(withLog(log));
    // Nothing is committed while results wait for the sink: a commit would drop them from the state.
    // Longer than the session timeout: a paused member that stopped heartbeating would lose its partitions.
    const held = await commits();
    for (let second = 0; second < 8; second += 1) {
      expect(await commits()).toEqual(held);
      await sleep(1_000);
    }
    expect(log.count('partitions assigned')).toBe(1);
    expect(log.count('group rebalancing; flushing and committing owned partitions')).toBe(0);
    expect(running.status().reduce((sum, p) => sum + p.late, 0)).toBe(0);

    proxy.restore();
    const all = [...before, ...during];
    await waitFor('everything sunk after recovery', counts, (c) => total(c) >= total(truth(all))).catch(
      withLog(log),
    );
    expect(await counts()).toEqual(truth(all));
    await waitFor('everything committed', commits, (c) => sameOffsets(c, endOffsets(all)));
    expect(log.count('sink circuit open; pausing the source until it answers again')).toBeGreaterThanOrEqual(
      1,
    );
    expect(log.count('sink circuit closed; resuming')).toBeGreaterThanOrEqual(1);
    expect(running.status().every((p) => p.pausedFor.length === 0)).toBe(true);
  });

  it('keeps every partition’s buffer within maxBufferSize under a slow sink, and loses nothing', async () => {
    const MAX_BUFFER = 50;
    const { proxy, topic, log, running, counts, commits } = await setUp('slow', '1m', () => ({
      backpressure: { maxBufferSize: MAX_BUFFER },
    }));
    proxy.slow(150);
    // An hour of events per partition: hundreds of (window, type, url) results, far above the bound.
    const produced: Produced[] = await withProducer(kafka, (producer) =>
      produceEvents(producer, topic, {
        partitions: PARTITIONS,
        perPartition: 1_500,
        base: BASE,
        span: 60 * 60_000,
        seed: 7,
      }),
    );
    const expected = groundTruth(produced);
    expect(Object.keys(expected).length).toBeGreaterThan(10 * MAX_BUFFER);

    await waitFor('everything sunk', counts, (c) => total(c) >= total(expected), 120_000).catch(withLog(log));
    expect(await counts()).toEqual(expected);
    await waitFor('everything committed', commits, (c) => sameOffsets(c, endOffsets(produced)));
    const status = running.status();
    expect(status).toHaveLength(PARTITIONS);
    for (const partition of status) {
      expect(partition.peakBuffer.records).toBeLessThanOrEqual(MAX_BUFFER);
      expect(partition.shed).toBe(0);
    }
    // The bound was reached and enforced by pausing, not merely never approached.
    expect(status.reduce((sum, p) => sum + p.pauses.backpressure, 0)).toBeGreaterThan(0);
    expect(Math.max(...status.map((p) => p.peakBuffer.records))).toBe(MAX_BUFFER);
  });
});

function sameOffsets(a: Record<number, string>, b: Record<number, string>): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function withLog(log: CapturedLog) {
  return (error: Error): never => {
    throw new Error(`${error.message}\n--- pipeline log ---\n${log.tail(40)}`);
  };
}
