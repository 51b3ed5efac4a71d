// The Kafka sink on its own (ClickHouse off), at-least-once: window results in Avro, one topic per
// window, keyed by the group key, decoded with the schema `sluice schemas` prints; counts match the
// events produced. (Exactly-once output under SIGKILLs is checked by the crash-recovery test.)
import avro from 'avsc';
import { describe, expect, inject, it } from 'vitest';
import { definePipeline, run } from '../../../src/index.js';
import { createTopic, readTopic, testKafka, uniqueName } from '../support/fixtures.js';
import { captureLog } from '../support/log-capture.js';
import {
  countKey,
  groundTruth,
  produceEvents,
  withProducer,
  type Counts,
} from '../support/pipeline-truth.js';
import { runSluice, writeConfig } from '../support/sluice-process.js';

const PARTITIONS = 2;
const BASE = Date.UTC(2026, 5, 1);

describe('Kafka output sink', () => {
  it('writes each window to its own topic in Avro, keyed by the group key, decodable with `sluice schemas`', async () => {
    const kafka = testKafka();
    const name = uniqueName('output');
    const topic = uniqueName('user_events');
    await createTopic(kafka, topic, PARTITIONS);
    const config = {
      name,
      source: { brokers: [inject('kafkaBrokers')], topic, groupId: `sluice-${name}` },
      time: { field: 'timestamp', idleTimeout: '1s' },
      processing: { guarantee: 'at-least-once' as const },
      windows: [
        { name: 'by_page', type: 'tumbling' as const, size: '1m', groupBy: ['type', 'url'] },
        {
          name: 'by_type',
          type: 'tumbling' as const,
          size: '1m',
          groupBy: ['type'],
          aggregations: [{ fn: 'sum' as const, field: 'value' }],
        },
      ],
      sinks: {
        clickhouse: { enabled: false },
        kafka: {
          topic: `${topic}.{window}`,
          format: 'avro' as const,
          batch: { maxSize: 50, maxWaitMs: 200 },
        },
      },
      http: { port: 0 },
    };
    const schemas = await runSluice(['schemas', '--config', writeConfig(config)]);
    expect(schemas.code).toBe(0);
    const types = new Map(
      schemas.output
        .trim()
        .split('\n')
        .map((line) => {
          const schema = JSON.parse(line) as { name: string };
          return [schema.name.replace(/_result$/, ''), avro.Type.forSchema(schema as avro.Schema)];
        }),
    );
    expect([...types.keys()].sort()).toEqual(['by_page', 'by_type']);

    const running = await run(definePipeline(config), { logger: captureLog().logger });
    try {
      const produced = await withProducer(kafka, (producer) =>
        produceEvents(producer, topic, {
          partitions: PARTITIONS,
          perPartition: 300,
          base: BASE,
          span: 5 * 60_000,
          seed: 31,
        }),
      );
      const expected = groundTruth(produced);

      // One row per (window, type, url): the windows are re-keyed (no source.keyedBy).
      const pageKeys = new Set(
        produced.map((p) => `${Math.floor(p.event!.timestamp / 60_000)}|${p.event!.type}|${p.event!.url}`),
      );
      const pages: Counts = {};
      for (const message of await readTopic(kafka, `${topic}.by_page`, pageKeys.size)) {
        const row = types.get('by_page')!.fromBuffer(message.value!) as Record<string, string | number>;
        expect(message.key?.toString()).toBe(JSON.stringify([row.type, row.url]));
        expect(message.headers?.['sluice.format']?.toString()).toBe('avro');
        const key = countKey(Number(row.window_start_ms), String(row.type), String(row.url));
        pages[key] = (pages[key] ?? 0) + Number(row.count);
      }
      expect(pages).toEqual(expected);

      const byType = new Map<string, { count: number; sum: number }>();
      for (const p of produced) {
        const key = `${Math.floor(p.event!.timestamp / 60_000) * 60_000}|${p.event!.type}`;
        const entry = byType.get(key) ?? { count: 0, sum: 0 };
        entry.count += 1;
        entry.sum += p.event!.value;
        byType.set(key, entry);
      }
      const typeRows = await readTopic(
        kafka,
        `${topic}.by_type`,
        new Set(produced.map((p) => `${Math.floor(p.event!.timestamp / 60_000)}|${p.event!.type}`)).size,
      );
      const foundByType = new Map<string, { count: number; sum: number }>();
      for (const message of typeRows) {
        const row = types.get('by_type')!.fromBuffer(message.value!) as Record<string, string | number>;
        const key = `${row.window_start_ms}|${row.type}`;
        const entry = foundByType.get(key) ?? { count: 0, sum: 0 };
        entry.count += Number(row.count);
        entry.sum += Number(row.sum_value);
        foundByType.set(key, entry);
      }
      expect([...foundByType.keys()].sort()).toEqual([...byType.keys()].sort());
      for (const [key, entry] of byType) {
        expect(foundByType.get(key)?.count).toBe(entry.count);
        expect(foundByType.get(key)?.sum).toBeCloseTo(entry.sum, 6);
      }
    } finally {
      await running.stop();
    }
  });
});
