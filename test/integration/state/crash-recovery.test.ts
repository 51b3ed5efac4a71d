// SIGKILL `sluice run` at seeded random points mid-stream, restart it each time, and compare what lands
// in ClickHouse (FINAL, superseded rows dropped) with a brute-force reference computed from the produced
// events, window by window, for tumbling, sliding and session windows (the sessions in update mode, so
// early rows and merges are crash-tested too): nothing lost, nothing counted twice, no wrong value.
// Late events must all be in the late-events topic. The same windows also go to Kafka output topics,
// which a read_committed reader must see exactly once under exactly-once.
import { writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ClickHouseClient } from '@clickhouse/client';
import type { Kafka } from 'kafkajs';
import { inject } from 'vitest';
import { createTopic, readTopic, uniqueName, waitFor } from '../support/fixtures.js';
import { sampleEvents, seededRandom } from '../../../src/produce/sample-events.js';
import { committedOffsets, withProducer, type Produced } from '../support/pipeline-truth.js';
import { writeConfig, type SluiceProcess } from '../support/sluice-process.js';
import { useTestServices } from '../support/services.js';
import type { ReferenceDefinition } from '../../support/window-reference.js';
import { compareWindows, expectedWindows, windowsIn, type WindowRow } from '../support/window-truth.js';

const PARTITIONS = 3;
const KILLS = Number(process.env.SLUICE_CRASH_KILLS ?? 5);
/**
 * Production lasts about 8 s per kill (a killed member holds its partitions until its 6 s session
 * times out), in slices of PER_SLICE events per partition every 200 ms.
 */
const SLICES_PER_KILL = 40;
const PER_SLICE = 30;
const SEED = Number(process.env.SLUICE_CRASH_SEED ?? 20261123);
const GRACE = 2_000;
const OUT_OF_ORDERNESS = 5_000;

const definitions: ReferenceDefinition[] = [
  { name: 'by_type_10s', type: 'tumbling', size: 10_000, groupBy: ['type'] },
  { name: 'by_url_30s', type: 'sliding', size: 30_000, advance: 10_000, groupBy: ['url'] },
  { name: 'sessions', type: 'session', gap: 20_000, groupBy: ['userId'] },
];

function pipelineConfig(name: string, topic: string, database: string, guarantee: string) {
  const sum = [{ fn: 'sum', field: 'value' }];
  return {
    name,
    // A killed member holds its partitions until its session times out: keep that short.
    source: {
      brokers: [inject('kafkaBrokers')],
      topic,
      groupId: `sluice-${name}`,
      sessionTimeout: '6s',
      heartbeatInterval: '1s',
    },
    // Idleness is wall-clock and the reference has none: production never pauses for 5 s until it ends.
    time: { field: 'timestamp', maxOutOfOrderness: OUT_OF_ORDERNESS, grace: GRACE, idleTimeout: '5s' },
    processing: { guarantee, commitInterval: '300ms' },
    windows: [
      { name: 'by_type_10s', type: 'tumbling', size: '10s', groupBy: ['type'], aggregations: sum },
      {
        name: 'by_url_30s',
        type: 'sliding',
        size: '30s',
        advance: '10s',
        groupBy: ['url'],
        aggregations: sum,
      },
      {
        name: 'sessions',
        type: 'session',
        gap: '20s',
        groupBy: ['userId'],
        aggregations: sum,
        emit: { mode: 'update', every: '500ms' },
      },
    ],
    // Two sinks: a window counts as delivered once ClickHouse and the output topics both have it.
    sinks: {
      clickhouse: { url: inject('clickhouseUrl'), database },
      kafka: { topic: `${topic}.results.{window}` },
    },
    http: { port: 0 },
  };
}

/** Final windows (tumbling, sliding) emit one row each: what the output topics must hold once (or at least once). */
const FINAL_DEFINITIONS = ['by_type_10s', 'by_url_30s'];

/** Rows of the final windows in the output topics, read_committed, by identity, with how often each came. */
async function outputRows(kafka: Kafka, topic: string, expected: Map<string, Row>) {
  const wanted = [...expected.keys()].filter((k) => FINAL_DEFINITIONS.includes(k.split('|')[0]!));
  const found = new Map<string, Row>();
  // Where each window's copies are (output partition@offset): more than one is a duplicate.
  const seen = new Map<string, string[]>();
  for (const name of FINAL_DEFINITIONS) {
    const definition = definitions.find((d) => d.name === name)!;
    const count = wanted.filter((k) => k.startsWith(`${name}|`)).length;
    const read = new Set<string>();
    for (const message of await readTopic(kafka, `${topic}.results.${name}`, count)) {
      // The reader itself is at-least-once (a rebalance of its group re-delivers): a record is its position.
      const position = `${message.partition}@${message.offset}`;
      if (read.has(position)) continue;
      read.add(position);
      const row = JSON.parse(message.value!.toString()) as Record<string, string | number>;
      const key = definition.groupBy.map((field) => row[field]).join(',');
      expect(message.key?.toString()).toBe(JSON.stringify(definition.groupBy.map((field) => row[field])));
      const identity = `${name}|${row.window_start_ms}|${key}|${row.source_partition}`;
      seen.set(identity, [
        ...(seen.get(identity) ?? []),
        `${position} at ${new Date(Number(message.timestamp)).toISOString()}`,
      ]);
      found.set(identity, {
        count: Number(row.count),
        sum: Number(row.sum_value),
        end: Number(row.window_end_ms),
      });
    }
  }
  return { wanted: new Map(wanted.map((k) => [k, expected.get(k)!])), found, seen };
}

type Row = WindowRow;
const truth = { definitions, partitions: PARTITIONS, grace: GRACE, outOfOrderness: OUT_OF_ORDERNESS };
const expectedRows = (produced: readonly Produced[]) => expectedWindows(produced, truth);
const rowsIn = (client: ClickHouseClient, database: string) => windowsIn(client, database, definitions);
const compare = compareWindows;

/** A seeded live stream: slices of every partition's events every 200 ms, until `slices` are sent. */
function startProduction(kafka: Kafka, topic: string, slices: number, seed: number) {
  // Each partition its own stream; 8 s of jitter against 5 s of allowed disorder makes some events late.
  const streams = Array.from({ length: PARTITIONS }, (_, partition) =>
    sampleEvents(slices * PER_SLICE, Date.UTC(2026, 4, 1), 30 * 60_000, seed + partition, 8_000),
  );
  const state = { produced: [] as Produced[], producing: true };
  const done = withProducer(kafka, async (producer) => {
    for (let slice = 0; slice < slices; slice += 1) {
      for (let partition = 0; partition < PARTITIONS; partition += 1) {
        const events = streams[partition]!.slice(slice * PER_SLICE, (slice + 1) * PER_SLICE);
        const [meta] = await producer.send({
          topic,
          acks: -1,
          messages: events.map((event) => ({ partition, value: JSON.stringify(event) })),
        });
        const base = BigInt(meta!.baseOffset!);
        events.forEach((event, k) => state.produced.push({ partition, offset: base + BigInt(k), event }));
      }
      await sleep(200);
    }
    state.producing = false;
  });
  return { state, done };
}

function restored(sluice: SluiceProcess): Promise<string> {
  return waitFor(
    'the worker to restore its state and start',
    () => Promise.resolve(sluice.output()),
    (output) => output.includes('state restored from the changelog'),
    60_000,
  );
}

describe('crash recovery and moving state', () => {
  const services = useTestServices();
  let kafka: Kafka;
  let clickhouse: ClickHouseClient;
  beforeAll(() => ({ kafka, clickhouse } = services));

  function start(config: string): SluiceProcess {
    const debug = process.env.SLUICE_CRASH_DEBUG ? { SLUICE_LOG_LEVEL: 'debug' } : undefined;
    const sluice = services.start(['run', '--config', config], debug);
    return sluice;
  }

  /** After the stream ends: ClickHouse holds exactly the reference's windows, and the late topic every late event. */
  async function expectExact(
    produced: readonly Produced[],
    topic: string,
    database: string,
    last: SluiceProcess,
    guarantee: 'exactly-once' | 'at-least-once',
  ) {
    const expected = expectedRows(produced);
    expect(expected.late.size).toBeGreaterThan(0);
    const found = await waitFor(
      `${expected.rows.size} windows in ClickHouse`,
      () => rowsIn(clickhouse, database),
      (rows) => {
        const diff = compare(expected.rows, rows);
        return diff.lost.length + diff.extra.length + diff.wrong.length === 0;
      },
      120_000,
    ).catch(async (error: Error) => {
      const diff = compare(expected.rows, await rowsIn(clickhouse, database));
      throw new Error(
        `${error.message.slice(0, 200)}\n${JSON.stringify(diff, null, 1).slice(0, 3000)}\n--- last run ---\n${last.output().slice(-2000)}`,
      );
    });
    expect(compare(expected.rows, found)).toEqual({ lost: [], extra: [], wrong: [] });
    // Every late event reached the late-events topic (at least once: side outputs are not transactional).
    const lateRecords = await readTopic(kafka, `${topic}.late`, expected.late.size);
    const lateSeen = new Set(
      lateRecords.map(
        (m) =>
          `${String(m.headers?.['sluice.source.partition'])}@${String(m.headers?.['sluice.source.offset'])}`,
      ),
    );
    expect(lateSeen).toEqual(expected.late);

    // The Kafka sink: under exactly-once a read_committed reader sees each final window once, whatever
    // the kills; under at-least-once each at least once, every copy the same.
    const output = await outputRows(kafka, topic, expected.rows);
    expect(compare(output.wanted, output.found)).toEqual({ lost: [], extra: [], wrong: [] });
    const repeated = [...output.seen].filter(([, copies]) => copies.length > 1);
    if (guarantee === 'exactly-once') expect(repeated).toEqual([]);
  }

  async function crashes(guarantee: 'exactly-once' | 'at-least-once', kills: number) {
    const name = uniqueName('crash');
    const topic = uniqueName('user_events');
    const database = uniqueName('crash');
    await createTopic(kafka, topic, PARTITIONS);
    // Produced while the worker runs and is killed, so every kill lands mid-stream.
    const production = startProduction(kafka, topic, kills * SLICES_PER_KILL, SEED);
    const config = writeConfig(pipelineConfig(name, topic, database, guarantee));
    const next = seededRandom(SEED);
    let midStream = 0;
    let sluice = start(config);
    for (let kill = 0; kill < kills; kill += 1) {
      await restored(sluice);
      await sleep(200 + Math.floor(next() * 2_000));
      if (production.state.producing) midStream += 1;
      if (process.env.SLUICE_CRASH_DEBUG)
        console.log(
          new Date().toISOString(),
          'kill',
          kill,
          await committedOffsets(kafka, `sluice-${name}`, topic),
        );
      await sluice.stop('SIGKILL');
      if (process.env.SLUICE_CRASH_DEBUG) writeFileSync(`/tmp/crash-run-${kill}.log`, sluice.output());
      sluice = start(config);
    }
    await production.done;
    try {
      await expectExact(production.state.produced, topic, database, sluice, guarantee);
    } finally {
      if (process.env.SLUICE_CRASH_DEBUG) writeFileSync('/tmp/crash-run-last.log', sluice.output());
    }
    // The kills landed while there was work in flight, not after the stream was done.
    expect(midStream).toBe(kills);
    expect(await sluice.stop('SIGTERM')).toBe(0);
  }

  it(`survives ${KILLS} SIGKILLs with every window of every type exact (exactly-once)`, () =>
    crashes('exactly-once', KILLS));

  it('survives SIGKILLs with every window exact under at-least-once too (the checkpoint dedupes state)', () =>
    crashes('at-least-once', Math.max(2, Math.floor(KILLS / 2))));

  it('moves state between two workers as they join and leave, every window exact', async () => {
    const name = uniqueName('moving');
    const topic = uniqueName('user_events');
    const database = uniqueName('moving');
    await createTopic(kafka, topic, PARTITIONS);
    const production = startProduction(kafka, topic, 3 * SLICES_PER_KILL, SEED + 1);
    const config = writeConfig(pipelineConfig(name, topic, database, 'exactly-once'));
    const first = start(config);
    await restored(first);
    const t0 = Date.now();
    const mark = (what: string) => process.env.SLUICE_CRASH_DEBUG && console.log(Date.now() - t0, what);
    await sleep(2_000);
    // A second member joins: some partitions move to it, their open windows with them.
    const second = start(config);
    await restored(second);
    mark('second restored');
    await sleep(3_000);
    // The first leaves cleanly: everything moves to the second.
    const stopped = await Promise.race([first.stop('SIGTERM'), sleep(40_000).then(() => 'hung')]);
    if (stopped === 'hung') throw new Error(`the first member did not stop:\n${first.output().slice(-6000)}`);
    expect(stopped).toBe(0);
    mark('first stopped');
    expect(production.state.producing).toBe(true);
    await production.done;
    mark('production done');
    await expectExact(production.state.produced, topic, database, second, 'exactly-once');
    expect(second.output().match(/state restored from the changelog/g)?.length).toBeGreaterThanOrEqual(2);
    expect(await second.stop('SIGTERM')).toBe(0);
  }, 300_000);
});
