// Fault scenario: hostile input. Avro events from producers on two schema versions (all three window
// types, out of order, some late), with malformed records of every kind mixed in (truncated Avro, huge
// length prefixes, a wrong magic byte, an unknown schema id, invalid JSON, oversized values, wrong
// types, no event time): the worker never crashes, every hostile record is in the dead-letter topic
// with its position, and every good event is counted exactly (ClickHouse's views against the reference).
import avsc from 'avsc';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ClickHouseClient } from '@clickhouse/client';
import type { Kafka } from 'kafkajs';
import { sampleEvents } from '../../src/tools/produce/sample-events.js';
import {
  HOSTILE_KINDS,
  avroOf,
  framed,
  hostileRecord,
  noTimeSchema,
  textTimeSchema,
  userEventV1,
  userEventV2,
} from '../integration/support/avro-records.js';
import { withProducer, type Produced } from '../integration/support/pipeline-truth.js';
import { startTestRegistry, type TestRegistry } from '../integration/support/schema-registry-server.js';
import { useTestServices } from '../integration/support/services.js';
import { MemoryWatch, PARTITIONS, verdict, expectExact, scenarioPipeline } from './fault-scenario.js';
import { FULL } from './scenario-report.js';

const GOOD_PER_PARTITION = FULL ? 10_000 : 1_000;
const HOSTILE_TOTAL = FULL ? 10_000 : 800;
const MAX_MESSAGE_BYTES = 16_384;

describe('fault scenario: hostile input', () => {
  const services = useTestServices();
  let kafka: Kafka;
  let clickhouse: ClickHouseClient;
  let registry: TestRegistry;
  beforeAll(async () => {
    ({ kafka, clickhouse } = services);
    registry = await startTestRegistry();
  });
  afterAll(() => registry.close());

  it(
    `survives ${HOSTILE_TOTAL} hostile records among ${PARTITIONS * GOOD_PER_PARTITION} events`,
    async () => {
      const { topic, database, groupId, config } = await scenarioPipeline(kafka, 'hostile', {
        brokers: inject('kafkaBrokers'),
        clickhouseUrl: inject('clickhouseUrl'),
        extra: {
          parse: {
            format: 'avro-confluent',
            registry: { url: registry.url },
            maxMessageBytes: MAX_MESSAGE_BYTES,
          },
        },
      });
      const subject = `${topic}-value`;
      const ids = {
        v1: await registry.register(subject, userEventV1),
        current: await registry.register(subject, userEventV2),
        textTime: await registry.register(subject, textTimeSchema),
        noTime: await registry.register(subject, noTimeSchema),
      };
      const v1 = avsc.Type.forSchema(userEventV1 as avsc.Schema);
      const v2 = avsc.Type.forSchema(userEventV2 as avsc.Schema);
      const memory = new MemoryWatch();
      const sluice = services.start(['run', '--config', config]);
      memory.watch(sluice.child.pid);

      // Each partition: its events in order with 8 s of jitter (some late), hostile records spread among them.
      const produced: Produced[] = [];
      const hostileAt = new Set<string>();
      await withProducer(kafka, async (producer) => {
        for (let partition = 0; partition < PARTITIONS; partition += 1) {
          const events = sampleEvents(
            GOOD_PER_PARTITION,
            Date.UTC(2026, 5, 1),
            30 * 60_000,
            900 + partition,
            8_000,
          );
          const values: { value: Buffer; event?: (typeof events)[number] }[] = events.map((event, i) => ({
            event,
            value: i % 3 === 0 ? framed(ids.v1, avroOf(event, v1)) : framed(ids.current, avroOf(event, v2)),
          }));
          const hostileHere =
            Math.floor(HOSTILE_TOTAL / PARTITIONS) + (partition < HOSTILE_TOTAL % PARTITIONS ? 1 : 0);
          const good = avroOf(events[0]!, v2);
          for (let h = 0; h < hostileHere; h += 1) {
            const kind = HOSTILE_KINDS[h % HOSTILE_KINDS.length]!;
            const at = Math.floor(((h + 0.5) * values.length) / hostileHere);
            values.splice(at, 0, { value: hostileRecord(kind, good, ids, MAX_MESSAGE_BYTES) });
          }
          for (let i = 0; i < values.length; i += 500) {
            const chunk = values.slice(i, i + 500);
            const [meta] = await producer.send({
              topic,
              acks: -1,
              messages: chunk.map((v) => ({ partition, value: v.value })),
            });
            chunk.forEach((v, k) => {
              const offset = BigInt(meta!.baseOffset!) + BigInt(k);
              if (v.event) produced.push({ partition, offset, event: v.event });
              else hostileAt.add(`${partition}@${offset}`);
            });
          }
        }
      });

      const result = await verdict({
        scenario: 'hostile input',
        kafka,
        clickhouse,
        topic,
        database,
        groupId,
        produced,
        memory,
        otherRecords: hostileAt.size,
        deadLetters: hostileAt.size,
      });
      expectExact(result);
      expect(result.deadAt).toEqual(hostileAt);
      expect(result.lateExpected.size).toBeGreaterThan(0);
      expect(sluice.child.exitCode).toBeNull();
      expect(await sluice.stop('SIGTERM')).toBe(0);
    },
    FULL ? 900_000 : 300_000,
  );
});
