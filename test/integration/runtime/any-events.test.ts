// Events that are not user events, against the real broker and ClickHouse: flat sensor readings with
// epoch-millisecond times (no declaration), nested device readings with epoch seconds (fields by dotted
// path), the same readings as Avro records of a reader schema, and orders with ISO-8601 times checked
// against a JSON Schema, on a topic of three partitions keyed by random ids: every window is re-keyed by
// its group key. Every window comes out equal to a count made here from the produced events, read with
// a plain SELECT from the window's view (one row per window and key), and every record with a missing
// or mistyped field is in the dead-letter topic, the field named.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClickHouseClient } from '@clickhouse/client';
import avsc from 'avsc';
import type { IHeaders, Kafka } from 'kafkajs';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import type { PipelineInput } from '../../../src/config/schema.js';
import { definePipeline, run } from '../../../src/index.js';
import { createTopic, queryRows, readTopic, uniqueName, waitFor } from '../support/fixtures.js';
import { captureLog } from '../support/log-capture.js';
import { useTestServices } from '../support/services.js';

const BASE = Date.UTC(2026, 10, 30, 8);
const MINUTE = 60_000;

interface Shape {
  /** The pipeline, given its topic and database. */
  pipeline(topic: string, database: string): PipelineInput;
  /** The good events: value, event time, group key, and the number the window sums. */
  good: { value: unknown; t: number; key: string; amount: number }[];
  /** Records that must be dead-lettered, with the words their error must hold. */
  bad: { value: unknown; error: string }[];
  /** The window's table and its group-by column. */
  table: string;
  keyColumn: string;
  sumColumn: string;
  /** How a value is written to the topic: JSON unless the shape says otherwise (Avro). */
  encode?: (value: unknown) => Buffer | string;
}

function header(headers: IHeaders | undefined, name: string): string | undefined {
  const value = headers?.[name];
  return (Array.isArray(value) ? value.at(-1) : value)?.toString();
}

const common = (topic: string, database: string) => ({
  source: { brokers: [inject('kafkaBrokers')], topic, fromBeginning: true },
  sinks: { clickhouse: { url: inject('clickhouseUrl'), database } },
  http: { port: 0 },
});

function flat(): Shape {
  const good = Array.from({ length: 60 }, (_, i) => ({
    sensor: `s${i % 3}`,
    temperature: 15 + (i % 7),
    ts: BASE + i * 5_000,
  }));
  return {
    pipeline: (topic, database) => ({
      name: uniqueName('flat'),
      ...common(topic, database),
      time: { field: 'ts', format: 'epoch-millis', idleTimeout: '1s' },
      windows: [
        {
          name: 'by_sensor',
          type: 'tumbling',
          size: '1m',
          groupBy: ['sensor'],
          aggregations: [{ fn: 'sum', field: 'temperature' }],
        },
      ],
    }),
    good: good.map((e) => ({ value: e, t: e.ts, key: e.sensor, amount: e.temperature })),
    bad: [
      {
        value: { temperature: 20, ts: BASE },
        error:
          "field 'sensor': expected a string, number or boolean (groupBy of window by_sensor), found nothing",
      },
      {
        value: { sensor: 's1', temperature: 'warm', ts: BASE },
        error: 'field \'temperature\': expected a number (sum of window by_sensor), found "warm"',
      },
      {
        value: { sensor: 's1', temperature: 20 },
        error: "field 'ts': expected epoch milliseconds, found nothing",
      },
      { value: [1, 2, 3], error: 'expected a JSON object, found [1,2,3]' },
    ],
    table: 'by_sensor',
    keyColumn: 'sensor',
    sumColumn: 'sum_temperature',
  };
}

function nested(): Shape {
  const good = Array.from({ length: 60 }, (_, i) => ({
    kind: i % 2 === 0 ? 'thermo' : 'hygro',
    device: { id: `d${i % 4}`, site: i % 3 === 0 ? 'north' : 'south' },
    reading: { celsius: 10 + (i % 5) },
    at: Math.floor((BASE + i * 4_000) / 1000),
  }));
  return {
    pipeline: (topic, database) => ({
      name: uniqueName('nested'),
      ...common(topic, database),
      time: { field: 'at', format: 'epoch-seconds', idleTimeout: '1s' },
      windows: [
        {
          name: 'by_site',
          type: 'sliding',
          size: '2m',
          advance: '1m',
          groupBy: ['kind', 'device.site'],
          aggregations: [{ fn: 'sum', field: 'reading.celsius', name: 'celsius' }],
        },
      ],
    }),
    // Sliding: each event counts in two windows; the check below spreads it.
    good: good.map((e) => ({
      value: e,
      t: e.at * 1000,
      key: `${e.kind}/${e.device.site}`,
      amount: e.reading.celsius,
    })),
    bad: [
      {
        value: { kind: 'thermo', device: { site: 'north' }, reading: { celsius: '12' }, at: BASE / 1000 },
        error: 'field \'reading.celsius\': expected a number (sum of window by_site), found "12"',
      },
      {
        value: { kind: 'thermo', device: { site: 'north' }, reading: { celsius: 12 }, at: 'noon' },
        error: 'field \'at\': expected epoch seconds, found "noon"',
      },
      {
        value: { kind: 'thermo', device: { id: 'd9' }, reading: { celsius: 12 }, at: BASE / 1000 },
        error:
          "field 'device.site': expected a string, number or boolean (groupBy of window by_site), found nothing",
      },
    ],
    table: 'by_site',
    // The nested group-by field's column: its path with underscores.
    keyColumn: "concat(kind, '/', device_site)",
    sumColumn: 'celsius',
  };
}

/** The nested readings again, as Avro records of their reader schema (a Buffer is a record that is not one). */
function nestedAvro(): Shape {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-avro-'));
  const schema = {
    type: 'record',
    name: 'Reading',
    fields: [
      { name: 'kind', type: 'string' },
      {
        name: 'device',
        type: { type: 'record', name: 'Device', fields: [{ name: 'site', type: ['null', 'string'] }] },
      },
      {
        name: 'reading',
        type: { type: 'record', name: 'Measure', fields: [{ name: 'celsius', type: 'double' }] },
      },
      { name: 'at', type: 'long' },
    ],
  };
  writeFileSync(join(dir, 'reading.avsc'), JSON.stringify(schema));
  const type = avsc.Type.forSchema(schema as avsc.Schema);
  const json = nested();
  return {
    ...json,
    pipeline: (topic, database) => ({
      ...json.pipeline(topic, database),
      name: uniqueName('avro'),
      parse: { format: 'avro', schema: join(dir, 'reading.avsc') },
    }),
    bad: [
      {
        value: { kind: 'thermo', device: { site: null }, reading: { celsius: 12 }, at: BASE / 1000 },
        error: "field 'device.site': expected a string, number or boolean (groupBy of window by_site)",
      },
      { value: Buffer.from([0x02, 0x41]), error: 'parse' },
    ],
    encode: (value) => (Buffer.isBuffer(value) ? value : type.toBuffer(value)),
  };
}

function orders(): Shape {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-orders-'));
  writeFileSync(
    join(dir, 'order.schema.json'),
    JSON.stringify({
      type: 'object',
      required: ['order', 'shop', 'amount', 'placedAt'],
      properties: {
        order: { type: 'string' },
        shop: { type: 'string' },
        amount: { type: 'number', minimum: 0 },
        placedAt: { type: 'string', format: 'date-time' },
      },
    }),
  );
  const good = Array.from({ length: 40 }, (_, i) => ({
    order: `o${i}`,
    shop: i % 3 === 0 ? 'berlin' : 'paris',
    amount: 5 + i,
    placedAt: new Date(BASE + i * 9_000).toISOString(),
  }));
  return {
    pipeline: (topic, database) => ({
      name: uniqueName('orders'),
      ...common(topic, database),
      parse: { events: 'json-schema', eventSchema: join(dir, 'order.schema.json') },
      time: { field: 'placedAt', format: 'iso-8601', idleTimeout: '1s' },
      windows: [
        {
          name: 'by_shop',
          type: 'tumbling',
          size: '1m',
          groupBy: ['shop'],
          aggregations: [{ fn: 'sum', field: 'amount' }],
        },
      ],
    }),
    good: good.map((e) => ({ value: e, t: Date.parse(e.placedAt), key: e.shop, amount: e.amount })),
    bad: [
      {
        value: { order: 'x1', shop: 'paris', placedAt: new Date(BASE).toISOString() },
        error: "field 'amount': expected a value (required by the event schema), found nothing",
      },
      {
        value: { order: 'x2', shop: 'paris', amount: -3, placedAt: new Date(BASE).toISOString() },
        error: "field 'amount': expected >= 0, found -3",
      },
    ],
    table: 'by_shop',
    keyColumn: 'shop',
    sumColumn: 'sum_amount',
  };
}

/** count and sum per `window start|key`, tumbling (size) or sliding (size, advance). */
function truthOf(shape: Shape, size: number, advance = size): Map<string, { count: number; sum: number }> {
  const rows = new Map<string, { count: number; sum: number }>();
  for (const e of shape.good) {
    for (let start = Math.floor(e.t / advance) * advance; start > e.t - size; start -= advance) {
      const id = `${start}|${e.key}`;
      const row = rows.get(id) ?? { count: 0, sum: 0 };
      row.count += 1;
      row.sum += e.amount;
      rows.set(id, row);
    }
  }
  return rows;
}

describe('any events', () => {
  const services = useTestServices();
  let kafka: Kafka;
  let clickhouse: ClickHouseClient;
  beforeAll(() => ({ kafka, clickhouse } = services));

  it.each([
    ['flat readings, epoch milliseconds, no declaration', flat, MINUTE, MINUTE],
    ['nested readings, epoch seconds, dotted paths (a nested group-by too)', nested, 2 * MINUTE, MINUTE],
    ['orders, ISO-8601 times, a JSON Schema', orders, MINUTE, MINUTE],
    ['nested readings as Avro records of a reader schema', nestedAvro, 2 * MINUTE, MINUTE],
  ] as const)(
    '%s: every window exact, every bad record dead-lettered naming its field',
    async (_, make, size, advance) => {
      const shape = make();
      const topic = uniqueName('shapes');
      const database = uniqueName('shapes');
      await createTopic(kafka, topic, 3);
      const producer = kafka.producer();
      await producer.connect();
      // Bad records among the good, keyed by a random id (nothing relies on the key).
      const values = shape.good.map((g) => g.value);
      shape.bad.forEach((b, i) => values.splice(5 + i * 7, 0, b.value));
      await producer.send({
        topic,
        messages: values.map((value) => ({
          key: Math.random().toString(36).slice(2),
          value: shape.encode ? shape.encode(value) : JSON.stringify(value),
        })),
      });
      await producer.disconnect();

      const pipeline = await run(definePipeline(shape.pipeline(topic, database)), {
        logger: captureLog().logger,
      });
      try {
        const truth = truthOf(shape, size, advance);
        const query = () =>
          queryRows<{ start: string; key: string; count: string; sum: string }>(
            clickhouse,
            `SELECT toString(window_start_ms) AS start, ${shape.keyColumn} AS key, count, ${shape.sumColumn} AS sum
           FROM ${database}.${shape.table}`,
          ).catch(() => []);
        const rows = await waitFor('every window', query, (r) => r.length >= truth.size, 60_000).catch(query);
        const found = new Map(
          rows.map((r) => [`${r.start}|${r.key}`, { count: Number(r.count), sum: Number(r.sum) }]),
        );
        expect(found).toEqual(truth);

        const letters = await readTopic(kafka, `${topic}.dlq`, shape.bad.length);
        expect(letters).toHaveLength(shape.bad.length);
        const errors = letters.map((l) => header(l.headers, 'sluice.error') ?? '');
        for (const bad of shape.bad)
          expect(
            errors.some((e) => e.includes(bad.error)),
            `${bad.error} in ${errors.join(' | ')}`,
          ).toBe(true);
      } finally {
        await pipeline.stop();
      }
    },
  );
});
