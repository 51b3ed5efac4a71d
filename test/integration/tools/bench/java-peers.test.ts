// The bench's Java peers on a small seeded topic: Kafka's consumer perf tool reads every event, and the
// Kafka Streams application's final count per (window, type, url), read committed, equals the count of
// what the test produced, for JSON and for Confluent-framed Avro. Speeds are reported, never asserted.
import avsc from 'avsc';
import type { Kafka } from 'kafkajs';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { consumerPerfToolProgram, kafkaStreamsProgram } from '../../../../src/tools/bench/java-peer-build.js';
import { runConsumerPerfTool, runKafkaStreams } from '../../../../src/tools/bench/java-peers.js';
import { sampleEvents, type SampleEvent } from '../../../../src/tools/produce/sample-events.js';
import { avroOf, framed, userEventV2 } from '../../support/avro-records.js';
import { createTopic, readTopic, testKafka, uniqueName } from '../../support/fixtures.js';

const EVENTS = 20_000;
const PARTITIONS = 2;
const WINDOW_MS = 60_000;
const SPAN_MS = 10 * 60_000;
/**
 * Longer than the span: the repartition by (type, url) interleaves the input partitions as the stream
 * thread happens to take them, so stream time can run ahead of an event by more than the jitter, and
 * an event dropped as late would make the counts differ.
 */
const GRACE_MS = 60 * 60_000;

const events = sampleEvents(EVENTS, Date.UTC(2026, 0, 1), SPAN_MS, 11);
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

/** The ground truth: events per `${windowStartMs}|${type}|${url}`, the application's output key. */
function expectedCounts(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const e of events) {
    const key = `${e.timestamp - (e.timestamp % WINDOW_MS)}|${e.type}|${e.url}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

interface CountUpdate {
  window_start_ms: number;
  type: string;
  url: string;
  count: number;
}

/** The last update per key of the output topic (read committed): each window's final count. */
async function finalCounts(kafka: Kafka, topic: string, keys: number): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const message of await readTopic(kafka, topic, keys)) {
    const key = message.key?.toString() ?? '';
    const update = JSON.parse(message.value?.toString() ?? 'null') as CountUpdate;
    expect(key).toBe(`${update.window_start_ms}|${update.type}|${update.url}`);
    counts.set(key, update.count);
  }
  return counts;
}

describe('the bench Java peers', () => {
  const kafka = testKafka();
  const brokers = [inject('kafkaBrokers')];
  const lines: string[] = [];
  const log = (line: string) => lines.push(line);

  // On a fresh machine this resolves the jars from Maven Central and compiles the application once.
  beforeAll(async () => {
    await consumerPerfToolProgram(log);
    await kafkaStreamsProgram(log);
  });

  it("Kafka's consumer perf tool reads every event and reports a rate", async () => {
    const topic = uniqueName('peers-perf');
    await produce(kafka, topic, (e) => Buffer.from(JSON.stringify(e)));
    const result = await runConsumerPerfTool({ brokers, topic, events: EVENTS, log });
    expect(result.events, lines.join('\n')).toBe(EVENTS);
    expect(result.seconds).toBeGreaterThan(0);
    expect(result.eventsPerSecond).toBeGreaterThan(0);
  });

  it.each(['json', 'avro-confluent'] as const)(
    'Kafka Streams counts %s events per (window, type, url) exactly and reports a rate',
    async (format) => {
      const topic = uniqueName(`peers-${format}`);
      const outputTopic = `${topic}-counts`;
      await produce(kafka, topic, (e) =>
        format === 'json' ? Buffer.from(JSON.stringify(e)) : framed(1, avroOf(e, avroType)),
      );
      const result = await runKafkaStreams({
        brokers,
        topic,
        outputTopic,
        applicationId: uniqueName('peers-streams'),
        format,
        events: EVENTS,
        windowMs: WINDOW_MS,
        graceMs: GRACE_MS,
        log,
      });
      expect(result.events, lines.join('\n')).toBe(EVENTS);
      expect(result.eventsPerSecond).toBeGreaterThan(0);
      const expected = expectedCounts();
      expect(await finalCounts(kafka, outputTopic, expected.size)).toEqual(expected);
    },
  );
});
