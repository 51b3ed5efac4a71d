// The bench's Flink peer on a small seeded topic: its rows in the output topic, read committed, equal
// the ground truth computed here from what the test produced: the simple count per (window, type, url)
// on JSON, and on Confluent-framed Avro the full job's three windows (tumbling counts per (type, url),
// sliding sums per region looked up in ClickHouse, sessions per user), counts exact, sums to the
// float. Speeds are reported, never asserted.
import avsc from 'avsc';
import type { Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { flinkProgram } from '../../../../src/tools/bench/java-peer-build.js';
import { runFlink } from '../../../../src/tools/bench/flink-peer.js';
import {
  SAMPLE_REGIONS,
  sampleEvents,
  type SampleEvent,
} from '../../../../src/tools/produce/sample-events.js';
import { avroOf, framed, userEventV2 } from '../../support/avro-records.js';
import { createTopic, readTopic, testClickHouse, testKafka, uniqueName } from '../../support/fixtures.js';

const EVENTS = 20_000;
const PARTITIONS = 2;
const MINUTE = 60_000;
const SESSION_GAP_MS = 30_000;
// A Flink run starts a mini-cluster and waits up to 240 s for its tasks on a loaded machine.
const FLINK_TIMEOUT_MS = 420_000;

const events = sampleEvents(EVENTS, Date.UTC(2026, 0, 1), 10 * MINUTE, 11);
const avroType = avsc.Type.forSchema(userEventV2 as avsc.Schema);

async function produce(kafka: Kafka, topic: string, encode: (event: SampleEvent) => Buffer): Promise<void> {
  await createTopic(kafka, topic, PARTITIONS);
  const producer = kafka.producer();
  await producer.connect();
  try {
    for (let i = 0; i < events.length; i += 2_000) {
      const messages = events.slice(i, i + 2_000).map((e) => ({ key: e.userId, value: encode(e) }));
      await producer.send({ topic, messages });
    }
  } finally {
    await producer.disconnect();
  }
}

interface Totals {
  count: number;
  sum: number;
}

const startOf = (t: number, size: number) => t - (t % size);

function add(rows: Map<string, Totals>, key: string, event: SampleEvent): void {
  const totals = rows.get(key) ?? { count: 0, sum: 0 };
  totals.count += 1;
  totals.sum += event.value;
  rows.set(key, totals);
}

/** The full job's rows by output key (`window|start|key`), from the events alone. */
function expectedFullRows(): Map<string, Totals> {
  const rows = new Map<string, Totals>();
  const byUser = new Map<string, SampleEvent[]>();
  for (const e of events) {
    add(rows, `counts|${startOf(e.timestamp, MINUTE)}|${e.type}|${e.url}`, e);
    const region = SAMPLE_REGIONS[e.country] ?? '';
    // A 5-minute window every minute: the five whose start is at most 4 minutes before the event's minute.
    for (let k = 0; k < 5; k += 1)
      add(rows, `regions_5m|${startOf(e.timestamp, MINUTE) - k * MINUTE}|${region}`, e);
    byUser.set(e.userId, [...(byUser.get(e.userId) ?? []), e]);
  }
  // Sessions: each event spans [t, t + gap]; Flink merges spans that meet, so a session ends where the
  // next event of the user comes more than the gap after the last.
  for (const [user, list] of byUser) {
    const sorted = [...list].sort((a, b) => a.timestamp - b.timestamp);
    let start = sorted[0]!.timestamp;
    let last = start;
    for (const e of sorted) {
      if (e.timestamp - last > SESSION_GAP_MS) start = e.timestamp;
      last = e.timestamp;
      add(rows, `sessions|${start}|${user}`, e);
    }
  }
  return rows;
}

/** The output topic's rows by key; each window fires once, so each key comes once. */
async function outputRows(kafka: Kafka, topic: string, keys: number): Promise<Map<string, unknown>> {
  const rows = new Map<string, unknown>();
  for (const message of await readTopic(kafka, topic, keys)) {
    const key = message.key?.toString() ?? '';
    expect(rows.has(key), `${key} came twice`).toBe(false);
    rows.set(key, JSON.parse(message.value?.toString() ?? 'null'));
  }
  return rows;
}

describe('the bench Flink peer', () => {
  const kafka = testKafka();
  const brokers = [inject('kafkaBrokers')];
  const clickhouse = testClickHouse();
  const database = uniqueName('flink_peer').replace(/[^A-Za-z0-9_]/g, '_');
  const lines: string[] = [];
  const log = (line: string) => lines.push(line);

  // On a fresh machine this resolves Flink's jars from Maven Central and compiles the job once.
  beforeAll(async () => {
    await flinkProgram(log);
    await clickhouse.command({ query: `CREATE DATABASE ${database}` });
    await clickhouse.command({
      query: `CREATE TABLE ${database}.regions (country String, region String) ENGINE = MergeTree ORDER BY country`,
    });
    await clickhouse.insert({
      table: `${database}.regions`,
      values: Object.entries(SAMPLE_REGIONS).map(([country, region]) => ({ country, region })),
      format: 'JSONEachRow',
    });
  });
  afterAll(async () => {
    await clickhouse.command({ query: `DROP DATABASE IF EXISTS ${database}` });
    await clickhouse.close();
  });

  it(
    'counts JSON events per (window, type, url) exactly, once per window, and reports a rate',
    async () => {
      const topic = uniqueName('flink-json');
      const outputTopic = `${topic}-counts`;
      await produce(kafka, topic, (e) => Buffer.from(JSON.stringify(e)));
      const result = await runFlink({
        brokers,
        topic,
        outputTopic,
        applicationId: uniqueName('peers-flink'),
        format: 'json',
        events: EVENTS,
        windowMs: MINUTE,
        log,
      });
      expect(result.events, lines.join('\n')).toBe(EVENTS);
      expect([result.eventsPerSecond > 0, result.cpuSeconds! > 0, result.late]).toEqual([true, true, 0]);
      const expected = new Map<string, number>();
      for (const e of events) {
        const key = `${startOf(e.timestamp, MINUTE)}|${e.type}|${e.url}`;
        expected.set(key, (expected.get(key) ?? 0) + 1);
      }
      const rows = await outputRows(kafka, outputTopic, expected.size);
      const found = new Map<string, number>();
      for (const [key, row] of rows) {
        const update = row as { window_start_ms: number; type: string; url: string; count: number };
        expect(key).toBe(`${update.window_start_ms}|${update.type}|${update.url}`);
        found.set(key, update.count);
      }
      expect(found).toEqual(expected);
      expect(result.windows).toEqual({ counts: { rows: expected.size, events: EVENTS } });
    },
    FLINK_TIMEOUT_MS,
  );

  it(
    "does the full pipeline's job on framed Avro: every window's count exact, its sum to the float",
    async () => {
      const topic = uniqueName('flink-avro');
      const outputTopic = `${topic}-rows`;
      await produce(kafka, topic, (e) => framed(1, avroOf(e, avroType)));
      const result = await runFlink({
        brokers,
        topic,
        outputTopic,
        applicationId: uniqueName('peers-flink-full'),
        format: 'avro-confluent',
        events: EVENTS,
        windowMs: MINUTE,
        job: 'full',
        lookup: { url: inject('clickhouseUrl'), table: `${database}.regions` },
        log,
      });
      expect([result.events, result.late], lines.join('\n')).toEqual([EVENTS, 0]);
      const expected = expectedFullRows();
      const rows = await outputRows(kafka, outputTopic, expected.size);
      expect([...rows.keys()].sort()).toEqual([...expected.keys()].sort());
      for (const [key, totals] of expected) {
        const row = rows.get(key) as {
          window: string;
          window_start_ms: number;
          key: string;
          count: number;
          sum_value: number;
        };
        expect(key).toBe(`${row.window}|${row.window_start_ms}|${row.key}`);
        expect(row.count, key).toBe(totals.count);
        expect(row.sum_value, key).toBeCloseTo(totals.sum, 6);
      }
      const kinds = ['counts', 'regions_5m', 'sessions'];
      expect(result.windows).toEqual(
        Object.fromEntries(
          kinds.map((kind) => [
            kind,
            {
              rows: [...expected.keys()].filter((k) => k.startsWith(`${kind}|`)).length,
              events: kind === 'regions_5m' ? 5 * EVENTS : EVENTS,
            },
          ]),
        ),
      );
    },
    FLINK_TIMEOUT_MS,
  );
});
