// The scale-out run: the same job on the same events by 1, 2, 4… Sluice member processes of one
// consumer group, each member count with a pipeline of its own (fresh groups, state, repartition topic
// and rows), reporting each member's CPU per event: on one machine events/s cannot grow past its cores,
// but the CPU an event costs must stay flat as members are added.
import { rm } from 'node:fs/promises';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Kafka } from 'kafkajs';
import type { Endpoints } from '../../config/endpoints.js';
import { groupIdOf, pipelineTopicsOf, rekeyedNamesOf } from '../../config/pipeline-topics.js';
import { rekeyPlanOf } from '../../config/rekeying.js';
import { whileSettling } from '../../source/cluster-settling.js';
import type { Pipeline } from '../../config/schema.js';
import { freePorts } from '../stack/ports.js';
import { produceBenchTopic, type BenchFormat } from './bench-feed.js';
import { BenchPeerError } from './bench-peer-error.js';
import {
  BENCH_DATABASE,
  benchClickHouse,
  createLookupTable,
  deletePipelineTopics,
  fullPipeline,
  simplePipeline,
} from './bench-pipelines.js';
import type { ScaleOutResult, ScaleOutRun } from './bench-report.js';
import { cpuSince } from './cpu-time.js';
import { committedToEnd, committedUntilQuiet } from './group-progress.js';
import { startMember, thisSluiceCommand, writeMemberConfig, type MemberProcess } from './member-process.js';
import {
  assignmentSettled,
  rekeyedRecordsThrough,
  scaleOutRun,
  sourceEventsThrough,
  type MemberStatusBody,
} from './scale-out-figures.js';

export type ScaleOutJob = ScaleOutResult['job'];

export interface ScaleOutOptions {
  events: number;
  partitions: number;
  seed: number;
  /** Member counts, run in this order. */
  members: readonly number[];
  job: ScaleOutJob;
  /** How a member is started (followed by `run --config <file>`); default: this CLI as it was started. */
  memberCommand?: readonly string[];
  log: (line: string) => void;
}

/** The scale-out run's own database of window rows, dropped before and after. */
const DATABASE = `${BENCH_DATABASE}_scale_out`;
/** How long the members may take to start, join and settle their assignment. */
const SETTLE_MS = 120_000;
/** A run whose events stop moving for this long has failed (a member stuck, the broker gone). */
const STALL_MS = 120_000;
const STOP_GRACE_MS = 30_000;
/** Three of the jobs' commit intervals (1 s) without a commit of the re-keyed group: it is done. */
const REKEYED_QUIET_MS = 3_000;

const JOBS: Record<ScaleOutJob, { format: BenchFormat; description: string }> = {
  full: {
    format: 'avro',
    description:
      'Sluice full pipeline (the job of the throughput runs: Avro, ClickHouse lookup behind its cache, tumbling + sliding + session windows, two re-keyed by their group keys, exactly-once, ClickHouse sink)',
  },
  simple: {
    format: 'json',
    description:
      'Sluice simple pipeline (JSON, one tumbling count per (type, url) re-keyed through the repartition topic, at-least-once, ClickHouse sink)',
  },
};

export async function runScaleOut(
  kafka: Kafka,
  endpoints: Endpoints,
  options: ScaleOutOptions,
): Promise<ScaleOutResult> {
  if (!endpoints.clickhouse) throw new BenchPeerError('the scale-out run needs a ClickHouse server');
  const clickhouse = benchClickHouse(endpoints.clickhouse);
  const runs: ScaleOutRun[] = [];
  try {
    await clickhouse.command({ query: `DROP DATABASE IF EXISTS ${DATABASE}` });
    await clickhouse.command({ query: `CREATE DATABASE ${DATABASE}` });
    if (options.job === 'full') await createLookupTable(clickhouse);
    const stamp = Date.now();
    for (const members of options.members)
      runs.push(await runMembers(kafka, endpoints, members, stamp, options));
  } finally {
    await clickhouse.command({ query: `DROP DATABASE IF EXISTS ${DATABASE}` }).catch(() => undefined);
    await clickhouse.close();
  }
  return {
    job: options.job,
    description: JOBS[options.job].description,
    partitions: options.partitions,
    runs,
  };
}

function pipelineOf(job: ScaleOutJob, topic: string): Pipeline {
  const pipeline = job === 'full' ? fullPipeline(topic, { database: DATABASE }) : simplePipeline(topic);
  return {
    ...pipeline,
    sinks: { ...pipeline.sinks, clickhouse: { ...pipeline.sinks.clickhouse, database: DATABASE } },
  };
}

/** One member count: a fresh topic and pipeline, the members started and settled, then the events. */
async function runMembers(
  kafka: Kafka,
  endpoints: Endpoints,
  count: number,
  stamp: number,
  options: ScaleOutOptions,
): Promise<ScaleOutRun> {
  const { format } = JOBS[options.job];
  // Named by the member count: each count has its own group, state, repartition topic and rows.
  const topic = `bench-scale-out-${format}-${stamp}-m${count}`;
  const pipeline = pipelineOf(options.job, topic);
  const rekeyGroups = rekeyPlanOf(pipeline).groups.length;
  const admin = kafka.admin();
  await admin.connect();
  const dir = await mkdtemp(join(tmpdir(), 'sluice-scale-out-'));
  const members: MemberProcess[] = [];
  try {
    // Right after the last count's topics were deleted the broker may answer for a moment that it hosts
    // no such partition: retried (a second try finds the topic there and leaves it).
    await whileSettling(() =>
      admin.createTopics({ topics: [{ topic, numPartitions: options.partitions }], waitForLeaders: true }),
    );
    const command = options.memberCommand ?? thisSluiceCommand();
    const env = {
      KAFKA_BROKERS: endpoints.brokers.join(','),
      CLICKHOUSE_URL: endpoints.clickhouse!.url,
      CLICKHOUSE_USER: endpoints.clickhouse!.username,
      CLICKHOUSE_PASSWORD: endpoints.clickhouse!.password,
      SLUICE_LOG_LEVEL: process.env.SLUICE_LOG_LEVEL ?? 'warn',
    };
    const ports = await freePorts(count);
    options.log(`scale-out: ${count} member${count > 1 ? 's' : ''} on ${topic}…`);
    for (const [i, port] of ports.entries()) {
      const config = await writeMemberConfig(pipeline, port, dir, i + 1);
      members.push(startMember(`member ${i + 1} of ${count}`, command, config, port, env));
    }
    await settled(members, options.partitions, rekeyGroups > 0);
    const cpu = await Promise.all(members.map((m) => cpuSince(m.cpu)));
    const start = performance.now();
    // The members wait on an empty topic, so their idle watermarks follow the wall clock: the events
    // start after it (on a 5-minute boundary, as the fixed day does, so the windows hold the same events).
    const from = Math.ceil((Date.now() + 60_000) / 300_000) * 300_000;
    await produceBenchTopic(kafka, topic, {
      events: options.events,
      seed: options.seed,
      format,
      eventTimeFrom: from,
      log: options.log,
    });
    await allThrough(members, options.events, rekeyGroups, options.log);
    // The finish line: the source group committed to the end of the topic and the re-keyed group's
    // commits come to rest, at the later of the two moments, with every member's CPU read then.
    const signal = AbortSignal.timeout(STALL_MS);
    let finish = { at: 0, cpuSeconds: [] as number[] };
    const mark = async () => {
      finish = { at: performance.now(), cpuSeconds: await Promise.all(cpu.map((spent) => spent())) };
    };
    await committedToEnd(kafka, groupIdOf(pipeline), topic, signal);
    await mark();
    // Its first reading comes after the source group's finish: commits at rest by then end the span there.
    if (rekeyGroups > 0)
      await committedUntilQuiet(
        kafka,
        rekeyedNamesOf(pipeline).groupId,
        pipelineTopicsOf(pipeline).repartition,
        REKEYED_QUIET_MS,
        mark,
        signal,
      );
    const { cpuSeconds } = finish;
    const seconds = (finish.at - start) / 1000;
    const statuses = await Promise.all(members.map((m) => statusOf(m)));
    const run = scaleOutRun(
      statuses.map((status, i) => ({ status, cpuSeconds: cpuSeconds[i]! })),
      options.events,
      seconds,
    );
    const taken = run.perMember.reduce((n, m) => n + m.events, 0);
    options.log(
      `  ${count} member${count > 1 ? 's' : ''}: ${run.eventsPerSecond.toLocaleString('en-US')} events/s, ${run.cpuMicrosPerEvent} µs CPU per event; per member ${run.perMember.map((m) => `${m.events.toLocaleString('en-US')} events at ${m.cpuMicrosPerEvent} µs`).join(', ')}${taken === options.events ? '' : ` (taken ${taken.toLocaleString('en-US')} in all: a rebalance moved partitions mid-run)`}`,
    );
    return run;
  } finally {
    await Promise.all(members.map((m) => m.stop(STOP_GRACE_MS)));
    await admin.disconnect();
    await deletePipelineTopics(kafka, pipeline, [topic]).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * A member's /status, asked again while it does not answer: on a loaded machine a member busy with a
 * large commit may leave its HTTP server waiting for seconds. Fails once it has exited or stayed silent
 * for `patienceMs`.
 */
async function statusOf(member: MemberProcess, patienceMs = STALL_MS): Promise<MemberStatusBody> {
  const deadline = performance.now() + patienceMs;
  for (;;) {
    if (member.hasExited()) throw member.process.failure('exited during the run');
    const status = await member.status();
    if (status) return status;
    if (performance.now() > deadline)
      throw member.process.failure(
        `did not answer on /status (port ${member.port}) for ${patienceMs / 1000} s`,
      );
    await sleep(250);
  }
}

/** Until every member is ready and the partitions of both sides are handed out, once each. */
async function settled(
  members: readonly MemberProcess[],
  partitions: number,
  rekeyed: boolean,
): Promise<void> {
  const deadline = performance.now() + SETTLE_MS;
  let seen: (MemberStatusBody | undefined)[] = [];
  for (;;) {
    const exited = members.find((m) => m.hasExited());
    if (exited) throw exited.process.failure('exited before the members settled');
    seen = await Promise.all(members.map((m) => m.status()));
    const all = seen.filter((s): s is MemberStatusBody => s !== undefined);
    if (all.length === members.length && assignmentSettled(all, partitions, rekeyed)) return;
    if (performance.now() > deadline) {
      const owned = seen.map((s, i) =>
        s
          ? `member ${i + 1}: ready ${s.ready}, source ${s.partitions.map((p) => p.partition).join(' ')}, re-keyed ${(s.rekeyed?.partitions ?? []).map((p) => p.partition).join(' ')}`
          : `member ${i + 1}: no /status`,
      );
      throw new BenchPeerError(
        `the ${members.length} members did not settle within ${SETTLE_MS / 1000} s (every one of the ${partitions} partitions of each side owned by one member, each member owning some): ${owned.join('; ')}`,
      );
    }
    await sleep(250);
  }
}

/** Until every event is through the source side and, once per re-keyed group key, the re-keyed side. */
async function allThrough(
  members: readonly MemberProcess[],
  events: number,
  rekeyGroups: number,
  log: (line: string) => void,
): Promise<void> {
  let last = -1;
  let movedAt = performance.now();
  let loggedAt = performance.now();
  for (;;) {
    const statuses = await Promise.all(members.map((m) => statusOf(m)));
    const source = sourceEventsThrough(statuses);
    const rekeyed = rekeyedRecordsThrough(statuses);
    if (source >= events && rekeyed >= events * rekeyGroups) return;
    const progress = source + rekeyed;
    if (progress !== last) [last, movedAt] = [progress, performance.now()];
    if (performance.now() - movedAt > STALL_MS)
      throw new BenchPeerError(
        `the members stopped moving: ${source} of ${events} events through the source side, ${rekeyed} of ${events * rekeyGroups} re-keyed records, for ${STALL_MS / 1000} s`,
      );
    if (performance.now() - loggedAt > 5_000) {
      loggedAt = performance.now();
      log(
        `  ${source.toLocaleString('en-US')} events through, ${rekeyed.toLocaleString('en-US')} re-keyed records`,
      );
    }
    await sleep(250);
  }
}
