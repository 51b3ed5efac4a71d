// The Apache Flink peer of the bench (bench/flink/SluiceBenchFlink.java): the Kafka Streams peer's jobs
// on a Flink mini-cluster inside one JVM, timed over the same kind of span (every task running to every
// input offset committed), with the JVM's CPU over that span. Out of the span, the harness then ends
// the input's event time and checks that the windows fired hold every event, as many times as each
// window type counts it, with none late, and waits for a checkpoint to commit their rows.
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { topicOffsets } from '../../source/cluster-settling.js';
import { USER_EVENT_SCHEMA_FILE, flinkProgram } from './java-peer-build.js';
import { cpuSince, processCpu } from './cpu-time.js';
import { startJvm, waitForLine, type BenchProcess } from './bench-process.js';
import { waitUntilAllCommitted, withAdmin } from './peer-commits.js';
import type { JavaPeerResult } from './java-peers.js';

export interface FlinkOptions {
  brokers: readonly string[];
  /** The input topic: user events, JSON or Avro (plain or Confluent-framed) in schemas/avro/user-event.avsc. */
  topic: string;
  /** Where every window's row goes; created (as many partitions as the input) when missing. */
  outputTopic: string;
  /** Its consumer group and its sink's transactional id prefix; unique per run. */
  applicationId: string;
  format: 'json' | 'avro' | 'avro-confluent';
  /** The simple job's window (the full job's are fixed, as in Sluice's full pipeline). */
  windowMs: number;
  /** Default 1,000 ms: Sluice's bench pipelines commit every second. */
  checkpointIntervalMs?: number;
  /** Default: the machine's cores, at most the input's partitions (each source task then reads one or more). */
  parallelism?: number;
  /** The records in the input; the harness checks the windows fired hold each of them. */
  events: number;
  /** simple (the default): a tumbling count per (type, url); full: the full pipeline's job, which needs `lookup`. */
  job?: 'simple' | 'full';
  /** Where the full job loads its lookup table from: ClickHouse's HTTP URL and the table (database.table). */
  lookup?: { url: string; table: string };
  log: (line: string) => void;
}

export interface FlinkResult extends JavaPeerResult {
  parallelism: number;
  /** Events that came for a window the watermark had closed (dropped by Flink, counted by the job). */
  late: number;
  /** Per window: the rows it fired and the events they held, once the input's event time was ended. */
  windows: Record<string, { rows: number; events: number }>;
}

/** Longer than Kafka Streams' wait: a mini-cluster starts more, and its sink's writers first meet the broker. */
const RUNNING_WITHIN_MS = 240_000;
const STOP_GRACE_MS = 30_000;
/** How long the windows may take to fire every event once the input's event time has ended. */
const FIRED_WITHIN_MS = 60_000;

/** How many windows of each job count each event: the sliding window 5 minutes by 1 minute, five. */
const WINDOWS_PER_EVENT = {
  simple: { counts: 1 },
  full: { counts: 1, regions_5m: 5, sessions: 1 },
} as const;

const Report = z.object({
  read: z.number(),
  late: z.number(),
  windows: z.record(z.string(), z.object({ rows: z.number(), events: z.number() })),
  checkpointTriggeredAt: z.number(),
});
type Report = z.infer<typeof Report>;

/**
 * Runs the Flink peer over `events` records of `topic` (all there before it starts). The span is from
 * every task of the job RUNNING (the latest time a task reached it, as Flink recorded it) to the moment
 * the harness sees the job's committed offsets at the end offset of every input partition. Flink's
 * Kafka source commits the offsets of a checkpoint once it has completed, so by then every record is
 * counted, its window state in the checkpoint and the rows fired before it committed by the sink's
 * transaction; the commit follows the last record within one checkpoint interval.
 */
export async function runFlink(options: FlinkOptions): Promise<FlinkResult> {
  const job = options.job ?? 'simple';
  const program = await flinkProgram(options.log);
  const partitions = await withAdmin(options.brokers, async (admin) => {
    const count = (await topicOffsets(admin, options.topic)).length;
    await admin.createTopics({
      topics: [{ topic: options.outputTopic, numPartitions: count }],
      waitForLeaders: true,
    });
    return count;
  });
  const parallelism = options.parallelism ?? Math.min(availableParallelism(), partitions);
  const stateDir = await mkdtemp(join(tmpdir(), 'sluice-bench-flink-'));
  const jvm = startJvm(`Flink (${options.applicationId})`, program, [
    ...['--brokers', options.brokers.join(','), '--input-topic', options.topic],
    ...['--output-topic', options.outputTopic, '--application-id', options.applicationId],
    ...['--format', options.format, '--schema-file', USER_EVENT_SCHEMA_FILE],
    ...['--window-ms', String(options.windowMs), '--parallelism', String(parallelism)],
    ...['--checkpoint-interval-ms', String(options.checkpointIntervalMs ?? 1_000)],
    ...['--events', String(options.events), '--state-dir', stateDir],
    ...['--stop-when-stdin-closes', 'true', '--job', job],
    ...(options.lookup ? ['--lookup-url', options.lookup.url, '--lookup-table', options.lookup.table] : []),
  ]);
  const startedAt = Date.now();
  try {
    const running = await waitForLine(
      jvm,
      /^SLUICE-BENCH RUNNING (\d+)$/,
      RUNNING_WITHIN_MS,
      'RUNNING tasks',
    );
    const runningAtMs = Number(running[1]);
    options.log(
      `  flink: every task RUNNING ${runningAtMs - startedAt} ms after the JVM started (parallelism ${parallelism})`,
    );
    const cpu = jvm.pid === undefined ? undefined : await cpuSince(processCpu(jvm.pid));
    jvm.onLine((line) => {
      const read = /^SLUICE-BENCH PROCESSED (\d+) (\d+)$/.exec(line);
      if (read)
        options.log(
          `  flink: read record ${read[1]} after ${(Number(read[2]) - runningAtMs) / 1000} s (a hint: the end is the committed offsets)`,
        );
    });
    const { events, endMs } = await withAdmin(options.brokers, async (admin) => {
      const ends = await topicOffsets(admin, options.topic);
      const endMs = await waitUntilAllCommitted(admin, jvm, {
        name: 'flink',
        groupId: options.applicationId,
        input: options.topic,
        repartitions: [],
        startedAtMs: runningAtMs,
        log: options.log,
      });
      return { events: ends.reduce((n, p) => n + Number(BigInt(p.high) - BigInt(p.low)), 0), endMs };
    });
    const cpuSeconds = await cpu?.();
    const seconds = (endMs - runningAtMs) / 1000;
    options.log(`  flink: ${events.toLocaleString('en-US')} records committed in ${seconds.toFixed(2)} s`);

    jvm.send('end-input');
    const report = await firedEveryEvent(jvm, job, events);
    options.log(
      `  flink: windows fired ${Object.entries(report.windows)
        .map(
          ([name, w]) =>
            `${name} ${w.rows.toLocaleString('en-US')} rows of ${w.events.toLocaleString('en-US')} events`,
        )
        .join(', ')}; ${report.late} late`,
    );
    return {
      events,
      seconds,
      eventsPerSecond: Math.round(events / seconds),
      ...(cpuSeconds === undefined ? {} : { cpuSeconds }),
      parallelism,
      late: report.late,
      windows: report.windows,
    };
  } finally {
    const stopping = Date.now();
    await jvm.stop(STOP_GRACE_MS);
    options.log(`  flink: stopped in ${Date.now() - stopping} ms`);
    await rm(stateDir, { recursive: true, force: true });
    await withAdmin(options.brokers, (admin) => admin.deleteGroups([options.applicationId])).catch(
      (error: unknown) =>
        options.log(`  flink: could not remove the group ${options.applicationId}: ${String(error)}`),
    );
  }
}

/**
 * Asks the job for its report until its windows have fired every event (each as many times as its
 * window type counts it), and then until a checkpoint begun after that has completed, so that the rows
 * are in a committed transaction of the output topic when the JVM stops. Fails naming what was
 * expected and what was seen.
 */
async function firedEveryEvent(jvm: BenchProcess, job: 'simple' | 'full', events: number): Promise<Report> {
  const expected = Object.fromEntries(
    Object.entries(WINDOWS_PER_EVENT[job]).map(([name, times]) => [name, events * times]),
  );
  const deadline = Date.now() + FIRED_WITHIN_MS;
  let firedAt: number | undefined;
  for (;;) {
    const next = waitForLine(jvm, /^SLUICE-BENCH REPORT (.+)$/, 10_000, 'a report');
    jvm.send('report');
    const report = Report.parse(JSON.parse((await next)[1]!));
    const seen = Object.fromEntries(Object.entries(report.windows).map(([name, w]) => [name, w.events]));
    const fired = Object.entries(expected).every(([name, n]) => seen[name] === n) && report.read === events;
    if (fired) firedAt ??= Date.now();
    if (firedAt !== undefined && report.checkpointTriggeredAt > firedAt) return report;
    if (report.late > 0 || Date.now() > deadline) {
      const what = fired
        ? 'no checkpoint completed after its windows fired'
        : `its windows did not fire every event: expected ${JSON.stringify(expected)} of ${events} read, saw ${JSON.stringify(seen)} of ${report.read} read, ${report.late} late`;
      throw jvm.failure(what);
    }
    await sleep(100);
  }
}
