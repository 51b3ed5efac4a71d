// The ClickHouse sink under real failures, with a pipeline reading real Kafka: a ClickHouse server of
// the test's own is stopped mid-stream and started again (the circuit opens, the source pauses,
// nothing is lost or counted twice), and rows that ClickHouse refuses go to the dead-letter topic
// with their context while everything else lands and every offset is committed.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClickHouseClient } from '@clickhouse/client';
import { ClickHouseLogLevel, createClient } from '@clickhouse/client';
import type { Kafka } from 'kafkajs';
import { definePipeline, run, type RunningPipeline } from '../../../src/index.js';
import type { ResultRow } from '../../../src/sinks/result-row.js';
import { startClickHouse } from '../../../src/tools/stack/clickhouse-server.js';
import { freePorts } from '../../../src/tools/stack/ports.js';
import { stopProcess } from '../../../src/tools/stack/processes.js';
import {
  createTopic,
  readTopic,
  testClickHouse,
  testKafka,
  uniqueName,
  waitFor,
} from '../support/fixtures.js';
import { captureLog, type CapturedLog } from '../support/log-capture.js';
import {
  countingPipeline,
  countsIn,
  groundTruth,
  produceEvents,
  total,
  waitForCommits,
  withProducer,
  type Produced,
} from '../support/pipeline-truth.js';

const PARTITIONS = 2;
const BASE = Date.UTC(2026, 3, 1);
const SECOND = 1_000;

describe('ClickHouse sink failures', () => {
  let kafka: Kafka;
  const cleanups: (() => Promise<unknown>)[] = [];

  beforeAll(() => {
    kafka = testKafka();
  });
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  });

  it('loses and doubles nothing when ClickHouse is stopped mid-stream and started again', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sluice-ch-restart-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const [httpPort, tcpPort] = await freePorts(2);
    let server = await startClickHouse({ dir, httpPort: httpPort!, tcpPort: tcpPort! });
    cleanups.push(() => stopProcess(server.pid, 5_000));
    const own: ClickHouseClient = createClient({ url: server.url, log: { level: ClickHouseLogLevel.OFF } });
    cleanups.push(() => own.close());

    const name = uniqueName('restart');
    const topic = uniqueName('user_events');
    const database = uniqueName('restart');
    await createTopic(kafka, topic, PARTITIONS);
    const config = countingPipeline({
      name,
      topic,
      database,
      idleTimeout: '1s',
      windowSize: '1s',
      clickhouseUrl: server.url,
      // Computed per source partition (declared keyed by a field of its groupBy): the partitions the
      // test watches pause, hold windows and commit as the sink does; re-keyed members are the fault suite's.
      keyedBy: ['type'],
    });
    const log: CapturedLog = captureLog();
    const running: RunningPipeline = await run(
      definePipeline({
        ...config,
        sinks: {
          clickhouse: {
            ...config.sinks.clickhouse,
            batch: { maxSize: 200, maxWaitMs: 200 },
            retry: { max: 2, baseDelay: '100ms' },
            circuitBreaker: { failures: 1, halfOpenAfter: '1s' },
          },
        },
      }),
      { logger: log.logger },
    );
    cleanups.push(() => running.stop());
    const produce = (seed: number, base: number, span: number) =>
      withProducer(kafka, (producer) =>
        produceEvents(producer, topic, { partitions: PARTITIONS, perPartition: 300, base, span, seed }),
      );
    const truth = (produced: Produced[]) => groundTruth(produced, () => true, SECOND);
    const counts = () => countsIn(own, database);

    const before = await produce(11, BASE, 5 * 60_000);
    await waitFor('the first events sunk', counts, (c) => total(c) >= total(truth(before)));

    await stopProcess(server.pid, 5_000);
    // Live events: their windows close within seconds, while ClickHouse is down.
    const during = await produce(12, Date.now() + 1_000, 3_000);
    await waitFor(
      'every partition paused for the sink',
      () => Promise.resolve(running.status()),
      (status) => status.length === PARTITIONS && status.every((p) => p.pausedFor.includes('sink')),
      30_000,
    ).catch(withLog(log));

    server = await startClickHouse({ dir, httpPort: httpPort!, tcpPort: tcpPort! });
    const all = [...before, ...during];
    await waitFor('everything sunk after the restart', counts, (c) => total(c) >= total(truth(all))).catch(
      withLog(log),
    );
    await waitForCommits(kafka, `sluice-${name}`, topic, all);
    expect(await counts()).toEqual(truth(all));
    expect(log.count('sink circuit closed; resuming')).toBeGreaterThanOrEqual(1);
    expect(running.status().every((p) => p.pausedFor.length === 0)).toBe(true);
  });

  it('dead-letters exactly the rows ClickHouse refuses, with their context, and lands the rest', async () => {
    const clickhouse = testClickHouse();
    cleanups.push(() => clickhouse.close());
    const name = uniqueName('rejects');
    const topic = uniqueName('user_events');
    const database = uniqueName('rejects');
    await createTopic(kafka, topic, PARTITIONS);
    // Computed per source partition (declared keyed by a field of its groupBy): as the rows counted below.
    const config = countingPipeline({ name, topic, database, idleTimeout: '1s', keyedBy: ['type'] });
    const refused = (row: ResultRow) => row.url === '/pricing';
    const running = await run(
      definePipeline({
        ...config,
        sinks: {
          clickhouse: {
            ...config.sinks.clickhouse,
            batch: { maxSize: 100, maxWaitMs: 200 },
            // A hook that breaks some rows: a count ClickHouse cannot parse as UInt64.
            hooks: {
              beforeFlush: (rows) => rows.map((row) => (refused(row) ? { ...row, count: 'many' } : row)),
            },
          },
        },
      }),
      { logger: captureLog().logger },
    );
    cleanups.push(() => running.stop());
    const produced = await withProducer(kafka, (producer) =>
      produceEvents(producer, topic, {
        partitions: PARTITIONS,
        perPartition: 400,
        base: BASE,
        span: 10 * 60_000,
        seed: 21,
      }),
    );
    const expectedLanded = groundTruth(produced, (p) => p.event?.url !== '/pricing');
    await waitFor(
      'every accepted row landed',
      () => countsIn(clickhouse, database),
      (c) => total(c) >= total(expectedLanded),
    );
    await waitForCommits(kafka, `sluice-${name}`, topic, produced);
    expect(await countsIn(clickhouse, database)).toEqual(expectedLanded);
    // One refused row per (window, type) and source partition.
    const perPartition = new Set(
      produced
        .filter((p) => p.event?.url === '/pricing')
        .map((p) => `${Math.floor(p.event!.timestamp / 60_000)}|${p.event!.type}|${p.partition}`),
    );
    expect(perPartition.size).toBeGreaterThan(0);
    const letters = await readTopic(kafka, `${topic}.dlq`, perPartition.size);
    expect(letters).toHaveLength(perPartition.size);
    for (const letter of letters) {
      const row = JSON.parse(letter.value!.toString()) as ResultRow;
      expect(row.url).toBe('/pricing');
      expect(row.count).toBe('many');
      expect(letter.headers?.['sluice.reason']?.toString()).toBe('sink-rejected');
      expect(letter.headers?.['sluice.sink']?.toString()).toBe('clickhouse');
      expect(letter.headers?.['sluice.sink.target']?.toString()).toBe('views');
      expect(letter.headers?.['sluice.error']?.toString()).toMatch(/Code: \d+/);
      expect(letter.headers?.['sluice.source.partition']?.toString()).toBe(String(row.source_partition));
    }
  });
});

function withLog(log: CapturedLog) {
  return (error: Error): never => {
    throw new Error(`${error.message}\n--- pipeline log ---\n${log.tail(40)}`);
  };
}
