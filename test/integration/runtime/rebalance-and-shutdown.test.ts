// Members coming and going: two workers in one group where one stops mid-stream (its partitions move
// and nothing is lost or counted twice), and SIGTERM to `sluice run` mid-stream (a clean exit whose
// committed offsets are covered by what reached ClickHouse).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClickHouseClient } from '@clickhouse/client';
import type { Kafka, Producer } from 'kafkajs';
import { setTimeout as sleep } from 'node:timers/promises';
import { definePipeline, run, type RunningPipeline } from '../../../src/index.js';
import { tumblingWindowOf } from '../../../src/windows/tumbling.js';
import { readWindowRecord } from '../../../src/state/changelog-codec.js';
import {
  createTopic,
  queryRows,
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
  groundTruth,
  produceEvents,
  waitForCommits,
  waitForCounts,
  type Produced,
} from '../support/pipeline-truth.js';
import { readTopicToEnd } from '../../../src/source/topic-reader.js';
import { startSluice, writeConfig, type SluiceProcess } from '../support/sluice-process.js';

const PARTITIONS = 4;
const SECOND = 1_000;

/** Produces `rounds` small batches `everyMs` apart, event times a little ahead of now (live traffic). */
async function produceLive(producer: Producer, topic: string, rounds: number, everyMs: number) {
  const produced: Produced[] = [];
  for (let round = 0; round < rounds; round += 1) {
    produced.push(
      ...(await produceEvents(producer, topic, {
        partitions: PARTITIONS,
        perPartition: 40,
        base: Date.now() + 500,
        span: everyMs,
        seed: 1_000 + round,
      })),
    );
    await sleep(everyMs);
  }
  return produced;
}

describe('rebalance and shutdown', () => {
  let kafka: Kafka;
  let clickhouse: ClickHouseClient;
  let producer: Producer;
  const handles: RunningPipeline[] = [];
  const processes: SluiceProcess[] = [];

  beforeAll(async () => {
    kafka = testKafka();
    clickhouse = testClickHouse();
    producer = kafka.producer();
    await producer.connect();
  });

  afterAll(async () => {
    await Promise.all(handles.map((h) => h.stop().catch(() => undefined)));
    await Promise.all(processes.map((p) => p.stop('SIGKILL')));
    await producer.disconnect();
    await clickhouse.close();
  });

  it('moves a stopped member’s partitions to the other, losing and doubling nothing', async () => {
    const name = uniqueName('pair');
    const topic = uniqueName('user_events');
    const database = uniqueName('pair');
    await createTopic(kafka, topic, PARTITIONS);
    // Computed per source partition (declared keyed by a field of its groupBy): the rows each member
    // wrote can be told by their partition. Re-keyed members moving are the rebalance-storm scenario's.
    const pipeline = definePipeline({
      ...countingPipeline({ name, topic, database, idleTimeout: '1s', windowSize: '1s', keyedBy: ['type'] }),
    });
    const logA = captureLog();
    const logB = captureLog();
    const a = await run(pipeline, { logger: logA.logger });
    handles.push(a);
    const b = await run(pipeline, { logger: logB.logger });
    handles.push(b);
    await waitFor(
      'both members own partitions',
      () => Promise.resolve([logA.lines(), logB.lines()]),
      ([la, lb]) => [la!, lb!].every((lines) => ownedBy(lines).length > 0),
      60_000,
    );

    const producing = produceLive(producer, topic, 16, 500);
    await sleep(3_000);
    await a.stop();
    const produced = await producing;

    await waitFor(
      'the remaining member owns every partition',
      () => Promise.resolve(ownedBy(logB.lines())),
      (owned) => owned.length === PARTITIONS,
      60_000,
    );
    const expected = groundTruth(produced, () => true, SECOND);
    await waitForCounts(clickhouse, database, expected).catch((error: Error) => {
      throw new Error(`${error.message}\n--- member B ---\n${logB.tail(30)}`);
    });
    expect(await countsIn(clickhouse, database)).toEqual(expected);
    await waitForCommits(kafka, `sluice-${name}`, topic, produced);
    expect(logB.count('state restored from the changelog')).toBeGreaterThanOrEqual(2);
    // Readiness and the restore metrics: B restored A's partitions from their changelog.
    expect(b.isReady()).toBe(true);
    expect(b.pipelineStatus().restoring.partitions).toEqual([]);
    const metrics = await b.metrics();
    const restored = /sluice_restore_records_total\{pipeline="[^"]+"\} (\d+)/.exec(metrics);
    expect(Number(restored?.[1])).toBeGreaterThan(0);
    expect(metrics).toMatch(/sluice_restore_progress_ratio\{pipeline="[^"]+"\} 1/);
    expect(metrics).toMatch(/sluice_restoring_partitions\{pipeline="[^"]+"\} 0/);
    // Both members really worked: A sank results before it left.
    const rowsByA = await queryRows<{ n: string }>(
      clickhouse,
      `SELECT count() AS n FROM ${database}.views_rows WHERE source_partition IN (${ownedBy(logA.lines()).join(',')})`,
    );
    expect(Number(rowsByA[0]!.n)).toBeGreaterThan(0);
  });

  it('exits cleanly on SIGTERM mid-stream, its committed offsets matching the state it made durable', async () => {
    const name = uniqueName('sigterm');
    const topic = uniqueName('user_events');
    const database = uniqueName('sigterm');
    await createTopic(kafka, topic, PARTITIONS);
    const config = writeConfig(
      // Computed per source partition (declared keyed by a field of its groupBy), so that each partition's
      // committed offset, changelog and rows can be held against one another.
      countingPipeline({ name, topic, database, idleTimeout: '1s', windowSize: '1s', keyedBy: ['type'] }),
    );
    const sluice = startSluice(['run', '--config', config]);
    processes.push(sluice);
    await waitFor(
      'sluice to join its group',
      () => Promise.resolve(sluice.output()),
      (output) => output.includes('partitions assigned'),
      60_000,
    );

    // Windows close 5 s (the allowed out-of-orderness) behind the newest event: stop well after that.
    const producing = produceLive(producer, topic, 20, 500);
    await sleep(8_000);
    const code = await sluice.stop('SIGTERM');
    const produced = await producing;
    expect(code, sluice.output()).toBe(0);
    expect(sluice.output()).toContain('pipeline stopped');
    expect(sluice.output()).not.toContain('shutdown deadline reached');

    // State and offsets agree: each partition's committed offset is its changelog checkpoint, and every
    // record below it is counted either in a sunk ClickHouse row or in an open window of the changelog.
    const commits = await committedOffsets(kafka, `sluice-${name}`, topic);
    const changelog = await lastValues(kafka, `sluice-${name}-changelog`);
    for (const [partition, offset] of Object.entries(commits)) {
      const checkpoint = changelog.get(Number(partition))?.get('checkpoint');
      expect(checkpoint && (JSON.parse(checkpoint.toString()) as { offset: string }).offset).toBe(offset);
    }
    const below = (r: Produced) => r.offset < BigInt(commits[r.partition] ?? '0');
    expect(produced.filter(below).length).toBeGreaterThan(0);
    const needed = new Map<string, number>();
    for (const r of produced.filter(below)) {
      const key = rowKey(
        tumblingWindowOf(r.event!.timestamp, SECOND).start,
        r.event!.type,
        r.event!.url,
        r.partition,
      );
      needed.set(key, (needed.get(key) ?? 0) + 1);
    }
    const rows = await queryRows<{ start: string; type: string; url: string; p: number; n: string }>(
      clickhouse,
      `SELECT toUnixTimestamp(window_start) AS start, type, url, source_partition AS p, max(count) AS n
       FROM ${database}.views_rows FINAL GROUP BY window_start, type, url, source_partition`,
    );
    const held = new Map(
      rows.map((r) => [rowKey(Number(r.start) * 1000, r.type, r.url, Number(r.p)), Number(r.n)]),
    );
    for (const [partition, values] of changelog) {
      for (const [key, value] of values) {
        if (!key.startsWith('w')) continue;
        const w = readWindowRecord(value);
        held.set(rowKey(w.start, w.key[0]!, w.key[1]!, partition), w.agg.count);
      }
    }
    const uncovered = [...needed].filter(([key, n]) => (held.get(key) ?? 0) < n);
    expect(uncovered).toEqual([]);

    // And a restart finishes the job exactly.
    const restarted = startSluice(['run', '--config', config]);
    processes.push(restarted);
    const all = groundTruth(produced, () => true, SECOND);
    await waitForCounts(clickhouse, database, all);
    expect(await countsIn(clickhouse, database)).toEqual(all);
    await waitForCommits(kafka, `sluice-${name}`, topic, produced);
    expect(await restarted.stop('SIGTERM')).toBe(0);
  });
});

/** The newest value per key of each partition of a (compacted) topic, tombstones removed. */
async function lastValues(kafka: Kafka, topic: string): Promise<Map<number, Map<string, Buffer>>> {
  const out = new Map<number, Map<string, Buffer>>();
  await readTopicToEnd(kafka, topic, {
    onBatch: (messages) => {
      for (const m of messages) {
        const values = out.get(m.partition) ?? new Map<string, Buffer>();
        out.set(m.partition, values);
        const key = m.key?.toString() ?? '';
        if (m.value === null) values.delete(key);
        else values.set(key, m.value);
      }
      return Promise.resolve(messages.length);
    },
  });
  return out;
}

function rowKey(startMs: number, type: string, url: string, partition: number): string {
  return `${startMs}|${type}|${url}|${partition}`;
}

/** The partitions a member owns according to its latest assignment log line. */
function ownedBy(lines: Record<string, unknown>[]): number[] {
  const assigned = lines.filter((line) => line.msg === 'partitions assigned');
  return (assigned.at(-1)?.partitions as number[] | undefined) ?? [];
}
