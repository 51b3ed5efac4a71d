// The sinks' batching against the real ClickHouse, driven directly (no Kafka source): a table's batch
// is written when maxSize rows are in, the rest once the first has waited maxWaitMs, or on demand;
// pause holds batches back; rows with one identity in a batch are one row; the same rows written
// twice are one result; and rows are routed to tables by a groupBy field.
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ClickHouseClient } from '@clickhouse/client';
import { setTimeout as sleep } from 'node:timers/promises';
import { definePipeline, type Pipeline } from '../../../src/index.js';
import { createLogger } from '../../../src/ops/logger.js';
import { PipelineMetrics } from '../../../src/ops/metrics.js';
import { SinkSet } from '../../../src/sinks/sink-set.js';
import { idempotentProducer } from '../../../src/source/record-producer.js';
import type { WindowResult } from '../../../src/windows/window-result.js';
import { queryRows, testClickHouse, testKafka, uniqueName, waitFor } from '../support/fixtures.js';
import { compiledForTest } from '../../support/compiled-pipeline.js';

const BASE = Date.UTC(2026, 2, 1);
const MINUTE = 60_000;

describe('ClickHouse sink batching', () => {
  let clickhouse: ClickHouseClient;
  let open: SinkSet[] = [];

  beforeAll(() => {
    clickhouse = testClickHouse();
  });
  afterEach(async () => {
    for (const sinks of open) await sinks.close();
    open = [];
  });
  afterAll(() => clickhouse.close());

  /** A pipeline with one window `w` by country, and its sinks prepared against the test ClickHouse. */
  async function sinksFor(clickhouseSink: Record<string, unknown>) {
    const database = uniqueName('batching');
    const pipeline: Pipeline = definePipeline({
      name: 'batching',
      source: { brokers: [inject('kafkaBrokers')], topic: 'unused' },
      windows: [{ name: 'w', type: 'tumbling', size: '1m', groupBy: ['country'] }],
      sinks: { clickhouse: { url: inject('clickhouseUrl'), database, ...clickhouseSink } },
    });
    const metrics = new PipelineMetrics(pipeline.name);
    const deadLettered: unknown[] = [];
    const sinks = new SinkSet(
      compiledForTest(pipeline).sinks,
      { url: inject('clickhouseUrl'), username: 'default', password: '', database },
      () => idempotentProducer(testKafka()),
      {
        metrics: metrics.sinkMetrics(),
        logger: createLogger('silent'),
        deadLetter: (_sink, rows) => {
          deadLettered.push(...rows);
          return Promise.resolve();
        },
        circuit: () => undefined,
      },
    );
    open.push(sinks);
    await sinks.check();
    await sinks.prepare();
    const rowsIn = async (table = 'w', final = true) =>
      Number(
        (
          await queryRows<{ n: string }>(
            clickhouse,
            // The view is each row's latest version; the rows table holds every version written.
            `SELECT count() AS n FROM ${database}.${table}${final ? '' : '_rows'}`,
          )
        )[0]!.n,
      );
    const batchSizes = async () =>
      (await metrics.sinkBatchRows.get()).values.find(
        (v) => v.metricName === 'sluice_sink_batch_rows_sum' && v.labels.sink === 'clickhouse',
      )?.value ?? 0;
    return { sinks, database, rowsIn, deadLettered, batchSizes, metrics };
  }

  it('writes a batch at maxSize rows, the rest after maxWaitMs, and what is buffered on demand', async () => {
    const { sinks, rowsIn } = await sinksFor({ batch: { maxSize: 5, maxWaitMs: 3_000 } });
    let acknowledged = false;
    const written = sinks.write(results(12), 0, 1).then(() => (acknowledged = true));
    await waitFor(
      'two full batches',
      () => rowsIn(),
      (n) => n === 10,
      10_000,
    );
    expect(sinks.sizes()).toEqual({ clickhouse: { w: 2 } });
    // The last two rows wait for their batch's age, and the write is not acknowledged before they land.
    await sleep(1_000);
    expect(await rowsIn()).toBe(10);
    expect(acknowledged).toBe(false);
    await written;
    expect(await rowsIn()).toBe(12);
    expect(sinks.sizes()).toEqual({ clickhouse: { w: 0 } });

    // On demand: a flush writes what is buffered at once, whatever its size and age.
    const more = sinks.write(results(3, { start: BASE + 10 * MINUTE }), 0, 1);
    await sleep(300);
    expect(await rowsIn()).toBe(12);
    await sinks.flush('w');
    await more;
    expect(await rowsIn()).toBe(15);
  });

  it('holds batches while paused, writes them on resume, and drains everything', async () => {
    const { sinks, rowsIn } = await sinksFor({ batch: { maxSize: 2, maxWaitMs: 200 } });
    sinks.pause();
    const written = sinks.write(results(7), 0, 1);
    await sleep(800);
    expect(await rowsIn()).toBe(0);
    expect(sinks.sizes()).toEqual({ clickhouse: { w: 7 } });
    sinks.resume();
    await sinks.drain();
    await written;
    expect(await rowsIn()).toBe(7);
  });

  it('writes one row per identity in a batch, and the same rows twice make no duplicate result', async () => {
    const { sinks, database, rowsIn, batchSizes } = await sinksFor({
      batch: { maxSize: 1_000, maxWaitMs: 100 },
    });
    // One batch holding an early update and the final row of every key: only the final rows are sent.
    await sinks.write(
      [...results(4, { version: 1, count: 1 }), ...results(4, { version: 2, count: 5 })],
      0,
      1,
    );
    expect(await rowsIn('w', false)).toBe(4);
    expect(await batchSizes()).toBe(4);
    // Replayed after a crash: the same rows again, in another batch.
    await sinks.write(results(4, { version: 2, count: 5 }), 0, 1);
    expect(await rowsIn('w', false)).toBe(8);
    expect(await rowsIn('w', true)).toBe(4);
    const sums = await queryRows<{ total: string }>(
      clickhouse,
      `SELECT sum(count) AS total FROM ${database}.w`,
    );
    expect(Number(sums[0]!.total)).toBe(4 * 5);
  });

  it('routes rows to a table per groupBy value, created on first use', async () => {
    const { sinks, rowsIn } = await sinksFor({
      tables: { w: 'w_by_{country}' },
      batch: { maxSize: 1_000, maxWaitMs: 100 },
    });
    await sinks.write(results(6), 0, 1);
    // Countries c0, c1, c2 in turn: two rows each.
    for (const country of ['c0', 'c1', 'c2']) expect(await rowsIn(`w_by_${country}`)).toBe(2);
    expect(Object.keys(sinks.sizes().clickhouse ?? {}).sort()).toEqual(['w_by_c0', 'w_by_c1', 'w_by_c2']);
  });
});

/** `n` results of window `w`: distinct (window start, country) identities, three countries in turn. */
function results(
  n: number,
  options: { start?: number; version?: number; count?: number } = {},
): WindowResult[] {
  const start = options.start ?? BASE;
  return Array.from({ length: n }, (_, i) => {
    const count = options.count ?? i + 1;
    return {
      definition: 'w',
      window: { start: start + Math.floor(i / 3) * MINUTE, end: start + (Math.floor(i / 3) + 1) * MINUTE },
      key: [`c${i % 3}`],
      count,
      values: { count },
      firstOffset: BigInt(i),
      lastOffset: BigInt(i),
      reason: 'watermark',
      version: options.version ?? 1,
    };
  });
}
