// The better paths Sluice takes where the ClickHouse server offers them, checked on whichever server the
// run has (CI runs this on 18.16 and on the current release): a current server gets DateTime64(3)
// window bounds that hold a session's millisecond start, LowCardinality group keys, and rows tables that
// drop an insert whose token they have seen, while a repeated batch under a new token (a replay after a
// crash) still lands; 18.16 gets DateTime bounds in whole seconds, String keys, and no token memory.
// Either way the windows are exact.
import { beforeAll, describe, expect, inject, it } from 'vitest';
import type { ClickHouseClient } from '@clickhouse/client';
import type { Kafka } from 'kafkajs';
import { definePipeline, run } from '../../../src/index.js';
import { createTopic, queryRows, uniqueName, waitFor } from '../support/fixtures.js';
import { captureLog } from '../support/log-capture.js';
import { withProducer } from '../support/pipeline-truth.js';
import { useTestServices } from '../support/services.js';

/** On the hour. */
const BASE = Date.UTC(2026, 4, 1, 10);
const USERS = 6;

describe('ClickHouse server paths', () => {
  const services = useTestServices();
  let kafka: Kafka;
  let clickhouse: ClickHouseClient;
  beforeAll(() => ({ kafka, clickhouse } = services));

  it('takes the better types and insert deduplication where the server has them, and is exact either way', async () => {
    const [{ v: version }] = (await queryRows<{ v: string }>(clickhouse, 'SELECT version() AS v')) as [
      { v: string },
    ];
    const major = Number(version.split('.')[0]);
    const current = major >= 22;
    const name = uniqueName('paths');
    const topic = uniqueName('user_events');
    const database = uniqueName('paths');
    await createTopic(kafka, topic, 2);
    // Per user, one burst of events at odd milliseconds: one session each, starting off the second; in
    // event-time order, so none is late.
    const events = Array.from({ length: USERS * 5 }, (_, i) => ({
      userId: `u${i % USERS}`,
      type: i % 2 === 0 ? 'view' : 'click',
      timestamp: BASE + (i % USERS) * 7_000 + Math.floor(i / USERS) * 1_000 + 123 + (i % USERS),
    })).sort((a, b) => a.timestamp - b.timestamp);
    await withProducer(kafka, (producer) =>
      producer.send({
        topic,
        acks: -1,
        messages: events.map((e) => ({ key: e.userId, value: JSON.stringify(e) })),
      }),
    );
    const config = {
      name,
      source: { brokers: [inject('kafkaBrokers')], topic, groupId: `sluice-${name}`, keyedBy: ['userId'] },
      time: { field: 'timestamp', maxOutOfOrderness: '1s', idleTimeout: '1s' },
      windows: [{ name: 'sessions', type: 'session' as const, gap: '30s', groupBy: ['userId'] }],
      sinks: { clickhouse: { url: inject('clickhouseUrl'), database } },
      http: { port: 0 },
    };
    const running = await run(definePipeline(config), { logger: captureLog().logger });
    try {
      await waitFor(
        'every session closed and written',
        () =>
          queryRows<{ n: string; c: string }>(
            clickhouse,
            `SELECT count() AS n, sum(count) AS c FROM ${database}.sessions WHERE emit_reason != 'update'`,
          ),
        (rows) => Number(rows[0]?.n) === USERS && Number(rows[0]?.c) === events.length,
        90_000,
      );
    } finally {
      await running.stop();
    }

    const types = Object.fromEntries(
      (
        await queryRows<{ name: string; type: string }>(
          clickhouse,
          `SELECT name, type FROM system.columns WHERE database = '${database}' AND table = 'sessions_rows'`,
        )
      ).map((c) => [c.name, c.type]),
    );
    const [engine] = await queryRows<{ engine_full: string }>(
      clickhouse,
      `SELECT engine_full FROM system.tables WHERE database = '${database}' AND name = 'sessions_rows'`,
    );
    // Each session's first event, independently.
    const starts = new Map<string, number>();
    for (const e of events) starts.set(e.userId, Math.min(starts.get(e.userId) ?? Infinity, e.timestamp));
    const shown = await queryRows<{ userId: string; start_ms: string; window_start_ms: string }>(
      clickhouse,
      major >= 20
        ? `SELECT userId, toString(toUnixTimestamp64Milli(window_start)) AS start_ms, window_start_ms FROM ${database}.sessions`
        : `SELECT userId, toString(toUInt64(toUnixTimestamp(window_start)) * 1000) AS start_ms, window_start_ms FROM ${database}.sessions`,
    );
    expect(shown.map((r) => [r.userId, Number(r.window_start_ms)]).sort()).toEqual([...starts].sort());
    if (current) {
      expect(types.window_start).toBe("DateTime64(3, 'UTC')");
      expect(types.userId).toBe('LowCardinality(String)');
      expect(engine?.engine_full).toContain('non_replicated_deduplication_window = 1000');
      // The bounds hold the session's millisecond start.
      for (const r of shown) expect(Number(r.start_ms)).toBe(starts.get(r.userId));
    } else {
      expect(types.window_start).toBe("DateTime('UTC')");
      expect(types.userId).toBe('String');
      expect(engine?.engine_full).not.toContain('deduplication');
      for (const r of shown) expect(Number(r.start_ms)).toBe(Math.floor(starts.get(r.userId)! / 1000) * 1000);
    }

    // A batch sent again: under the same token (a retry) dropped where the server remembers tokens;
    // under a new token (a replay's batch after a crash) it lands, as on every server.
    const raw = () =>
      queryRows<{ n: string }>(clickhouse, `SELECT count() AS n FROM ${database}.sessions_rows`).then((r) =>
        Number(r[0]!.n),
      );
    const rows = await queryRows<Record<string, unknown>>(
      clickhouse,
      `SELECT * FROM ${database}.sessions_rows FINAL WHERE superseded = 0 LIMIT 2`,
    );
    const before = await raw();
    const insert = (token: string | undefined) =>
      clickhouse.insert({
        table: `${database}.sessions_rows`,
        values: rows,
        format: 'JSONEachRow',
        ...(token && current ? { clickhouse_settings: { insert_deduplication_token: token } } : {}),
      });
    await insert('batch-1');
    await insert('batch-1');
    expect(await raw()).toBe(before + (current ? 2 : 4));
    await insert('batch-2');
    expect(await raw()).toBe(before + (current ? 4 : 6));
  });
});
