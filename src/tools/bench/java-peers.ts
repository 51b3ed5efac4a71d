// The bench's Java peers, run on the bench's own topic: Apache Kafka's consumer perf tool (the broker's
// ceiling: a Java consumer that reads and does nothing) and a Kafka Streams application doing the bench
// pipeline's work (the peer a user would otherwise pick). Each returns a rate from the same kind of span
// as the bench's own runs: from joined and ready to every record through.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Admin } from 'kafkajs';
import { topicOffsets } from '../../source/cluster-settling.js';
import { USER_EVENT_SCHEMA_FILE, consumerPerfToolProgram, kafkaStreamsProgram } from './java-peer-build.js';
import { cpuSince, processCpu } from './cpu-time.js';
import { startJvm, waitForLine, type BenchProcess } from './bench-process.js';
import { waitUntilAllCommitted, withAdmin } from './peer-commits.js';

export { BenchPeerError } from './bench-peer-error.js';

export interface JavaPeerResult {
  events: number;
  seconds: number;
  eventsPerSecond: number;
  /** The JVM's CPU time over the same span (cpu-time.ts), when measured. */
  cpuSeconds?: number;
}

export interface ConsumerPerfToolOptions {
  brokers: readonly string[];
  topic: string;
  /** Records to read: the tool stops at this many (or fails when the topic holds fewer). */
  events: number;
  log: (line: string) => void;
}

/** Time the tool may wait for a record before it gives up (its own --timeout). */
const PERF_TOOL_IDLE_MS = 60_000;

/**
 * `kafka-consumer-perf-test` (org.apache.kafka.tools.ConsumerPerformance) reading `events` records of
 * `topic` in a new consumer group. The figure is the tool's own "fetch" one: from the group join done
 * (its first partitions assigned) to the last record read, excluding the join (its rebalance.time.ms),
 * the same span as the bench's bare kafkajs consumer.
 */
export async function runConsumerPerfTool(options: ConsumerPerfToolOptions): Promise<JavaPeerResult> {
  const program = await consumerPerfToolProgram(options.log);
  const group = `bench-perf-tool-${options.topic}-${Date.now()}`;
  const jvm = startJvm('the Kafka consumer perf tool', program, [
    ...['--bootstrap-server', options.brokers.join(','), '--topic', options.topic],
    ...['--messages', String(options.events), '--group', group, '--timeout', String(PERF_TOOL_IDLE_MS)],
  ]);
  const stdout: string[] = [];
  jvm.onLine((line) => stdout.push(line));
  const how = await jvm.exited;
  await withAdmin(options.brokers, (admin) => admin.deleteGroups([group])).catch(() => undefined);
  if (how !== 'exit code 0') throw jvm.failure(`ended with ${how}`);
  if (stdout.some((line) => line.startsWith('WARNING: Exiting before consuming'))) {
    throw jvm.failure(`read fewer than ${options.events} records of ${options.topic} before its timeout`);
  }
  const figures = perfToolFigures(stdout);
  if (!figures) throw jvm.failure('printed no header and figures line');
  const events = Number(figures['data.consumed.in.nMsg']);
  const fetchMs = Number(figures['fetch.time.ms']);
  if (events < options.events) throw jvm.failure(`read ${events} of ${options.events} records`);
  if (!(fetchMs > 0)) throw jvm.failure('measured no fetch time: too few events to time');
  options.log(
    `  perf tool: ${events.toLocaleString('en-US')} records in ${fetchMs} ms after a ${figures['rebalance.time.ms']} ms group join`,
  );
  return { events, seconds: fetchMs / 1000, eventsPerSecond: Math.round(Number(figures['fetch.nMsg.sec'])) };
}

/** The tool's summary: a header line of names (`start.time, end.time, …`) and a line of values. */
function perfToolFigures(stdout: readonly string[]): Record<string, string> | undefined {
  const at = stdout.findIndex((line) => line.startsWith('start.time,'));
  const header = stdout[at];
  const values = stdout[at + 1];
  if (at < 0 || header === undefined || values === undefined) return undefined;
  const names = header.split(',').map((name) => name.trim());
  const figures = values.split(',').map((value) => value.trim());
  if (names.length !== figures.length) return undefined;
  return Object.fromEntries(names.map((name, i) => [name, figures[i] ?? '']));
}

export interface KafkaStreamsOptions {
  brokers: readonly string[];
  /** The input topic: user events, JSON or Avro (plain or Confluent-framed) in schemas/avro/user-event.avsc. */
  topic: string;
  /** Where every update of a window count goes; created (as many partitions as the input) when missing. */
  outputTopic: string;
  /** Also its consumer group, and the prefix of its internal topics; unique per run. */
  applicationId: string;
  format: 'json' | 'avro' | 'avro-confluent';
  windowMs: number;
  graceMs: number;
  /** Default 100 ms: Kafka Streams' own default under exactly-once. */
  commitIntervalMs?: number;
  /** The input records, to print SLUICE-BENCH PROCESSED at the last; leave out for a live run. */
  events?: number;
  /**
   * simple (the default): a tumbling count per (type, url). full: Sluice's full pipeline's job (the
   * region looked up by country, then three windows; SluiceBenchStreams.java), which needs `lookup`.
   */
  job?: 'simple' | 'full';
  /** Where the full job loads its lookup table from: ClickHouse's HTTP URL and the table (database.table). */
  lookup?: { url: string; table: string };
  log: (line: string) => void;
}

export interface RunningKafkaStreams {
  /** When Kafka Streams reported RUNNING (epoch ms). */
  runningAtMs: number;
  /** The JVM's last output lines (its warnings and SLUICE-BENCH lines), for diagnostics. */
  output(): string;
  /** Stops the JVM (SIGTERM, then a kill) and removes its internal topics, consumer group and state. */
  stop(): Promise<void>;
}

/** The application's repartition topics (`<application id>-<step>-repartition`, one per re-keying step). */
async function repartitionTopics(admin: Admin, applicationId: string): Promise<string[]> {
  return (await admin.listTopics()).filter(
    (t) => t.startsWith(`${applicationId}-`) && t.endsWith('-repartition'),
  );
}

const RUNNING_WITHIN_MS = 120_000;
const STOP_GRACE_MS = 30_000;

/**
 * Starts the Kafka Streams peer and resolves once it is RUNNING, leaving it running (for a live-latency
 * measurement: the caller reads the output topic itself, and stops it).
 */
export async function startKafkaStreams(options: KafkaStreamsOptions): Promise<RunningKafkaStreams> {
  return (await launchKafkaStreams(options)).handle;
}

/**
 * Runs the Kafka Streams peer over `events` records of `topic` (all there before it starts). The span
 * is from RUNNING (the state every task of a Kafka Streams instance is in once assigned and restored)
 * to the moment the harness sees the application's committed offsets at the end offsets of every
 * partition of the input and of its repartition topic: every record counted, its window state in the
 * changelog and its updates in the output topic, all in committed transactions. That moment is seen
 * within one poll (100 ms) after the commit, and a commit follows the last record within one commit
 * interval; both are small beside a run of a million events.
 */
export async function runKafkaStreams(
  options: KafkaStreamsOptions & { events: number },
): Promise<JavaPeerResult> {
  const { handle, jvm } = await launchKafkaStreams(options);
  try {
    // From RUNNING (read as soon as its line arrives) to the last commit seen.
    const cpu = jvm.pid === undefined ? undefined : await cpuSince(processCpu(jvm.pid));
    const { events, endMs, cpuSeconds } = await withAdmin(options.brokers, async (admin) => {
      const inputEnds = await topicOffsets(admin, options.topic);
      const events = inputEnds.reduce((n, p) => n + Number(BigInt(p.high) - BigInt(p.low)), 0);
      const endMs = await waitUntilAllCommitted(admin, jvm, {
        name: 'kafka streams',
        groupId: options.applicationId,
        input: options.topic,
        // Made by the application before it is RUNNING.
        repartitions: await repartitionTopics(admin, options.applicationId),
        startedAtMs: handle.runningAtMs,
        log: options.log,
      });
      return { events, endMs, cpuSeconds: await cpu?.() };
    });
    const seconds = (endMs - handle.runningAtMs) / 1000;
    options.log(
      `  kafka streams: ${events.toLocaleString('en-US')} records committed in ${seconds.toFixed(2)} s`,
    );
    return {
      events,
      seconds,
      eventsPerSecond: Math.round(events / seconds),
      ...(cpuSeconds === undefined ? {} : { cpuSeconds }),
    };
  } finally {
    await handle.stop();
  }
}

async function launchKafkaStreams(
  options: KafkaStreamsOptions,
): Promise<{ handle: RunningKafkaStreams; jvm: BenchProcess }> {
  const program = await kafkaStreamsProgram(options.log);
  await withAdmin(options.brokers, async (admin) => {
    const partitions = (await topicOffsets(admin, options.topic)).length;
    await admin.createTopics({
      topics: [{ topic: options.outputTopic, numPartitions: partitions }],
      waitForLeaders: true,
    });
  });
  const stateDir = await mkdtemp(join(tmpdir(), 'sluice-bench-streams-'));
  const jvm = startJvm(`Kafka Streams (${options.applicationId})`, program, [
    ...['--brokers', options.brokers.join(','), '--input-topic', options.topic],
    ...['--output-topic', options.outputTopic, '--application-id', options.applicationId],
    ...['--format', options.format, '--schema-file', USER_EVENT_SCHEMA_FILE],
    ...['--window-ms', String(options.windowMs), '--grace-ms', String(options.graceMs)],
    ...['--commit-interval-ms', String(options.commitIntervalMs ?? 100)],
    ...['--events', String(options.events ?? 0), '--state-dir', stateDir],
    ...['--stop-when-stdin-closes', 'true'],
    ...['--job', options.job ?? 'simple'],
    ...(options.lookup ? ['--lookup-url', options.lookup.url, '--lookup-table', options.lookup.table] : []),
  ]);
  const startedAt = Date.now();
  const stop = async () => {
    const stopping = Date.now();
    await jvm.stop(STOP_GRACE_MS);
    options.log(`  kafka streams: stopped in ${Date.now() - stopping} ms`);
    await removeApplication(options, stateDir);
  };
  let runningAtMs: number;
  try {
    const running = await waitForLine(
      jvm,
      /^SLUICE-BENCH RUNNING (\d+)$/,
      RUNNING_WITHIN_MS,
      'RUNNING state',
    );
    runningAtMs = Number(running[1]);
    options.log(`  kafka streams: RUNNING ${runningAtMs - startedAt} ms after the JVM started`);
  } catch (error) {
    await stop();
    throw error;
  }
  jvm.onLine((line) => {
    const processed = /^SLUICE-BENCH PROCESSED (\d+) (\d+)$/.exec(line);
    if (processed)
      options.log(
        `  kafka streams: counted record ${processed[1]} after ${(Number(processed[2]) - runningAtMs) / 1000} s (a hint: the end is the committed offsets)`,
      );
  });
  return { jvm, handle: { runningAtMs, output: () => jvm.output(), stop } };
}

/** Its internal topics (repartition, changelog), its consumer group and its state folder. */
async function removeApplication(options: KafkaStreamsOptions, stateDir: string): Promise<void> {
  await rm(stateDir, { recursive: true, force: true });
  await withAdmin(options.brokers, async (admin) => {
    const internal = (await admin.listTopics()).filter((t) => t.startsWith(`${options.applicationId}-`));
    if (internal.length > 0) await admin.deleteTopics({ topics: internal });
    await admin.deleteGroups([options.applicationId]);
  }).catch((error: unknown) =>
    options.log(
      `  kafka streams: could not remove ${options.applicationId}'s topics and group: ${String(error)}`,
    ),
  );
}
