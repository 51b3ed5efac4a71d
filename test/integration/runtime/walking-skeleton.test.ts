// The walking skeleton end to end: events produced with kafkajs across partitions, `sluice run` as a
// child process, exact per-window counts in ClickHouse, and offsets committed only below what is sunk.
import { beforeAll, describe, expect, it } from 'vitest';
import type { ClickHouseClient } from '@clickhouse/client';
import type { Kafka } from 'kafkajs';
import { tumblingWindowOf } from '../../../src/windows/tumbling.js';
import { createTopic, uniqueName, waitFor } from '../support/fixtures.js';
import {
  MINUTE,
  committedOffsets,
  countingPipeline,
  countsIn,
  endOffsets,
  groundTruth,
  produceEvents,
  total,
  withProducer,
  type Produced,
} from '../support/pipeline-truth.js';
import { writeConfig } from '../support/sluice-process.js';
import { useTestServices } from '../support/services.js';

const PARTITIONS = 4;
const OUT_OF_ORDERNESS = 5_000;
const INVALID = [
  '{not json',
  JSON.stringify({ type: 'page_view', url: '/x' }),
  JSON.stringify({ eventId: 'e', type: 'click', userId: 'u', url: '/', timestamp: 'yesterday' }),
];

function produce(kafka: Kafka, topic: string): Promise<Produced[]> {
  return withProducer(kafka, (producer) =>
    produceEvents(producer, topic, {
      partitions: PARTITIONS,
      perPartition: 400,
      base: Date.UTC(2026, 0, 1),
      span: 5 * 60_000,
      seed: 100,
      invalid: INVALID,
    }),
  );
}

function pipelineConfig(name: string, topic: string, database: string, idleTimeout: string) {
  return countingPipeline({ name, topic, database, idleTimeout });
}

describe('walking skeleton: user-events → tumbling counts → ClickHouse', () => {
  const services = useTestServices();
  let kafka: Kafka;
  let clickhouse: ClickHouseClient;
  beforeAll(() => ({ kafka, clickhouse } = services));

  it('lands exact per-window counts and commits every offset once all windows are sunk', async () => {
    const name = uniqueName('skeleton');
    const topic = uniqueName('user_events');
    const database = uniqueName('sk');
    await createTopic(kafka, topic, PARTITIONS);
    const produced = await produce(kafka, topic);
    const expected = groundTruth(produced, () => true);

    const sluice = services.start([
      'run',
      '--config',
      writeConfig(pipelineConfig(name, topic, database, '1s')),
    ]);
    const found = await waitFor(
      `${total(expected)} events counted in ${database}.views_1m`,
      () => countsIn(clickhouse, database),
      (counts) => total(counts) >= total(expected),
      90_000,
    ).catch((error: Error) => {
      throw new Error(`${error.message}\n--- sluice output ---\n${sluice.output()}`);
    });
    expect(found).toEqual(expected);

    const ends = endOffsets(produced);
    await waitFor(
      'every offset committed',
      () => committedOffsets(kafka, `sluice-${name}`, topic),
      (c) => JSON.stringify(c) === JSON.stringify(ends),
    );

    expect(await sluice.stop('SIGTERM')).toBe(0);
    expect(sluice.output()).toContain('record sent to the dead-letter topic');
    expect(sluice.output()).toContain('serving /healthz /readyz /status /metrics');
    // Every line is the logger's JSON: no runtime warning on stderr (kafkajs' negative timeouts made
    // Node 24 print one; this test runs on the current Node LTS too).
    expect(
      sluice
        .output()
        .split('\n')
        .filter((line) => line !== '' && !line.startsWith('{')),
    ).toEqual([]);
  });

  it('commits past open windows, whose state is in the changelog, and a restart closes them exactly', async () => {
    const name = uniqueName('held');
    const topic = uniqueName('user_events');
    const database = uniqueName('held');
    await createTopic(kafka, topic, PARTITIONS);
    const produced = await produce(kafka, topic);

    // Without idleness only the watermark closes windows: per partition, max event time − out-of-orderness.
    const watermark: Record<number, number> = {};
    for (const r of produced) {
      if (r.event)
        watermark[r.partition] = Math.max(
          watermark[r.partition] ?? -Infinity,
          r.event.timestamp - OUT_OF_ORDERNESS,
        );
    }
    const closed = (r: Produced) =>
      tumblingWindowOf(r.event!.timestamp, MINUTE).end <= watermark[r.partition]!;
    const expected = groundTruth(produced, closed);
    expect(total(expected)).toBeLessThan(total(groundTruth(produced)));

    const sluice = services.start([
      'run',
      '--config',
      writeConfig(pipelineConfig(name, topic, database, '1h')),
    ]);
    await waitFor(
      'every offset committed while windows are still open',
      () => committedOffsets(kafka, `sluice-${name}`, topic),
      (c) => JSON.stringify(c) === JSON.stringify(endOffsets(produced)),
      90_000,
    ).catch((error: Error) => {
      throw new Error(`${error.message}\n--- sluice output ---\n${sluice.output()}`);
    });
    await waitFor(
      'the closed windows',
      () => countsIn(clickhouse, database),
      (c) => total(c) >= total(expected),
    );
    expect(await countsIn(clickhouse, database)).toEqual(expected);
    expect(await sluice.stop('SIGTERM')).toBe(0);

    // The restart reads nothing from the source (all committed): the open windows come from the changelog.
    const restarted = services.start([
      'run',
      '--config',
      writeConfig(pipelineConfig(name, topic, database, '1s')),
    ]);
    const all = groundTruth(produced);
    const found = await waitFor(
      `all ${total(all)} events counted after the restart`,
      () => countsIn(clickhouse, database),
      (counts) => total(counts) >= total(all),
      90_000,
    );
    expect(found).toEqual(all);
    expect(restarted.output()).toContain('state restored from the changelog');
    expect(await restarted.stop('SIGTERM')).toBe(0);
  });
});
