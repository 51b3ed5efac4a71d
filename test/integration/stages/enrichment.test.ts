// Enrichment and data quality on the real servers. A ClickHouse lookup's cache: a miss queries, a hit
// does not, events in flight for one key share a query, misses are cached too, and rows changed in
// ClickHouse show only once the TTL has passed; a lookup whose table is gone fails. Then a pipeline
// with user-agent, derive, file and ClickHouse lookups and quality rules: windows grouped by what the
// stages derived hold exactly the truth computed here, and broken rules are dead-lettered.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ClickHouseClient } from '@clickhouse/client';
import type { Kafka } from 'kafkajs';
import { SAMPLE_REGIONS, sampleEvents } from '../../../src/tools/produce/sample-events.js';
import { validatePipeline } from '../../../src/config/validate.js';
import { createLookup, type LookupResult } from '../../../src/stages/lookup-stage.js';
import type { StageRecord } from '../../../src/config/user-functions.js';
import { parseUserAgent } from '../../../src/stages/user-agent-stage.js';
import { tumblingWindowOf } from '../../../src/windows/tumbling.js';
import { createTopic, queryRows, readTopic, uniqueName, waitFor } from '../support/fixtures.js';
import { withProducer } from '../support/pipeline-truth.js';
import { inject } from 'vitest';
import { useTestServices } from '../support/services.js';

const ctx = {
  stage: 's',
  topic: 't',
  partition: 0,
  offset: '0',
  attempt: 1,
  signal: new AbortController().signal,
};

async function fillCountries(clickhouse: ClickHouseClient, table: string, regions: Record<string, string>) {
  await clickhouse.command({ query: `DROP TABLE IF EXISTS ${table}` });
  await clickhouse.command({
    query: `CREATE TABLE ${table} (country String, region String) ENGINE = Memory`,
  });
  await clickhouse.insert({
    table,
    values: Object.entries(regions).map(([country, region]) => ({ country, region })),
    format: 'JSONEachRow',
  });
}

describe('enrichment and data quality', () => {
  const services = useTestServices();
  let kafka: Kafka;
  let clickhouse: ClickHouseClient;
  beforeAll(() => ({ kafka, clickhouse } = services));

  it('caches ClickHouse lookups: hits, misses, shared requests, cached misses, expiry, and a failing table', async () => {
    const database = uniqueName('lookup');
    await clickhouse.command({ query: `CREATE DATABASE ${database}` });
    const table = `${database}.countries`;
    await fillCountries(clickhouse, table, { US: 'americas', DE: 'emea' });
    const clock = { now: 1_000 };
    const results: LookupResult[] = [];
    const stage = validatePipeline({
      name: 'p',
      stages: [
        {
          name: 'geo',
          type: 'lookup',
          key: 'country',
          from: { clickhouse: { table, column: 'country' } },
          into: 'geo',
          cache: { maxEntries: 100, ttl: '1m' },
        },
      ],
      windows: [{ name: 'w', type: 'tumbling', size: '1m', groupBy: ['type'] }],
    }).stages[0]!;
    if (!('type' in stage) || stage.type !== 'lookup') throw new Error('not a lookup');
    const lookup = await createLookup(stage, {
      baseDir: '.',
      clickhouse,
      observed: (r) => results.push(r),
      now: () => clock.now,
    });
    const geo = async (country: string) =>
      ((await lookup.process({ value: { country } } as StageRecord, ctx)) as { geo?: { region: string } }).geo
        ?.region;

    expect(await geo('US')).toBe('americas');
    expect(await geo('US')).toBe('americas');
    expect(results).toEqual(['miss', 'hit']);
    results.length = 0;
    // Twenty events for one new key at once: one query, the others wait for it.
    expect(await Promise.all(Array.from({ length: 20 }, () => geo('DE')))).toEqual(Array(20).fill('emea'));
    expect(results.filter((r) => r === 'miss')).toHaveLength(1);
    expect(results.filter((r) => r === 'hit')).toHaveLength(19);
    results.length = 0;

    // ClickHouse changes: the cache holds the old answers (and the miss) until the TTL has passed.
    await fillCountries(clickhouse, table, { US: 'north-america', DE: 'emea', JP: 'apac' });
    expect(await geo('JP')).toBe('apac'); // first asked after the change: fetched
    clock.now += 30_000;
    expect(await geo('US')).toBe('americas'); // still the cached answer
    expect(await geo('JP')).toBe('apac');
    clock.now += 31_000; // past the TTL of US
    expect(await geo('US')).toBe('north-america');
    expect(results).toEqual(['miss', 'hit', 'hit', 'miss']);

    // A key with no row is cached as absent; it stays absent until the TTL passes.
    results.length = 0;
    expect(await geo('FR')).toBeUndefined();
    await clickhouse.insert({ table, values: [{ country: 'FR', region: 'emea' }], format: 'JSONEachRow' });
    expect(await geo('FR')).toBeUndefined();
    clock.now += 61_000;
    expect(await geo('FR')).toBe('emea');
    expect(results).toEqual(['absent', 'absent', 'miss']);

    await clickhouse.command({ query: `DROP TABLE ${table}` });
    clock.now += 61_000;
    await expect(geo('BR')).rejects.toThrow(/lookup of BR in .*countries failed/);
  });

  it('runs a pipeline grouped by what its enrichment stages derive, dead-lettering broken quality rules', async () => {
    const name = uniqueName('enrich');
    const topic = uniqueName('enrich_events');
    const database = uniqueName('enrich');
    await createTopic(kafka, topic, 2);
    await clickhouse.command({ query: `CREATE DATABASE ${database}` });
    await fillCountries(clickhouse, `${database}.countries`, SAMPLE_REGIONS);
    const dir = mkdtempSync(join(tmpdir(), 'sluice-enrich-'));
    writeFileSync(
      join(dir, 'plans.csv'),
      'user,plan\n' +
        Array.from({ length: 50 }, (_, i) => `user-${i},${i % 3 === 0 ? 'pro' : 'free'}`).join('\n'),
    );

    const events = sampleEvents(800, Date.UTC(2026, 10, 1), 4 * 60_000, 5);
    const broken = [
      { ...events[10]!, eventId: 'bad-type-1', type: 'refund' },
      { ...events[20]!, eventId: 'bad-type-2', type: 'teleport' },
    ];
    const duplicates = [events[30]!, events[40]!, events[41]!];
    const values = [...events, ...broken, ...duplicates];
    await withProducer(kafka, (producer) =>
      producer.send({
        topic,
        acks: -1,
        messages: values.map((e) => ({ key: e.userId, value: JSON.stringify(e) })),
      }),
    );

    const config = join(dir, 'pipeline.yaml');
    writeFileSync(
      config,
      JSON.stringify({
        name,
        source: { brokers: [inject('kafkaBrokers')], topic, groupId: `sluice-${name}` },
        time: { field: 'timestamp', maxOutOfOrderness: 5_000, grace: 0, idleTimeout: '1s' },
        quality: [
          {
            rule: 'enum',
            field: 'type',
            values: ['page_view', 'click', 'add_to_cart', 'purchase'],
            severity: 'error',
          },
          { rule: 'unique', field: 'eventId', within: '10m', severity: 'error' },
          { rule: 'range', field: 'value', min: 0, max: 10_000, severity: 'warning' },
        ],
        stages: [
          { name: 'agent', type: 'user-agent' },
          { name: 'parts', type: 'derive', fields: [{ name: 'section', fn: 'url-segment', from: 'url' }] },
          { name: 'plans', type: 'lookup', key: 'userId', from: { file: 'plans.csv', column: 'user' } },
          {
            name: 'geo',
            type: 'lookup',
            key: 'country',
            from: { clickhouse: { table: `${database}.countries`, column: 'country' } },
          },
        ],
        windows: [
          {
            name: 'by_region',
            type: 'tumbling',
            size: '1m',
            groupBy: ['region', 'device', 'plan', 'section'],
          },
        ],
        sinks: { clickhouse: { url: inject('clickhouseUrl'), database } },
        http: { port: 0 },
      }),
    );
    const sluice = services.start(['run', '--config', config]);

    const truth: Record<string, number> = {};
    for (const e of events) {
      const minute = new Date(tumblingWindowOf(e.timestamp, 60_000).start).toISOString().slice(11, 16);
      const plan = Number(e.userId.split('-')[1]) % 3 === 0 ? 'pro' : 'free';
      const section = e.url.split('/').filter(Boolean)[0] ?? '';
      const key = `${minute}|${SAMPLE_REGIONS[e.country]}|${parseUserAgent(e.userAgent).device}|${plan}|${section}`;
      truth[key] = (truth[key] ?? 0) + 1;
    }
    const total = events.length;
    const counts = () =>
      queryRows<{ m: string; region: string; device: string; plan: string; section: string; n: string }>(
        clickhouse,
        `SELECT substring(toString(window_start), 12, 5) AS m, region, device, plan, section, sum(count) AS n
         FROM ${database}.by_region GROUP BY window_start, region, device, plan, section`,
      ).then((rows) =>
        Object.fromEntries(
          rows.map((r) => [`${r.m}|${r.region}|${r.device}|${r.plan}|${r.section}`, Number(r.n)]),
        ),
      );
    const found = await waitFor(
      `${total} enriched events`,
      counts,
      (c) => Object.values(c).reduce((a, b) => a + b, 0) >= total,
      90_000,
    ).catch((error: Error) => {
      throw new Error(`${error.message.slice(0, 300)}\n${sluice.output().slice(-3000)}`);
    });
    expect(found).toEqual(truth);

    const dead = await readTopic(kafka, `${topic}.dlq`, broken.length + duplicates.length);
    const reasons = dead.map((m) => String(m.headers?.['sluice.error'])).sort();
    expect(dead.every((m) => String(m.headers?.['sluice.stage']) === 'quality')).toBe(true);
    expect(reasons.filter((r) => r.includes("field 'type' (enum)"))).toHaveLength(2);
    expect(reasons.filter((r) => r.includes("field 'eventId' (unique)"))).toHaveLength(3);
    expect(await sluice.stop('SIGTERM')).toBe(0);
  });
});
