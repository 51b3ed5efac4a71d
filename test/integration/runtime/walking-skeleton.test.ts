// The walking skeleton end to end: events produced with kafkajs across partitions, `sluice run` as a
// child process, exact per-window counts in ClickHouse, and offsets committed only below what is sunk.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClickHouseClient } from '@clickhouse/client';
import { inject } from 'vitest';
import type { Kafka } from 'kafkajs';
import { sampleEvents, type SampleEvent } from '../../../src/cli/sample-events.js';
import { tumblingWindowOf } from '../../../src/windows/tumbling.js';
import {
  createTopic,
  queryRows,
  testClickHouse,
  testKafka,
  uniqueName,
  waitFor,
} from '../support/fixtures.js';
import { startSluice, writeConfig, type SluiceProcess } from '../support/sluice-process.js';

const PARTITIONS = 4;
const PER_PARTITION = 400;
const BASE = Date.UTC(2026, 0, 1);
const SPAN = 5 * 60_000;
const MINUTE = 60_000;
const OUT_OF_ORDERNESS = 5_000;
const INVALID = [
  '{not json',
  JSON.stringify({ type: 'page_view', url: '/x' }),
  JSON.stringify({ eventId: 'e', type: 'click', userId: 'u', url: '/', timestamp: 'yesterday' }),
];

interface Produced {
  partition: number;
  offset: bigint;
  event?: SampleEvent;
}

/** Produces each partition's events (and a few invalid records) explicitly, so offsets are known. */
async function produce(kafka: Kafka, topic: string): Promise<Produced[]> {
  const producer = kafka.producer();
  await producer.connect();
  const produced: Produced[] = [];
  for (let partition = 0; partition < PARTITIONS; partition += 1) {
    const events = sampleEvents(PER_PARTITION, BASE, SPAN, 100 + partition);
    const values: { value: string; event?: SampleEvent }[] = events.map((event) => ({
      value: JSON.stringify(event),
      event,
    }));
    INVALID.forEach((value, i) => values.splice(50 + i * 97, 0, { value }));
    const [meta] = await producer.send({
      topic,
      messages: values.map((v) => ({ partition, value: v.value })),
    });
    const base = BigInt(meta!.baseOffset!);
    values.forEach((v, i) => produced.push({ partition, offset: base + BigInt(i), event: v.event }));
  }
  await producer.disconnect();
  return produced;
}

function pipelineConfig(name: string, topic: string, database: string, idleTimeout: string) {
  return {
    name,
    source: { brokers: [inject('kafkaBrokers')], topic, groupId: `sluice-${name}` },
    time: { field: 'timestamp', maxOutOfOrderness: OUT_OF_ORDERNESS, grace: 0, idleTimeout },
    windows: [{ name: 'views_1m', type: 'tumbling', size: '1m', groupBy: ['type', 'url'] }],
    sinks: { clickhouse: { url: inject('clickhouseUrl'), database } },
  };
}

type Counts = Record<string, number>;

function countKey(start: number, type: string, url: string): string {
  return `${new Date(start).toISOString().slice(0, 19).replace('T', ' ')}|${type}|${url}`;
}

function groundTruth(produced: readonly Produced[], isClosed: (p: Produced) => boolean): Counts {
  const counts: Counts = {};
  for (const record of produced) {
    if (!record.event || !isClosed(record)) continue;
    const key = countKey(
      tumblingWindowOf(record.event.timestamp, MINUTE).start,
      record.event.type,
      record.event.url,
    );
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

async function countsIn(client: ClickHouseClient, database: string): Promise<Counts> {
  const rows = await queryRows<{ start: string; type: string; url: string; n: string }>(
    client,
    `SELECT toString(window_start) AS start, type, url, sum(count) AS n
     FROM ${database}.views_1m FINAL GROUP BY window_start, type, url`,
  );
  return Object.fromEntries(rows.map((r) => [`${r.start}|${r.type}|${r.url}`, Number(r.n)]));
}

async function committedOffsets(
  kafka: Kafka,
  groupId: string,
  topic: string,
): Promise<Record<number, string>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
    return Object.fromEntries(offsets!.partitions.map((p) => [p.partition, p.offset]));
  } finally {
    await admin.disconnect();
  }
}

const total = (counts: Counts) => Object.values(counts).reduce((a, b) => a + b, 0);

describe('walking skeleton: user-events → tumbling counts → ClickHouse', () => {
  let kafka: Kafka;
  let clickhouse: ClickHouseClient;
  const running: SluiceProcess[] = [];

  beforeAll(() => {
    kafka = testKafka();
    clickhouse = testClickHouse();
  });

  afterAll(async () => {
    await Promise.all(running.map((p) => p.stop('SIGKILL')));
    await clickhouse.close();
  });

  it('lands exact per-window counts and commits every offset once all windows are sunk', async () => {
    const name = uniqueName('skeleton');
    const topic = uniqueName('user_events');
    const database = uniqueName('sk');
    await createTopic(kafka, topic, PARTITIONS);
    const produced = await produce(kafka, topic);
    const expected = groundTruth(produced, () => true);

    const sluice = startSluice(['run', '--config', writeConfig(pipelineConfig(name, topic, database, '1s'))]);
    running.push(sluice);
    const found = await waitFor(
      `${total(expected)} events counted in ${database}.views_1m`,
      () => countsIn(clickhouse, database),
      (counts) => total(counts) >= total(expected),
      90_000,
    ).catch((error: Error) => {
      throw new Error(`${error.message}\n--- sluice output ---\n${sluice.output()}`);
    });
    expect(found).toEqual(expected);

    const ends = Object.fromEntries(
      Array.from({ length: PARTITIONS }, (_, p) => [p, String(PER_PARTITION + INVALID.length)]),
    );
    await waitFor(
      'every offset committed',
      () => committedOffsets(kafka, `sluice-${name}`, topic),
      (c) => JSON.stringify(c) === JSON.stringify(ends),
    );

    expect(await sluice.stop('SIGTERM')).toBe(0);
    expect(sluice.output()).toContain('record sent to the dead-letter topic');
  });

  it('holds each partition’s commit at the first record of a window that is still open', async () => {
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
    const expectedCommits: Record<number, string> = {};
    for (const r of produced) {
      if (r.event && !closed(r) && expectedCommits[r.partition] === undefined)
        expectedCommits[r.partition] = String(r.offset);
    }

    const sluice = startSluice(['run', '--config', writeConfig(pipelineConfig(name, topic, database, '1h'))]);
    running.push(sluice);
    await waitFor(
      'the held-back commits',
      () => committedOffsets(kafka, `sluice-${name}`, topic),
      (c) => JSON.stringify(c) === JSON.stringify(expectedCommits),
      90_000,
    ).catch((error: Error) => {
      throw new Error(`${error.message}\n--- sluice output ---\n${sluice.output()}`);
    });
    expect(await countsIn(clickhouse, database)).toEqual(expected);
    expect(await sluice.stop('SIGTERM')).toBe(0);
    // Stopping must not release the open windows' records: their state lives only in memory.
    expect(await committedOffsets(kafka, `sluice-${name}`, topic)).toEqual(expectedCommits);

    // A restart replays from the held commits, and windows that had closed but straddle the commit
    // point are re-emitted from part of their records: those partial rows must not replace full ones.
    const restarted = startSluice([
      'run',
      '--config',
      writeConfig(pipelineConfig(name, topic, database, '1s')),
    ]);
    running.push(restarted);
    const all = groundTruth(produced, () => true);
    const found = await waitFor(
      `all ${total(all)} events counted after the restart`,
      () => countsIn(clickhouse, database),
      (counts) => total(counts) >= total(all),
      90_000,
    );
    expect(found).toEqual(all);
    expect(await restarted.stop('SIGTERM')).toBe(0);
  });
});
