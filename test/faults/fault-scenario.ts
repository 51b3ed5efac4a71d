// What the fault scenarios share: the pipeline under test (all three window types, out-of-order and
// late events), a seeded live stream that outlasts the faults, a watch on the workers' memory, and the
// verdict: ClickHouse (the windows' views, plain SELECTs) against the independently computed windows, and the group's committed
// offsets against the source topic's end, printed as the report.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ClickHouseClient } from '@clickhouse/client';
import type { Kafka, Producer } from 'kafkajs';
import { sampleEvents } from '../../src/tools/produce/sample-events.js';
import { createTopic, readTopic, uniqueName, waitFor } from '../integration/support/fixtures.js';
import { writeConfig } from '../integration/support/sluice-process.js';
import type { Produced } from '../integration/support/pipeline-truth.js';
import { compareWindows, expectedWindows, windowsIn } from '../integration/support/window-truth.js';
import { expect } from 'vitest';
import { messageOf } from '../../src/errors.js';
import type { ReferenceDefinition } from '../support/window-reference.js';
import { FULL, printReport, tally, type ScenarioReport } from './scenario-report.js';
import { committedToEnd, topicEnds } from './committed-offsets.js';

export const PARTITIONS = 3;
export const GRACE = 2_000;
export const OUT_OF_ORDERNESS = 5_000;
/** Event-time jitter of the stream: above the allowed disorder, so some events are late. */
const JITTER = 8_000;

export const DEFINITIONS: ReferenceDefinition[] = [
  { name: 'by_type_10s', type: 'tumbling', size: 10_000, groupBy: ['type'] },
  { name: 'by_url_30s', type: 'sliding', size: 30_000, advance: 10_000, groupBy: ['url'] },
  { name: 'sessions', type: 'session', gap: 20_000, groupBy: ['userId'] },
];

export interface FaultPipelineOptions {
  name: string;
  topic: string;
  database: string;
  brokers: string;
  clickhouseUrl: string;
  guarantee?: 'exactly-once' | 'at-least-once';
  /** The /status port; 0 picks a free one. */
  httpPort?: number;
  /** Also write the windows to `<topic>.results.{window}` (inside the transaction under exactly-once). */
  kafkaOutput?: boolean;
  /** Extra ClickHouse sink settings (batching, retries, circuit breaker). */
  clickhouse?: Record<string, unknown>;
  backpressure?: Record<string, unknown>;
  /** Other top-level settings (a parse section, say). */
  extra?: Record<string, unknown>;
  /** The tumbling and sliding windows' allowed lateness (sessions take none). */
  allowedLateness?: string;
}

/** The scenarios' pipeline: the windows of DEFINITIONS, sessions in update mode so early rows and merges are tested too. */
export function faultPipeline(options: FaultPipelineOptions) {
  const sum = [{ fn: 'sum', field: 'value' }];
  const lateness = options.allowedLateness ? { allowedLateness: options.allowedLateness } : {};
  return {
    name: options.name,
    // A killed member holds its partitions until its session times out: keep that short.
    source: {
      brokers: [options.brokers],
      topic: options.topic,
      groupId: `sluice-${options.name}`,
      sessionTimeout: '6s',
      heartbeatInterval: '1s',
    },
    // Idleness is wall-clock and the reference has none: production never pauses for 5 s until it ends.
    time: { field: 'timestamp', maxOutOfOrderness: OUT_OF_ORDERNESS, grace: GRACE, idleTimeout: '5s' },
    processing: { guarantee: options.guarantee ?? 'exactly-once', commitInterval: '300ms' },
    windows: [
      {
        name: 'by_type_10s',
        type: 'tumbling',
        size: '10s',
        groupBy: ['type'],
        aggregations: sum,
        ...lateness,
      },
      {
        name: 'by_url_30s',
        type: 'sliding',
        size: '30s',
        advance: '10s',
        groupBy: ['url'],
        aggregations: sum,
        ...lateness,
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
    ...(options.backpressure ? { backpressure: options.backpressure } : {}),
    sinks: {
      clickhouse: { url: options.clickhouseUrl, database: options.database, ...options.clickhouse },
      ...(options.kafkaOutput ? { kafka: { topic: `${options.topic}.results.{window}` } } : {}),
    },
    http: { port: options.httpPort ?? 0 },
    ...options.extra,
  };
}

/**
 * A scenario's own topic (PARTITIONS partitions), database, pipeline name, consumer group (the
 * configured `source.groupId`, else Sluice's default `sluice-<name>`) and config file.
 */
export async function scenarioPipeline(
  kafka: Kafka,
  prefix: string,
  options: Omit<FaultPipelineOptions, 'name' | 'topic' | 'database'>,
) {
  const name = uniqueName(prefix);
  const topic = uniqueName(`${prefix}_events`);
  const database = uniqueName(prefix);
  await createTopic(kafka, topic, PARTITIONS);
  const pipeline = faultPipeline({ name, topic, database, ...options });
  const source = pipeline.source as { groupId?: string } | undefined;
  const groupId = source?.groupId ?? `sluice-${name}`;
  return { name, topic, database, groupId, config: writeConfig(pipeline) };
}

/**
 * Whether a worker's log shows it running on its latest assignment: that assignment had nothing new
 * to restore, or the restore it started has finished.
 */
export function restoredLatestAssignment(output: string): boolean {
  const at = output.lastIndexOf('"msg":"partitions assigned"');
  if (at < 0) return false;
  const line = output.slice(output.lastIndexOf('\n', at) + 1, at);
  return line.includes('"restoring":[]') || output.includes('state restored from the changelog', at);
}

export interface Production {
  /** Every acknowledged event with its partition and offset, and whether slices are still going out. */
  readonly state: { produced: Produced[]; producing: boolean };
  readonly done: Promise<void>;
  /**
   * Ends the stream `slices` slices from now (never later than its `slices`): a scenario's tail after
   * an outage. Slices held up by an outage do not count, so the tail is as long as asked whatever the
   * outage took.
   */
  endAfter(slices: number): void;
}

export interface ProductionOptions {
  slices: number;
  /** Events per partition per slice. */
  perSlice?: number;
  intervalMs?: number;
  seed: number;
  /**
   * While it returns true, nothing more goes out: a scenario's quiet moment (a member has committed
   * everything it read). Keep it under the pipeline's 5 s idle timeout: the reference has no idleness.
   */
  hold?: () => boolean;
  /**
   * Each partition's slices go out on their own clock: a partition whose leader is out of reach falls
   * behind (its slices sent again until acknowledged) while the others keep flowing. By default a slice
   * of every partition goes out before the next, so one unreachable partition holds up the stream.
   */
  independentPartitions?: boolean;
}

/**
 * A seeded live stream: a slice of every partition's events every `intervalMs`. Each partition has its
 * own event-time stream with 8 s of jitter. The producer is idempotent and a refused slice is sent
 * again until acknowledged, so a broker restart neither loses nor duplicates an event, and offsets
 * come from the acknowledgements.
 */
export function startProduction(kafka: Kafka, topic: string, options: ProductionOptions): Production {
  const perSlice = options.perSlice ?? 30;
  const streams = Array.from({ length: PARTITIONS }, (_, partition) =>
    sampleEvents(
      options.slices * perSlice,
      Date.UTC(2026, 4, 1),
      30 * 60_000,
      options.seed + partition,
      JITTER,
    ),
  );
  const state = { produced: [] as Produced[], producing: true };
  const producer: Producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  const sendSlice = async (slice: number, partition: number) => {
    const events = streams[partition]!.slice(slice * perSlice, (slice + 1) * perSlice);
    const meta = await sendUntilAcknowledged(producer, topic, partition, events);
    const base = BigInt(meta);
    events.forEach((event, k) => state.produced.push({ partition, offset: base + BigInt(k), event }));
  };
  const partitions = Array.from({ length: PARTITIONS }, (_, partition) => partition);
  // The slices sent by the partition furthest along, and where the stream ends.
  let furthest = 0;
  let end = options.slices;
  const done = (async () => {
    await producer.connect();
    try {
      if (options.independentPartitions) {
        await Promise.all(
          partitions.map(async (partition) => {
            for (let slice = 0; slice < end; slice += 1) {
              while (options.hold?.()) await sleep(20);
              await sendSlice(slice, partition);
              furthest = Math.max(furthest, slice + 1);
              await sleep(options.intervalMs ?? 200);
            }
          }),
        );
      } else {
        for (let slice = 0; slice < end; slice += 1) {
          for (const partition of partitions) {
            while (options.hold?.()) await sleep(20);
            await sendSlice(slice, partition);
          }
          furthest = slice + 1;
          await sleep(options.intervalMs ?? 200);
        }
      }
    } finally {
      state.producing = false;
      await producer.disconnect();
    }
  })();
  const endAfter = (slices: number) => {
    end = Math.min(end, furthest + slices);
  };
  return { state, done, endAfter };
}

async function sendUntilAcknowledged(
  producer: Producer,
  topic: string,
  partition: number,
  events: readonly object[],
): Promise<string> {
  for (let attempt = 0; ; attempt += 1) {
    try {
      const [meta] = await producer.send({
        topic,
        acks: -1,
        messages: events.map((event) => ({ partition, value: JSON.stringify(event) })),
      });
      return meta!.baseOffset!;
    } catch (error) {
      if (attempt >= 120) throw error;
      await sleep(500);
    }
  }
}

/** The peak resident memory over every worker process a scenario starts, sampled while they live. */
export class MemoryWatch {
  private readonly pids = new Set<number>();
  private peakKiB = 0;
  private readonly timer = setInterval(() => this.sample(), 200);

  watch(pid: number | undefined): void {
    if (pid !== undefined) this.pids.add(pid);
  }

  /** Peak RSS in MiB, including each live process's own high-water mark (VmHWM). */
  get peakMiB(): number {
    this.sample();
    return Math.round(this.peakKiB / 1024);
  }

  /** The current RSS of the watched processes that are alive, in MiB (the largest one). */
  currentMiB(): number {
    let largest = 0;
    for (const pid of this.pids) largest = Math.max(largest, statusField(pid, 'VmRSS'));
    return Math.round(largest / 1024);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private sample(): void {
    for (const pid of this.pids) {
      const kib = statusField(pid, 'VmHWM');
      if (kib === 0) this.pids.delete(pid);
      this.peakKiB = Math.max(this.peakKiB, kib);
    }
  }
}

function statusField(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0);
  } catch {
    return 0;
  }
}

export interface VerdictOptions {
  scenario: string;
  kafka: Kafka;
  clickhouse: ClickHouseClient;
  topic: string;
  database: string;
  /** The pipeline's consumer group, whose committed offsets must reach the topic's end. */
  groupId: string;
  produced: readonly Produced[];
  memory: MemoryWatch;
  /** Records produced besides the events (hostile ones), for the report's total. */
  otherRecords?: number;
  /** Dead letters the scenario expects; read from `<topic>.dlq`. */
  deadLetters?: number;
  /** Extra lines of the report, e.g. how many kills landed where. */
  notes?: Record<string, string | number>;
  /** The windows to check (default DEFINITIONS), each with a `sum_value` column. */
  definitions?: readonly ReferenceDefinition[];
  /** The windows are re-keyed (default: the scenarios' pipeline declares no source.keyedBy). */
  perKey?: boolean;
}

export interface Verdict {
  counts: { lost: number; doubled: number; wrong: number };
  /** Late events expected (`partition@offset`) and found in the late-events topic. */
  lateExpected: Set<string>;
  lateFound: Set<string>;
  /** The dead letters' source positions (`partition@offset`). */
  deadAt: Set<string>;
  /** Partitions whose committed offset is not at the topic's end: `p1 1200 of 1500`. */
  committedBehind: string[];
  /** Where the differences are (per window and partition) and a few of each: what a failure prints. */
  differences: string[];
  report: ScenarioReport;
}

/** What a failure message carries of a worker's log: its tail, and where the whole log was kept. */
function failureContext(result: Verdict, log: string): string {
  if (log === '') return '';
  const tail = log.slice(-3000);
  const { lost, doubled, wrong } = result.counts;
  const exact =
    lost + doubled + wrong === 0 &&
    result.committedBehind.length === 0 &&
    result.lateFound.size === result.lateExpected.size &&
    [...result.lateExpected].every((at) => result.lateFound.has(at));
  if (exact) return tail;
  const dir = resolve('.sluice', 'fault-logs');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${uniqueName(result.report.scenario.replace(/[^a-z0-9]+/gi, '-'))}.log`);
  writeFileSync(file, log);
  return `${tail}\n(the worker's whole log: ${file})`;
}

/**
 * The suite's expectation of every scenario: nothing lost, doubled or wrong, every late event in its
 * topic, and the group's offsets committed to the topic's end. `log` is the worker's whole output: a
 * failure's message carries its tail, and the whole of it is kept in a file the message names (a
 * failure seen once may not come again, and its cause is rarely in the last lines).
 */
export function expectExact(result: Verdict, log = ''): void {
  const context = failureContext(result, log);
  expect(result.counts, [...result.differences, context].filter(Boolean).join('\n')).toEqual({
    lost: 0,
    doubled: 0,
    wrong: 0,
  });
  expect(result.lateFound).toEqual(result.lateExpected);
  expect(
    result.committedBehind,
    ["committed offsets behind the topic's end", context].filter(Boolean).join('\n'),
  ).toEqual([]);
}

/**
 * The differences by kind, window definition and source partition (`lost sessions p2: 30`), then a
 * few of each kind with what was expected and found: enough to tell a race from a reference mistake
 * in a CI log.
 */
function describeDifferences(diff: ReturnType<typeof compareWindows>): string[] {
  const where = (key: string) => {
    const [definition, , , partition] = key.split('|');
    return `${definition} p${partition}`;
  };
  const groups = new Map<string, number>();
  const count = (kind: string, key: string) =>
    groups.set(`${kind} ${where(key)}`, (groups.get(`${kind} ${where(key)}`) ?? 0) + 1);
  diff.lost.forEach((key) => count('lost', key));
  diff.extra.forEach((key) => count('extra', key));
  diff.wrong.forEach((w) => count('wrong', w.key));
  const show = (row: unknown) => JSON.stringify(row);
  return [
    ...[...groups].map(([group, n]) => `${group}: ${n}`),
    ...diff.lost.slice(0, 4).map((key) => `lost ${key}`),
    ...diff.extra.slice(0, 4).map((key) => `extra ${key}`),
    ...diff.wrong
      .slice(0, 6)
      .map((w) => `wrong ${w.key}: expected ${show(w.expected)}, found ${show(w.found)}`),
  ];
}

const positionOf = (m: { headers?: Record<string, unknown> }) =>
  `${String(m.headers?.['sluice.source.partition'])}@${String(m.headers?.['sluice.source.offset'])}`;

/**
 * Waits until ClickHouse holds exactly the reference's windows (or the time is up), then until the
 * group has committed to the topic's end (or the time is up), reads the late-events and dead-letter
 * topics, prints the report and returns it for the scenario to assert.
 */
export async function verdict(options: VerdictOptions): Promise<Verdict> {
  // The stream is over: the topic's ends no longer move. Read them while ClickHouse is polled.
  const ends = topicEnds(options.kafka, options.topic);
  ends.catch(() => undefined);
  const definitions = options.definitions ?? DEFINITIONS;
  const truth = expectedWindows(options.produced, {
    definitions,
    partitions: PARTITIONS,
    grace: GRACE,
    outOfOrderness: OUT_OF_ORDERNESS,
    // The scenarios' pipeline declares no source.keyedBy: every window is re-keyed.
    perKey: options.perKey ?? true,
  });
  const current = () => windowsIn(options.clickhouse, options.database, definitions, options.perKey ?? true);
  const found = await waitFor(
    `${truth.rows.size} windows`,
    current,
    (rows) => {
      const t = tally(compareWindows(truth.rows, rows));
      return t.lost + t.doubled + t.wrong === 0;
    },
    FULL ? 300_000 : 150_000,
  ).catch(current);
  const diff = compareWindows(truth.rows, found);
  const counts = tally(diff);
  const committed = await committedToEnd(
    options.kafka,
    options.groupId,
    options.topic,
    await ends,
    FULL ? 120_000 : 60_000,
  );
  const dead = await readTopic(options.kafka, `${options.topic}.dlq`, options.deadLetters ?? 0).catch(
    () => [],
  );
  // What arrived, even short of the expected count: the comparison then names the missing events.
  const late = await readTopic(options.kafka, `${options.topic}.late`, truth.late.size, 1_000, true).catch(
    (error: unknown) => {
      console.warn(`reading ${options.topic}.late: ${messageOf(error)}`);
      return [];
    },
  );
  const report: ScenarioReport = {
    scenario: options.scenario,
    produced: options.produced.length + (options.otherRecords ?? 0),
    windowsExpected: truth.rows.size,
    windowsFound: found.size,
    ...counts,
    deadLetters: dead.length,
    late: new Set(late.map(positionOf)).size,
    committed: committed.line,
    peakRssMiB: options.memory.peakMiB,
    ...options.notes,
  };
  options.memory.stop();
  printReport(report);
  return {
    counts,
    lateExpected: truth.late,
    lateFound: new Set(late.map(positionOf)),
    deadAt: new Set(dead.map(positionOf)),
    committedBehind: committed.behind,
    differences: describeDifferences(diff),
    report,
  };
}
