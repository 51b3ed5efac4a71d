// The shedding strategies against a real broker, with a re-keyed window: a slow stage overfills a small
// buffer and the oldest unprocessed records are shed, every one counted. Under `reject` they go to the
// overflow topic with their context, and every produced event is either counted in ClickHouse or in the
// overflow topic, never both or neither; under `drop-oldest` they are gone, and every event is either
// counted in ClickHouse or counted as shed. The re-keyed side sheds nothing under either.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClickHouseClient } from '@clickhouse/client';
import type { Kafka } from 'kafkajs';
import { definePipeline, run, type RunningPipeline } from '../../../src/index.js';
import {
  createTopic,
  readTopic,
  testClickHouse,
  testKafka,
  uniqueName,
  waitFor,
} from '../support/fixtures.js';
import { captureLog } from '../support/log-capture.js';
import {
  committedOffsets,
  countingPipeline,
  countsIn,
  endOffsets,
  produceEvents,
  total,
  withProducer,
} from '../support/pipeline-truth.js';

const PARTITIONS = 2;

describe('backpressure by shedding', () => {
  let kafka: Kafka;
  let clickhouse: ClickHouseClient;
  let running: RunningPipeline | undefined;

  beforeAll(() => {
    kafka = testKafka();
    clickhouse = testClickHouse();
  });

  afterAll(async () => {
    await running?.stop();
    await clickhouse.close();
  });

  it.each([
    ['reject', 'rejects the oldest unprocessed records to the overflow topic, counting each, and loses none'],
    ['drop-oldest', 'drops the oldest unprocessed records, counting each, and counts every other once'],
  ] as const)('%s: %s', async (strategy, _what) => {
    const name = uniqueName(strategy.replace('-', '_'));
    const topic = uniqueName('user_events');
    const database = uniqueName(strategy.replace('-', '_'));
    await createTopic(kafka, topic, PARTITIONS);
    const produced = await withProducer(kafka, (producer) =>
      produceEvents(producer, topic, {
        partitions: PARTITIONS,
        perPartition: 400,
        base: Date.UTC(2026, 3, 1),
        span: 10 * 60_000,
        seed: 5,
      }),
    );
    const log = captureLog();
    running = await run(
      definePipeline({
        ...countingPipeline({ name, topic, database, idleTimeout: '1s' }),
        stages: [
          {
            name: 'slow',
            concurrency: 2,
            process: async (record) => {
              await sleep(5);
              return record.value;
            },
          },
        ],
        backpressure: { strategy, maxBufferSize: 20 },
      }),
      { logger: log.logger },
    );

    await waitFor(
      'every offset committed',
      () => committedOffsets(kafka, `sluice-${name}`, topic),
      (c) => JSON.stringify(c) === JSON.stringify(endOffsets(produced)),
      90_000,
    );
    const shed = running.status().reduce((sum, p) => sum + p.shed, 0);
    expect(shed).toBeGreaterThan(0);
    expect(running.status().every((p) => p.pauses.backpressure === 0)).toBe(true);
    if (strategy === 'reject') {
      const overflow = await readTopic(kafka, `${topic}.overflow`, shed);
      expect(overflow).toHaveLength(shed);
      expect(overflow.every((m) => m.headers?.['sluice.reason']?.toString() === 'overflow')).toBe(true);
      const sources = new Set(
        overflow.map(
          (m) =>
            `${String(m.headers?.['sluice.source.partition'])}@${String(m.headers?.['sluice.source.offset'])}`,
        ),
      );
      expect(sources.size).toBe(shed);
    }
    // Every event is in exactly one place: counted in ClickHouse, or shed (parked in the overflow topic
    // under reject).
    // The window groups by more than the topic's key, so its rows come from the re-keyed side, which
    // may still be writing after the source side committed everything: wait for them, then compare
    // (a doubled event would overshoot and stay above).
    const counted = await waitFor(
      'every event not shed counted in ClickHouse',
      async () => total(await countsIn(clickhouse, database)),
      (n) => n + shed >= produced.length,
      60_000,
    );
    expect(counted + shed).toBe(produced.length);
    // The window is re-keyed: its side reads the internal repartition topic and never sheds from it.
    // Asked once it has counted everything: when the source side has committed, the re-keyed side of
    // a loaded machine may not have been handed its partitions yet.
    const rekeyed = running.pipelineStatus().rekeyed?.partitions ?? [];
    expect(rekeyed.length).toBeGreaterThan(0);
    expect(rekeyed.map((p) => p.shed)).toEqual(rekeyed.map(() => 0));
    await running.stop();
    running = undefined;
  });
});
