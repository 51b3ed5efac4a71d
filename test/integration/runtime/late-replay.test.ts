// `sluice late replay` against the real broker and ClickHouse: a stream with events past their windows'
// allowed lateness; the late records name exactly the windows they missed; after the pipeline stops,
// the replay merges them so that the tumbling and sliding rows (count, sum, min, max, avg) equal the
// windows computed here from every produced event, late ones included, and reports the count_distinct
// and session windows as not applied. A second run applies nothing, and a run after the replay's
// committed offsets are moved back to the start (a crash between insert and progress commit) doubles
// nothing. Both for windows computed in the source's partitions (one row per window, key and source
// partition, read from the raw rows) and for re-keyed ones (one row per window and key, read with plain
// SELECTs from the window's relation): a re-keyed window's lateness is still decided per source partition.
import { beforeAll, describe, expect, inject, it } from 'vitest';
import type { ClickHouseClient } from '@clickhouse/client';
import type { IHeaders, Kafka } from 'kafkajs';
import { definePipeline, run } from '../../../src/index.js';
import { slidingWindowsOf } from '../../../src/windows/sliding.js';
import { tumblingWindowOf } from '../../../src/windows/tumbling.js';
import { createTopic, queryRows, readTopic, uniqueName, waitFor } from '../support/fixtures.js';
import { captureLog } from '../support/log-capture.js';
import { withProducer } from '../support/pipeline-truth.js';
import { useTestServices } from '../support/services.js';
import { runSluice, writeConfig } from '../support/sluice-process.js';
import { setGroupOffsets } from '../../../src/source/topic-admin.js';

const PARTITIONS = 2;
const STREAM = 300;
const LATE = 15;
const STEP_MS = 2_000;
const LATENESS_MS = 10_000;
const OUT_OF_ORDERNESS_MS = 5_000;
const MINUTE = 60_000;
const SLIDE = { size: 4 * MINUTE, advance: MINUTE };
/** On the hour. */
const BASE = Date.UTC(2026, 4, 1, 10);
const TYPES = ['page_view', 'click', 'purchase'];

interface Event {
  eventId: string;
  type: string;
  userId: string;
  timestamp: number;
  value: number;
}

interface Sent {
  partition: number;
  event: Event;
  late: boolean;
}

/** Per partition: a stream in event-time order, then events from its first 7 minutes, long closed. */
function eventsOf(partition: number): Sent[] {
  const sent: Sent[] = [];
  for (let i = 0; i < STREAM; i += 1)
    sent.push({
      partition,
      late: false,
      event: {
        eventId: `${partition}-${i}`,
        type: TYPES[i % TYPES.length]!,
        userId: `u${i % 5}`,
        timestamp: BASE + i * STEP_MS,
        value: (i * 7 + partition * 3) % 50,
      },
    });
  for (let j = 0; j < LATE; j += 1)
    sent.push({
      partition,
      late: true,
      event: {
        eventId: `${partition}-late-${j}`,
        // Some of a key no window of theirs had on time: the replay makes their rows.
        type: j % 5 === 0 ? 'late_only' : TYPES[j % TYPES.length]!,
        userId: `u${j % 7}`,
        timestamp: BASE + ((j * 37 + partition * 11) % 420) * 1_000 + 500,
        // Beyond the stream's values both ways, so min and max move.
        value: j % 2 === 0 ? 100 + j : -j,
      },
    });
  return sent;
}

interface Expected {
  count: number;
  sum: number;
  min: number;
  max: number;
}

/** A row's identity: window start, type and, unless re-keyed, source partition. */
const idOf = (rekeyed: boolean, start: number | string, type: string, partition: number) =>
  rekeyed ? `${start}|${type}` : `${start}|${type}|${partition}`;

/** Per row identity: the window computed from `events`. */
function windowsOf(
  events: readonly Sent[],
  assign: (t: number) => number[],
  rekeyed: boolean,
): Map<string, Expected> {
  const out = new Map<string, Expected>();
  for (const { partition, event } of events)
    for (const start of assign(event.timestamp)) {
      const id = idOf(rekeyed, start, event.type, partition);
      const w = out.get(id) ?? { count: 0, sum: 0, min: Infinity, max: -Infinity };
      out.set(id, {
        count: w.count + 1,
        sum: w.sum + event.value,
        min: Math.min(w.min, event.value),
        max: Math.max(w.max, event.value),
      });
    }
  return out;
}

const tumbling = (t: number) => [tumblingWindowOf(t, MINUTE).start];
const sliding = (t: number) => slidingWindowsOf(t, SLIDE.size, SLIDE.advance).map((w) => w.start);

interface Row {
  window_start_ms: string;
  type: string;
  source_partition?: number;
  count: string;
  sum_value: number;
  min_value: number | null;
  max_value: number | null;
  avg_value: number | null;
  avg_value_n: string;
  emit_reason: string;
  late_applied: string;
}

/** Per source partition: the raw rows (the relation hides the partition). Re-keyed: the relation itself. */
async function rowsOf(
  client: ClickHouseClient,
  database: string,
  table: string,
  rekeyed: boolean,
): Promise<Map<string, Row>> {
  const columns = `window_start_ms, type, count, sum_value, min_value, max_value, avg_value, avg_value_n,
    emit_reason, late_applied`;
  const rows = await queryRows<Row>(
    client,
    rekeyed
      ? `SELECT ${columns} FROM ${database}.${table}`
      : `SELECT ${columns}, source_partition FROM ${database}.${table}_rows FINAL`,
  );
  return new Map(rows.map((r) => [idOf(rekeyed, r.window_start_ms, r.type, r.source_partition ?? -1), r]));
}

function expectRows(rows: Map<string, Row>, expected: Map<string, Expected>, table: string): void {
  expect([...rows.keys()].sort(), table).toEqual([...expected.keys()].sort());
  for (const [id, w] of expected) {
    const row = rows.get(id)!;
    expect(
      [Number(row.count), row.sum_value, row.min_value, row.max_value, Number(row.avg_value_n)],
      `${table} ${id}`,
    ).toEqual([w.count, w.sum, w.min, w.max, w.count]);
    expect(row.avg_value, `${table} ${id} avg`).toBeCloseTo(w.sum / w.count, 9);
  }
}

const header = (headers: IHeaders | undefined, name: string) => {
  const value = headers?.[name];
  return (Array.isArray(value) ? value.at(-1) : value)?.toString();
};

/** As a crash between an insert and its progress commit would leave it: the replay's group at the start. */
function moveReplayBackToStart(kafka: Kafka, groupId: string, topic: string): Promise<void> {
  return setGroupOffsets(
    kafka,
    groupId,
    topic,
    new Map(Array.from({ length: PARTITIONS }, (_, p) => [p, 0n])),
  );
}

describe('sluice late replay', () => {
  const services = useTestServices();
  let kafka: Kafka;
  let clickhouse: ClickHouseClient;
  beforeAll(() => ({ kafka, clickhouse } = services));

  it.each([
    ['computed per source partition', false],
    ['re-keyed', true],
  ] as const)(
    'merges late events into the windows they missed (%s), once, and reports what it cannot merge',
    async (_, rekeyed) => {
      const name = uniqueName('late');
      const topic = uniqueName('user_events');
      const database = uniqueName('late');
      await createTopic(kafka, topic, PARTITIONS);
      const amounts = [
        { fn: 'sum' as const, field: 'value' },
        { fn: 'min' as const, field: 'value' },
        { fn: 'max' as const, field: 'value' },
        { fn: 'avg' as const, field: 'value' },
      ];
      const config = {
        name,
        // Declared keyed by the group key, each partition's windows and late events are checked on their
        // own; re-keyed, the windows are per key and the late records still name their source partition.
        source: {
          brokers: [inject('kafkaBrokers')],
          topic,
          groupId: `sluice-${name}`,
          ...(rekeyed ? {} : { keyedBy: ['type'] }),
        },
        time: { field: 'timestamp', maxOutOfOrderness: OUT_OF_ORDERNESS_MS, grace: 0, idleTimeout: '1s' },
        windows: [
          {
            name: 'amounts_1m',
            type: 'tumbling' as const,
            size: '1m',
            groupBy: ['type'],
            aggregations: amounts,
            allowedLateness: LATENESS_MS,
          },
          {
            name: 'amounts_4m',
            type: 'sliding' as const,
            size: '4m',
            advance: '1m',
            groupBy: ['type'],
            aggregations: amounts,
            allowedLateness: LATENESS_MS,
          },
          {
            name: 'users_1m',
            type: 'tumbling' as const,
            size: '1m',
            groupBy: ['type'],
            aggregations: [{ fn: 'count_distinct' as const, field: 'userId' }],
            allowedLateness: LATENESS_MS,
          },
          { name: 'sessions', type: 'session' as const, gap: '1m', groupBy: ['userId'] },
        ],
        sinks: { clickhouse: { url: inject('clickhouseUrl'), database } },
        http: { port: 0 },
      };
      const sent = [...Array(PARTITIONS).keys()].flatMap(eventsOf);
      await withProducer(kafka, async (producer) => {
        for (let partition = 0; partition < PARTITIONS; partition += 1)
          await producer.send({
            topic,
            acks: -1,
            messages: sent
              .filter((s) => s.partition === partition)
              .map((s) => ({ partition, value: JSON.stringify(s.event) })),
          });
      });
      const late = sent.filter((s) => s.late);
      // Independently: the watermark once a partition's stream is read, and the windows it has let go.
      const watermark = BASE + (STREAM - 1) * STEP_MS - OUT_OF_ORDERNESS_MS;
      const missed = (s: Sent) => [
        `amounts_1m@${tumbling(s.event.timestamp)[0]}`,
        ...sliding(s.event.timestamp)
          .filter((start) => start + SLIDE.size + LATENESS_MS <= watermark)
          .map((start) => `amounts_4m@${start}`),
        `users_1m@${tumbling(s.event.timestamp)[0]}`,
      ];
      const missedSliding = late.flatMap(missed).filter((ref) => ref.startsWith('amounts_4m')).length;
      // Some sliding late events still count on time in their newest window.
      expect(missedSliding).toBeLessThan(late.length * (SLIDE.size / SLIDE.advance));
      expect(missedSliding).toBeGreaterThan(0);

      const running = await run(definePipeline(config), { logger: captureLog().logger });
      let letters;
      try {
        letters = await readTopic(kafka, `${topic}.late`, late.length);
        // Every window written: the on-time events in every row, the late ones where they were on time.
        const onTime = (table: string) =>
          queryRows<{ n: string }>(clickhouse, `SELECT sum(count) AS n FROM ${database}.${table}`).then((r) =>
            Number(r[0]?.n ?? 0),
          );
        const slidingOnTime = sent.length * 4 - missedSliding;
        await waitFor(
          'every on-time event in the tumbling and sliding rows',
          () => Promise.all([onTime('amounts_1m'), onTime('amounts_4m')]),
          ([t, s]) => t === sent.length - late.length && s === slidingOnTime,
          90_000,
        );
      } finally {
        await running.stop();
      }
      expect(letters).toHaveLength(late.length);
      const refsOf = (letter: (typeof letters)[number]) =>
        `${header(letter.headers, 'sluice.source.partition')}|${header(letter.headers, 'sluice.late.window.refs')}`;
      expect(letters.map(refsOf).sort()).toEqual(
        late.map((s) => `${s.partition}|${missed(s).join(',')}`).sort(),
      );
      for (const letter of letters)
        expect(header(letter.headers, 'sluice.late.windows')).toBe('amounts_1m,amounts_4m,users_1m,sessions');
      const rowsNow = (table: string) => rowsOf(clickhouse, database, table, rekeyed);
      const before = await rowsNow('amounts_1m');

      const file = writeConfig(config);
      const dry = await runSluice(['late', 'replay', '--dry-run', '--config', file]);
      expect(dry.output, dry.output).toContain(
        `would apply ${late.length} late event(s) to window amounts_1m`,
      );
      expect(await rowsNow('amounts_1m')).toEqual(before);

      const first = await runSluice(['late', 'replay', '-c', file]);
      expect(first.code, first.output).toBe(0);
      expect(first.output).toContain(`${late.length} late record(s) read`);
      expect(first.output).toContain(`applied ${late.length} late event(s) to window amounts_1m`);
      expect(first.output).toContain(`applied ${missedSliding} late event(s) to window amounts_4m`);
      expect(first.output).toMatch(new RegExp(`not applied ${late.length}× to users_1m: count_distinct`));
      expect(first.output).toMatch(new RegExp(`not applied ${late.length}× to sessions: a session window`));
      const truth1m = windowsOf(sent, tumbling, rekeyed);
      const truth4m = windowsOf(sent, sliding, rekeyed);
      const after1m = await rowsNow('amounts_1m');
      expectRows(after1m, truth1m, 'amounts_1m');
      expectRows(await rowsNow('amounts_4m'), truth4m, 'amounts_4m');
      // The rows the replay wrote say so, and which late records they took.
      const touched = [...after1m.values()].filter((r) => r.emit_reason === 'late-replay');
      expect(touched.length).toBe(
        new Set(late.map((s) => idOf(rekeyed, tumbling(s.event.timestamp)[0]!, s.event.type, s.partition)))
          .size,
      );
      for (const row of touched) expect(row.late_applied).toMatch(/^\d+:\d+(,\d+:\d+)*$/);
      expect([...after1m.values()].filter((r) => r.type === 'late_only').length).toBeGreaterThan(0);

      const again = await runSluice(['late', 'replay', '-c', file]);
      expect(again.output, again.output).toContain('0 late record(s) read');
      expect(again.output).toContain('applied 0 late event(s)');
      expectRows(await rowsNow('amounts_1m'), truth1m, 'amounts_1m');

      // A crash after the inserts, before the progress commit: every record is read again.
      await moveReplayBackToStart(kafka, `sluice-late-replay-${name}`, `${topic}.late`);
      const repeated = await runSluice(['late', 'replay', '-c', file]);
      expect(repeated.output, repeated.output).toContain(`${late.length} late record(s) read`);
      expect(repeated.output).toContain(
        `${late.length + missedSliding} window(s) of late records already applied before`,
      );
      expect(repeated.output).toContain('applied 0 late event(s)');
      expectRows(await rowsNow('amounts_1m'), truth1m, 'amounts_1m');
      expectRows(await rowsNow('amounts_4m'), truth4m, 'amounts_4m');
    },
  );
});
