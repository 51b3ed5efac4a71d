// The ClickHouse the stack runs accepts the SQL Sluice relies on: its result tables, JSONEachRow inserts
// with DateTime('UTC'), and replacement by version under FINAL and argMax.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClickHouseClient } from '@clickhouse/client';
import { validatePipeline } from '../../../src/config/validate.js';
import { windowTableDdl } from '../../../src/sinks/clickhouse-tables.js';
import { queryRows, testClickHouse, uniqueName } from '../support/fixtures.js';

describe('ClickHouse server', () => {
  let client: ClickHouseClient;
  const database = uniqueName('ch_test');

  beforeAll(async () => {
    client = testClickHouse();
    await client.command({ query: `CREATE DATABASE ${database}` });
  });

  afterAll(async () => {
    await client.command({ query: `DROP DATABASE IF EXISTS ${database}` });
    await client.close();
  });

  it('answers ping and reports a version', async () => {
    expect((await client.ping()).success).toBe(true);
    const [row] = await queryRows<{ v: string }>(client, 'SELECT version() AS v');
    expect(row!.v).toMatch(/^\d+\.\d+/);
  });

  it('replaces a window row with the higher version under FINAL and argMax', async () => {
    const [window] = validatePipeline({
      name: 'p',
      windows: [
        {
          name: 'views_1m',
          type: 'tumbling',
          size: '1m',
          groupBy: ['url'],
          aggregations: [
            { fn: 'sum', field: 'value' },
            { fn: 'avg', field: 'value' },
            { fn: 'min', field: 'value' },
            { fn: 'max', field: 'value' },
            { fn: 'count_distinct', field: 'userId', name: 'users' },
          ],
        },
      ],
    }).windows;
    await client.command({ query: windowTableDdl(database, window!) });
    const row = (count: number, version: number) => ({
      pipeline: 'p',
      window_start: '2026-01-01 00:01:00',
      window_end: '2026-01-01 00:02:00',
      window_start_ms: Date.UTC(2026, 0, 1, 0, 1),
      window_end_ms: Date.UTC(2026, 0, 1, 0, 2),
      url: '/docs',
      source_partition: 0,
      count,
      sum_value: 1.5 * count,
      avg_value: count === 3 ? null : 1.5,
      min_value: null,
      max_value: 2,
      users: count,
      users_exact: 1,
      emit_reason: 'watermark',
      superseded: 0,
      version,
    });
    // Separate inserts make separate parts, so only FINAL / argMax reconcile them.
    await client.insert({ table: `${database}.views_1m`, values: [row(3, 10)], format: 'JSONEachRow' });
    await client.insert({ table: `${database}.views_1m`, values: [row(5, 12)], format: 'JSONEachRow' });
    await client.insert({ table: `${database}.views_1m`, values: [row(5, 12)], format: 'JSONEachRow' });

    const final = await queryRows<Record<string, unknown>>(
      client,
      `SELECT count, toString(window_start) AS window_start, sum_value, avg_value, min_value, users
       FROM ${database}.views_1m FINAL`,
    );
    expect(final).toEqual([
      {
        count: '5',
        window_start: '2026-01-01 00:01:00',
        sum_value: 7.5,
        avg_value: 1.5,
        min_value: null,
        users: '5',
      },
    ]);
    const latest = await queryRows<{ c: string }>(
      client,
      `SELECT argMax(count, version) AS c FROM ${database}.views_1m GROUP BY pipeline, window_start, url, source_partition, window_start_ms`,
    );
    expect(latest).toEqual([{ c: '5' }]);
  });
});
