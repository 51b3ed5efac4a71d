// The ClickHouse the stack runs accepts the SQL Sluice relies on: its result tables, JSONEachRow inserts
// with DateTime('UTC'), replacement by version under FINAL and argMax, and bringing older tables up to date.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ClickHouseClient } from '@clickhouse/client';
import { validatePipeline } from '../../../../src/config/validate.js';
import { ClickHouseSchema, createClickHouseClient } from '../../../../src/sinks/clickhouse-schema.js';
import { rowsTableOf, windowTableDdl, windowViewDdl } from '../../../../src/sinks/clickhouse-tables.js';
import { queryRows, testClickHouse, uniqueName } from '../../support/fixtures.js';

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
    // The rows table, and the view users read (what Sluice makes for every window).
    await client.command({ query: windowTableDdl(database, window!, rowsTableOf('views_1m')) });
    await client.command({ query: windowViewDdl(database, window!) });
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
    await client.insert({ table: `${database}.views_1m_rows`, values: [row(3, 10)], format: 'JSONEachRow' });
    await client.insert({ table: `${database}.views_1m_rows`, values: [row(5, 12)], format: 'JSONEachRow' });
    await client.insert({ table: `${database}.views_1m_rows`, values: [row(5, 12)], format: 'JSONEachRow' });

    const final = await queryRows<Record<string, unknown>>(
      client,
      `SELECT count, toString(window_start) AS window_start, sum_value, avg_value, min_value, users
       FROM ${database}.views_1m_rows FINAL`,
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
      `SELECT argMax(count, version) AS c FROM ${database}.views_1m_rows GROUP BY pipeline, window_start, url, source_partition, window_start_ms`,
    );
    expect(latest).toEqual([{ c: '5' }]);
    // The view: the same answer from a plain SELECT, without the rows' bookkeeping.
    const plain = await queryRows<Record<string, unknown>>(
      client,
      `SELECT url, count, sum_value FROM ${database}.views_1m`,
    );
    expect(plain).toEqual([{ url: '/docs', count: '5', sum_value: 7.5 }]);
    const columns = await queryRows<{ name: string }>(
      client,
      `SELECT name FROM system.columns WHERE database = '${database}' AND table = 'views_1m'`,
    );
    expect(columns.map((c) => c.name)).not.toContain('version');
  });
});

describe('result tables made by an older Sluice', () => {
  let client: ClickHouseClient;
  const database = uniqueName('ch_migrate');
  const url = inject('clickhouseUrl');

  beforeAll(async () => {
    client = testClickHouse();
    await client.command({ query: `CREATE DATABASE ${database}` });
  });

  afterAll(async () => {
    await client.command({ query: `DROP DATABASE IF EXISTS ${database}` });
    await client.close();
  });

  /** What a pipeline with these windows does to the database at start-up (and `sluice migrate`). */
  function sink(windows: unknown[], keyedBy?: string[]) {
    const pipeline = validatePipeline({ name: 'p', windows });
    const endpoint = { url, username: 'default', password: '', database };
    const chClient = createClickHouseClient(endpoint);
    return {
      prepare: () => new ClickHouseSchema(chClient, endpoint, keyedBy).migrate(pipeline.windows),
      close: () => chClient.close(),
    };
  }

  it('moves under the view named after its window, gaining the columns it lacks, its rows keeping their values', async () => {
    // The first release's table: no millisecond bounds, aggregations, reason or superseded flag.
    await client.command({
      query: `CREATE TABLE ${database}.views (pipeline String, window_start DateTime('UTC'), window_end DateTime('UTC'),
        url String, source_partition UInt32, count UInt64, version UInt64)
        ENGINE = ReplacingMergeTree(version) PARTITION BY toYYYYMM(window_start)
        ORDER BY (pipeline, window_start, url, source_partition)`,
    });
    await client.insert({
      table: `${database}.views`,
      values: [
        {
          pipeline: 'p',
          window_start: '2026-01-01 00:01:00',
          window_end: '2026-01-01 00:02:00',
          url: '/',
          source_partition: 0,
          count: 4,
          version: 4,
        },
      ],
      format: 'JSONEachRow',
    });
    const views = {
      name: 'views',
      type: 'tumbling',
      size: '1m',
      groupBy: ['url'],
      aggregations: [{ fn: 'sum', field: 'value' }],
    };
    // Its rows were computed per source partition: re-keyed now, they would mean something else.
    const rekeyed = sink([views]);
    await expect(rekeyed.prepare()).rejects.toThrow(
      /rows: per source partition → one per window and key.*sluice reset --delete-results/,
    );
    await rekeyed.close();
    // Declared keyed by its group key, the window is still computed per partition: the table is taken.
    const current = sink([views], ['url']);
    await current.prepare();
    await current.prepare(); // idempotent
    await current.close();
    const rows = await queryRows<Record<string, unknown>>(
      client,
      `SELECT count, toString(window_start_ms) AS start_ms, sum_value, emit_reason, superseded FROM ${database}.views_rows`,
    );
    const viewed = await queryRows<Record<string, unknown>>(
      client,
      `SELECT url, count FROM ${database}.views`,
    );
    expect(viewed).toEqual([{ url: '/', count: '4' }]);
    expect(rows).toEqual([
      {
        count: '4',
        start_ms: String(Date.UTC(2026, 0, 1, 0, 1)),
        sum_value: 0,
        emit_reason: 'watermark',
        superseded: 0,
      },
    ]);
  });

  it('is refused, saying what to do, when its row identity does not fit the definition', async () => {
    await client.command({
      query: `CREATE TABLE ${database}.sessions (pipeline String, window_start DateTime('UTC'), window_end DateTime('UTC'),
        userId String, source_partition UInt32, count UInt64, version UInt64)
        ENGINE = ReplacingMergeTree(version) PARTITION BY toYYYYMM(window_start)
        ORDER BY (pipeline, window_start, userId, source_partition)`,
    });
    const sessions = sink([{ name: 'sessions', type: 'session', gap: '30m', groupBy: ['userId'] }]);
    await expect(sessions.prepare()).rejects.toThrow(
      /sessions_rows does not fit window sessions: .*without window_start_ms.*give the window a new name, or drop the table/,
    );
    await sessions.close();
    const regrouped = sink([{ name: 'sessions', type: 'tumbling', size: '1m', groupBy: ['country'] }]);
    await expect(regrouped.prepare()).rejects.toThrow(/without country/);
    await regrouped.close();
  });
});
