// Avro events in the Confluent wire format from producers on two versions of the schema, mixed with
// hostile records (truncated bodies, huge length prefixes, a wrong magic byte, an unknown schema id, an
// oversized value, a schema the reader cannot resolve, plain JSON): every good event counted exactly
// in ClickHouse, every hostile record in the dead-letter topic with its position and a message naming
// what is wrong, the worker running throughout, and each schema fetched once, not once per record.
// The registry goes away for a while mid-stream: records wait, none is dead-lettered for it.
import avsc from 'avsc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClickHouseClient } from '@clickhouse/client';
import type { Kafka } from 'kafkajs';
import { sampleEvents, type SampleEvent } from '../../../src/tools/produce/sample-events.js';
import { createTopic, readTopic, uniqueName, waitFor } from '../support/fixtures.js';
import {
  countingPipeline,
  groundTruth,
  waitForCounts,
  withProducer,
  type Produced,
} from '../support/pipeline-truth.js';
import { startTestRegistry, type TestRegistry } from '../support/schema-registry-server.js';
import {
  avroOf,
  framed,
  hostileRecord,
  textTimeSchema,
  userEventV1,
  userEventV2,
} from '../support/avro-records.js';
import { writeConfig } from '../support/sluice-process.js';
import { useTestServices } from '../support/services.js';

const PARTITIONS = 2;
const v2Schema = userEventV2;
const v1Schema = userEventV1;
const v2 = avsc.Type.forSchema(v2Schema as avsc.Schema);
const v1 = avsc.Type.forSchema(v1Schema as avsc.Schema);

describe('Avro input through a schema registry', () => {
  const services = useTestServices();
  let kafka: Kafka;
  let clickhouse: ClickHouseClient;
  let registry: TestRegistry;
  beforeAll(async () => {
    ({ kafka, clickhouse } = services);
    registry = await startTestRegistry();
  });
  afterAll(() => registry.close());

  it('counts every good event across schema versions and dead-letters every hostile record with its reason', async () => {
    const name = uniqueName('avro');
    const topic = uniqueName('avro_events');
    const database = uniqueName('avro');
    await createTopic(kafka, topic, PARTITIONS);
    const idV1 = await registry.register(`${topic}-value`, v1Schema);
    const idV2 = await registry.register(`${topic}-value`, v2Schema);
    // A schema whose timestamp is a string: it cannot be resolved to the reader's long.
    const idOdd = await registry.register(`${topic}-value`, textTimeSchema);
    const good = sampleEvents(600, Date.UTC(2026, 9, 1), 5 * 60_000, 61);
    const sample = avroOf(good[0]!, v2);
    const hostile: { value: Buffer; reason: RegExp }[] = [
      { value: framed(idV2, sample.subarray(0, sample.length - 7)), reason: /Avro: field '[^']+'/ },
      {
        // The properties map claims a million entries.
        value: framed(
          idV2,
          Buffer.concat([sample.subarray(0, sample.length - 1), Buffer.from([0x80, 0x89, 0x7a])]),
        ),
        reason: /field 'properties': 1000000 items/,
      },
      { value: Buffer.concat([Buffer.from([7]), sample]), reason: /magic byte 7, expected 0/ },
      { value: framed(999, sample), reason: /unknown schema id 999/ },
      { value: framed(idV2, Buffer.alloc(100_000, 1)), reason: /more than parse.maxMessageBytes \(65536\)/ },
      {
        value: hostileRecord('wrong-types', sample, { current: idV2, textTime: idOdd, noTime: -1 }, 65_536),
        reason: /cannot be read as the reader schema/,
      },
      { value: Buffer.from(JSON.stringify(good[1])), reason: /magic byte 123, expected 0/ },
      { value: framed(idV2, Buffer.alloc(0)), reason: /Avro: field 'eventId'/ },
    ];

    const config = writeConfig({
      ...countingPipeline({ name, topic, database, idleTimeout: '1s' }),
      parse: {
        format: 'avro-confluent',
        registry: { url: registry.url, timeout: '1s' },
        maxMessageBytes: 65_536,
      },
    });
    const sluice = services.start(['run', '--config', config]);

    // Half the good events before the registry goes away, half after it is back.
    const produced: Produced[] = [];
    const poisonAt: { partition: number; offset: string; reason: RegExp }[] = [];
    const send = (events: SampleEvent[], withHostile: boolean) =>
      withProducer(kafka, async (producer) => {
        for (let partition = 0; partition < PARTITIONS; partition += 1) {
          const mine = events.filter((_, i) => i % PARTITIONS === partition);
          const values: { value: Buffer; event?: SampleEvent; reason?: RegExp }[] = mine.map((event, i) => ({
            event,
            value: framed(i % 2 === 0 ? idV1 : idV2, avroOf(event, i % 2 === 0 ? v1 : v2)),
          }));
          if (withHostile)
            hostile.forEach((h, i) => values.splice(5 + i * 17, 0, { value: h.value, reason: h.reason }));
          const [meta] = await producer.send({
            topic,
            acks: -1,
            messages: values.map((v) => ({ partition, value: v.value })),
          });
          const base = BigInt(meta!.baseOffset!);
          values.forEach((v, i) => {
            const offset = base + BigInt(i);
            // Version-1 writers have no country: the reader's default applies (the count is by type and url).
            if (v.event) produced.push({ partition, offset, event: v.event });
            else poisonAt.push({ partition, offset: String(offset), reason: v.reason! });
          });
        }
      });
    await send(good.slice(0, 300), true);
    await waitFor(
      'the first records to be counted',
      () => Promise.resolve(sluice.output()),
      (o) => o.includes('state restored'),
      60_000,
    );
    registry.setDown(true);
    // A schema id the worker has not seen yet, while the registry is down: its records must wait.
    const idLater = await (async () => {
      registry.setDown(false);
      const id = await registry.register(`${topic}-value`, {
        ...v2Schema,
        doc: 'same fields, new id',
      });
      registry.setDown(true);
      return id;
    })();
    const later = good.slice(300);
    await withProducer(kafka, async (producer) => {
      for (let partition = 0; partition < PARTITIONS; partition += 1) {
        const mine = later.filter((_, i) => i % PARTITIONS === partition);
        const [meta] = await producer.send({
          topic,
          acks: -1,
          messages: mine.map((event) => ({ partition, value: framed(idLater, avroOf(event, v2)) })),
        });
        mine.forEach((event, i) =>
          produced.push({ partition, offset: BigInt(meta!.baseOffset!) + BigInt(i), event }),
        );
      }
    });
    await waitFor(
      'the worker to report the registry unavailable',
      () => Promise.resolve(sluice.output()),
      (o) => o.includes('schema registry unavailable'),
      30_000,
    );
    registry.setDown(false);

    const expected = groundTruth(produced);
    const found = await waitForCounts(clickhouse, database, expected).catch((error: Error) => {
      throw new Error(`${error.message.slice(0, 300)}\n--- sluice ---\n${sluice.output().slice(-3000)}`);
    });
    expect(found).toEqual(expected);

    const dead = await readTopic(kafka, `${topic}.dlq`, poisonAt.length);
    expect(dead).toHaveLength(poisonAt.length);
    for (const poison of poisonAt) {
      const letter = dead.find(
        (m) =>
          String(m.headers?.['sluice.source.partition']) === String(poison.partition) &&
          String(m.headers?.['sluice.source.offset']) === poison.offset,
      );
      expect(letter, `dead letter for ${poison.partition}@${poison.offset}`).toBeDefined();
      expect(String(letter!.headers?.['sluice.stage'])).toBe('parse');
      expect(String(letter!.headers?.['sluice.error'])).toMatch(poison.reason);
    }
    // Schemas were fetched per id, not per record (a fetch may repeat only while the registry was down).
    expect(registry.lookups.get(idV1)).toBe(1);
    expect(registry.lookups.get(idV2)).toBe(1);
    expect(sluice.child.exitCode).toBeNull();
    expect(await sluice.stop('SIGTERM')).toBe(0);
  });
});
