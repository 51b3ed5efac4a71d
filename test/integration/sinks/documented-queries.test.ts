// The queries docs/clickhouse.md shows, run as written (the database renamed) on the windows of the
// demo's pipeline (examples/user-events.yaml) after it has read a stream, and their answers checked
// against the produced events: page views per URL and minute, their sum per minute, the same from the
// raw rows with argMax, and one user's sessions holding every event of that user.
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import type { ClickHouseClient } from '@clickhouse/client';
import type { Kafka } from 'kafkajs';
import { definePipeline, run } from '../../../src/index.js';
import { loadPipelineFile } from '../../../src/config/load.js';
import { createTopic, queryRows, uniqueName, waitFor } from '../support/fixtures.js';
import { captureLog } from '../support/log-capture.js';
import {
  countKey,
  groundTruth,
  produceEvents,
  waitForCommits,
  withProducer,
  type Counts,
} from '../support/pipeline-truth.js';
import { useTestServices } from '../support/services.js';

const PARTITIONS = 2;
/** On the hour. */
const BASE = Date.UTC(2026, 4, 1, 10);

/** The SQL blocks of the page before its materialized view recipe (materialized-view.test.ts runs that), in order. */
function documentedQueries(): string[] {
  const page = readFileSync('docs/clickhouse.md', 'utf8');
  const queries = page.slice(0, page.indexOf('## A materialized view that stays exact'));
  return [...queries.matchAll(/```sql\n([\s\S]*?)```/g)].map((m) => m[1]!.trim().replace(/;$/, ''));
}

describe('the queries of docs/clickhouse.md', () => {
  const services = useTestServices();
  let kafka: Kafka;
  let clickhouse: ClickHouseClient;
  beforeAll(() => ({ kafka, clickhouse } = services));

  it('answer what the produced events say, on the demo pipeline’s windows', async () => {
    const topic = uniqueName('user_events');
    const database = uniqueName('docs');
    await createTopic(kafka, topic, PARTITIONS);
    const example = await loadPipelineFile('examples/user-events.yaml');
    const name = uniqueName('docs');
    const config = {
      ...example,
      name,
      source: { ...example.source, brokers: [inject('kafkaBrokers')], topic, groupId: `sluice-${name}` },
      // The last windows close soon after the stream ends.
      time: { ...example.time, idleTimeout: '1s' },
      sinks: { clickhouse: { ...example.sinks.clickhouse, url: inject('clickhouseUrl'), database } },
      http: { port: 0 },
    };
    const produced = await withProducer(kafka, (producer) =>
      produceEvents(producer, topic, {
        partitions: PARTITIONS,
        perPartition: 400,
        base: BASE,
        span: 4 * 60_000,
        seed: 7,
      }),
    );
    const pageViews = groundTruth(produced, (p) => p.event!.type === 'page_view');
    const running = await run(definePipeline(config), { logger: captureLog().logger });
    const queries = documentedQueries().map((q) => q.replace(/\bsluice\./g, `${database}.`));
    expect(queries).toHaveLength(4);
    const [perUrl, sessions, perMinute, fromRows] = queries as [string, string, string, string];
    const viewsOf = (rows: Array<{ window_start: string; url: string; views: string }>): Counts =>
      Object.fromEntries(
        rows.map((r) => [
          countKey(Date.parse(`${r.window_start.replace(' ', 'T')}Z`), 'page_view', r.url),
          Number(r.views),
        ]),
      );
    try {
      await waitForCommits(kafka, `sluice-${name}`, topic, produced);
      // The first query, as written, once every window has closed and landed.
      const landed = await waitFor(
        'the page views per URL and minute',
        () => queryRows<{ window_start: string; url: string; views: string }>(clickhouse, perUrl),
        (rows) => JSON.stringify(sortedCounts(viewsOf(rows))) === JSON.stringify(sortedCounts(pageViews)),
        90_000,
      ).catch(async () =>
        queryRows<{ window_start: string; url: string; views: string }>(clickhouse, perUrl),
      );
      expect(viewsOf(landed)).toEqual(pageViews);
    } finally {
      await running.stop();
    }
    const perMinuteTruth: Record<string, number> = {};
    for (const [key, n] of Object.entries(pageViews)) {
      const minute = key.split('|')[0]!;
      perMinuteTruth[minute] = (perMinuteTruth[minute] ?? 0) + n;
    }
    const minutes = await queryRows<{ window_start: string; views: string }>(clickhouse, perMinute);
    expect(Object.fromEntries(minutes.map((r) => [r.window_start, Number(r.views)]))).toEqual(perMinuteTruth);
    expect(viewsOf(await queryRows(clickhouse, fromRows))).toEqual(pageViews);

    // Every event of the user the page asks about, in that user's sessions (on time, none filtered).
    const user = /userId = '([^']+)'/.exec(sessions)![1]!;
    const ofUser = produced.filter((p) => p.event?.userId === user).length;
    expect(ofUser).toBeGreaterThan(0);
    const rows = await queryRows<{ userId: string; count: string }>(clickhouse, sessions);
    expect(rows.every((r) => r.userId === user)).toBe(true);
    expect(rows.reduce((n, r) => n + Number(r.count), 0)).toBe(ofUser);
  });
});

/** `counts` with its keys in order, to compare as JSON. */
function sortedCounts(counts: Counts): Counts {
  return Object.fromEntries(Object.entries(counts).sort(([a], [b]) => a.localeCompare(b)));
}
