// The bench's input: a seeded stream of synthetic user events, encoded as JSON (the simple pipeline's
// topic) or as plain Avro binary with the shipped user-event schema (the full pipeline's topic; no
// registry framing, since no registry runs on the local stack), produced as fast as the broker takes
// it. The same seed gives the same events in both topics.
import { readFileSync } from 'node:fs';
import avsc from 'avsc';
import type { Kafka } from 'kafkajs';
import { producePaced } from '../produce/paced-producer.js';
import { userEventStream, type SampleEvent } from '../produce/sample-events.js';
import type { FeedRecord } from '../produce/synthetic-feed.js';
import { DEFAULT_READER_SCHEMA } from '../../stages/record-decoders.js';
import { result, type BenchResult } from './bench-report.js';

export type BenchFormat = BenchResult['topic'];

/** Records per send: with a few partitions, a request's batch per partition stays under the broker's 1 MB. */
const BATCH = 2_500;
/** Event time advances 10 ms per event, so a 1-minute window holds 6,000 events. */
const STEP_MS = 10;
const USERS = 5_000;

/** Encodes user events with the shipped Avro schema: every field it names, absent ones as null. */
export function avroEncoder(): (event: SampleEvent) => Buffer {
  const type = avsc.Type.forSchema(JSON.parse(readFileSync(DEFAULT_READER_SCHEMA, 'utf8')) as avsc.Schema);
  const fields = (type as avsc.Type & { fields: { name: string }[] }).fields.map((f) => f.name);
  return (event) => {
    const source = event as unknown as Record<string, unknown>;
    return type.toBuffer(Object.fromEntries(fields.map((name) => [name, source[name] ?? null])));
  };
}

/** Where the bench stream's event time starts unless told: a fixed day, so every run reads the same events. */
export const BENCH_EVENT_TIME_FROM = Date.UTC(2026, 0, 1);

export function* benchFeed(
  seed: number,
  format: BenchFormat,
  from = BENCH_EVENT_TIME_FROM,
): Generator<FeedRecord> {
  const encode = format === 'avro' ? avroEncoder() : (e: SampleEvent) => Buffer.from(JSON.stringify(e));
  for (const event of userEventStream(seed, (i) => from + i * STEP_MS, 2_000, USERS))
    yield { kind: 'event', key: event.userId, value: encode(event) };
}

export interface ProduceOptions {
  events: number;
  seed: number;
  format: BenchFormat;
  /**
   * Event time of the first event (ms); the same events otherwise. A pipeline that waited on an empty
   * topic has let its idle watermark follow the wall clock: events from before then would all be late.
   */
  eventTimeFrom?: number;
  log: (line: string) => void;
}

/** Produces the bench stream to `topic` (created beforehand), keyed by user. */
export async function produceBenchTopic(
  kafka: Kafka,
  topic: string,
  options: ProduceOptions,
): Promise<BenchResult> {
  let lastLog = performance.now();
  const totals = await producePaced(kafka, benchFeed(options.seed, options.format, options.eventTimeFrom), {
    topic,
    count: options.events,
    batchSize: BATCH,
    onProgress: (t) => {
      if (performance.now() - lastLog < 5_000) return;
      lastLog = performance.now();
      options.log(
        `  produced ${t.sent.toLocaleString('en-US')} of ${options.events.toLocaleString('en-US')}`,
      );
    },
  });
  return result(
    `produce-${options.format}`,
    options.format,
    `kafkajs producer, acks=all, ${options.format === 'avro' ? 'Avro' : 'JSON'} values, batches of 2,500 one at a time (not a consumer figure)`,
    totals.sent,
    totals.elapsedMs / 1000,
  );
}
