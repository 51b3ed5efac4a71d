// The whole bench, in one run on one machine: two topics of the same seeded stream (Avro for the full
// pipeline, JSON for the simple one), each read to the end by the client's ceiling (bare kafkajs), the
// broker's ceiling (Kafka's Java consumer perf tool), the peers (Kafka Streams, exactly_once_v2; Flink,
// exactly-once checkpoints) and Sluice; then latency under a steady load for Sluice and Kafka Streams, the state footprint per key
// and the restore rate; then the targets each figure is held to.
import type { ClickHouseClient } from '@clickhouse/client';
import type { Kafka } from 'kafkajs';
import type { Endpoints } from '../../config/endpoints.js';
import { run } from '../../index.js';
import { createLogger } from '../../ops/logger.js';
import { produceBenchTopic, type BenchFormat } from './bench-feed.js';
import {
  combineRuns,
  machine,
  round,
  type BenchReport,
  type BenchResult,
  type LatencyResult,
  type TargetCheck,
} from './bench-report.js';
import {
  BENCH_DATABASE,
  benchClickHouse,
  createLookupTable,
  deletePipelineTopics,
  fullPipeline,
} from './bench-pipelines.js';
import { KAFKA_VERSION } from '../stack/kafka-release.js';
import { FLINK_VERSION } from './java-peer-build.js';
import { startKafkaStreams } from './java-peers.js';
import {
  LatencyBook,
  latencyResult,
  steadyLoad,
  watchClickHouseCounts,
  windowStartOf,
  type SteadyLoadOptions,
} from './latency.js';
import { BenchPeerError } from './bench-peer-error.js';
import { measureFootprint } from './state-footprint.js';
import { STREAMS_GRACE_MS, throughputRuns } from './throughput-runs.js';

export interface RunBenchOptions {
  events: number;
  partitions: number;
  seed: number;
  quick: boolean;
  /** Steady load of the latency runs. */
  latencyRate: number;
  latencySeconds: number;
  /** Distinct window keys of the footprint run. */
  footprintKeys: number;
  /** How many times each throughput run runs, alternated with the others (the report gives medians). */
  repeat: number;
  /** Only the throughput of the simple pipeline and the bare consumer (the test's small run). */
  only?: 'simple';
  log: (line: string) => void;
}

/** The Avro topic (full pipeline) first, then the JSON one (simple pipeline). */
const FORMATS: readonly BenchFormat[] = ['avro', 'json'];
const LATENCY_WINDOW_MS = 10_000;
/**
 * The commit interval and update emits of Sluice's latency run (see sluiceLatency): every 100 ms, as
 * the Kafka Streams run commits (and so emits, its cache flushed at each commit).
 */
const LATENCY_COMMIT_INTERVAL = '100ms';
const LATENCY_UPDATE_EVERY = '100ms';

export async function runBench(
  kafka: Kafka,
  endpoints: Endpoints,
  versions: BenchReport['versions'],
  options: RunBenchOptions,
): Promise<BenchReport> {
  const log = options.log;
  const stamp = Date.now();
  if (!endpoints.clickhouse)
    throw new BenchPeerError('the bench needs a ClickHouse server (endpoints.clickhouse)');
  const clickhouse = benchClickHouse(endpoints.clickhouse);
  const topics: string[] = [];
  const admin = kafka.admin();
  await admin.connect();
  // A topic another program creates (Kafka Streams its output topic), deleted with the bench's own.
  const ownedTopic = (name: string) => {
    topics.push(name);
    return name;
  };
  const newTopic = async (name: string) => {
    topics.push(name);
    await admin.createTopics({
      topics: [{ topic: name, numPartitions: options.partitions }],
      waitForLeaders: true,
    });
    return name;
  };
  const results: BenchResult[] = [];
  const report: BenchReport = {
    at: new Date().toISOString(),
    machine: machine(),
    versions: { ...versions, kafkaStreams: KAFKA_VERSION, flink: FLINK_VERSION },
    parameters: {
      events: options.events,
      partitions: options.partitions,
      seed: options.seed,
      quick: options.quick,
      repeat: options.repeat,
      latencyRate: options.latencyRate,
      latencySeconds: options.latencySeconds,
      footprintKeys: options.footprintKeys,
    },
    results,
    ratios: {},
  };
  try {
    // Each run's results start from nothing: rows (and recorded definitions) of an earlier run, maybe of
    // another Sluice version, say nothing of this one.
    await clickhouse.command({ query: `DROP DATABASE IF EXISTS ${BENCH_DATABASE}` });
    await clickhouse.command({ query: `CREATE DATABASE IF NOT EXISTS ${BENCH_DATABASE}` });
    for (const format of FORMATS.filter((f) => options.only !== 'simple' || f === 'json')) {
      const topic = await newTopic(`bench-${format}-${stamp}`);
      log(
        `producing ${options.events.toLocaleString('en-US')} ${format} events to ${topic} (${options.partitions} partitions)…`,
      );
      results.push(
        await produceBenchTopic(kafka, topic, { events: options.events, seed: options.seed, format, log }),
      );
      if (format === 'avro' && options.only !== 'simple') await createLookupTable(clickhouse);
      // Every run of the topic once per round, the rounds one after another: the repetitions of a run
      // alternate with the other runs', so a slow spell of the machine falls on all of them.
      const runs = throughputRuns(kafka, endpoints, topic, format, stamp, options, ownedTopic);
      const measured: BenchResult[] = [];
      for (let round = 1; round <= options.repeat; round += 1) {
        if (options.repeat > 1) log(`round ${round} of ${options.repeat} on ${topic}`);
        for (const measure of runs) measured.push(await measure(round));
      }
      results.push(...combineRuns(measured));
    }
    report.ratios = ratios(results);
    if (options.only === 'simple') return report;

    const load: SteadyLoadOptions = {
      rate: options.latencyRate,
      seconds: options.latencySeconds,
      partitions: options.partitions,
      seed: options.seed,
      format: 'avro',
      windowMs: LATENCY_WINDOW_MS,
    };
    log(
      `latency: Sluice under ${options.latencyRate.toLocaleString('en-US')} events/s for ${options.latencySeconds} s…`,
    );
    report.latency = [
      await sluiceLatency(
        kafka,
        clickhouse,
        endpoints,
        await newTopic(`bench-latency-sluice-${stamp}`),
        load,
      ),
    ];
    log(`latency: Kafka Streams under ${options.latencyRate.toLocaleString('en-US')} events/s…`);
    report.latency.push(
      await streamsLatency(
        kafka,
        endpoints,
        await newTopic(`bench-latency-streams-${stamp}`),
        ownedTopic(`bench-latency-streams-out-${stamp}`),
        load,
      ),
    );
    log(`state footprint and restore with ${options.footprintKeys.toLocaleString('en-US')} keys…`);
    report.footprint = await measureFootprint(kafka, endpoints, options.footprintKeys, log);
    report.targets = targets(report);
    return report;
  } finally {
    await admin.deleteTopics({ topics }).catch(() => undefined);
    await admin.disconnect();
    await clickhouse.close();
  }
}

function ratios(results: BenchResult[]): Record<string, number> {
  const rate = (name: string) => results.find((r) => r.name === name)?.eventsPerSecond;
  const out: Record<string, number> = {};
  for (const [a, b] of [
    ['sluice-full', 'bare-kafkajs-avro'],
    ['sluice-full', 'kafka-streams-full'],
    ['sluice-full', 'flink-full'],
    ['bare-kafkajs-avro', 'kafka-perf-tool-avro'],
    ['sluice-simple', 'bare-kafkajs-json'],
    ['sluice-simple', 'kafka-streams-json'],
    ['sluice-simple', 'flink-simple'],
    ['sluice-simple', 'sluice-simple-per-partition'],
  ]) {
    const x = rate(a!);
    const y = rate(b!);
    if (x !== undefined && y !== undefined) out[`${a} / ${b}`] = round(x / y, 3);
  }
  // CPU per event against the peers on the same topic: below 100 % Sluice spends less per event.
  const cpu = (name: string) => results.find((r) => r.name === name)?.cpuMicrosPerEvent;
  for (const [a, b] of [
    ['sluice-full', 'kafka-streams-full'],
    ['sluice-full', 'flink-full'],
    ['sluice-simple', 'kafka-streams-json'],
    ['sluice-simple', 'flink-simple'],
  ]) {
    const x = cpu(a!);
    const y = cpu(b!);
    if (x !== undefined && y) out[`CPU per event ${a} / ${b}`] = round(x / y, 3);
  }
  return out;
}

async function sluiceLatency(
  kafka: Kafka,
  clickhouse: ClickHouseClient,
  endpoints: Endpoints,
  topic: string,
  load: SteadyLoadOptions,
): Promise<LatencyResult> {
  const database = `${BENCH_DATABASE}_latency_${Date.now()}`;
  const pipeline = fullPipeline(topic, {
    name: `bench_latency_${Date.now()}`,
    countWindow: '10s',
    updateEvery: LATENCY_UPDATE_EVERY,
    batchWaitMs: 100,
    // Results are queryable once their commit is (exactly-once), and re-keyed events reach their windows
    // once the source side's commit is: the commit interval is a floor of the latency. Kafka Streams'
    // run commits every 100 ms, and so does this one; the default 1 s is for throughput.
    commitInterval: LATENCY_COMMIT_INTERVAL,
    database,
  });
  // The endpoints name the bench's database; this run writes to its own, dropped afterwards.
  const own = { ...endpoints, clickhouse: { ...endpoints.clickhouse!, database } };
  const running = await run(pipeline, { logger: createLogger('error'), endpoints: own });
  try {
    while (!running.isReady()) await new Promise((resolve) => setTimeout(resolve, 20));
    const book = new LatencyBook();
    let loading = true;
    let deadline = Infinity;
    const watching = watchClickHouseCounts(
      clickhouse,
      `${database}.counts`,
      book,
      () => !loading && (book.observed >= book.produced || Date.now() > deadline),
    );
    await steadyLoad(
      kafka,
      topic,
      load,
      // One row per window and key (re-keyed), whichever partitions its events came from.
      (e) => `${windowStartOf(e.timestamp, load.windowMs)}|${e.type}|${e.url}`,
      book,
    );
    loading = false;
    deadline = Date.now() + 15_000;
    await watching;
    return latencyResult(
      'sluice-full',
      `Sluice full pipeline, 10 s tumbling count per (type, url) with update emits every ${LATENCY_UPDATE_EVERY}, ClickHouse batches of at most 100 ms, exactly-once with commits every ${LATENCY_COMMIT_INTERVAL}; row read from ClickHouse (polled every 50 ms)`,
      load,
      book,
    );
  } finally {
    await running.stop();
    await deletePipelineTopics(kafka, pipeline).catch(() => undefined);
    await clickhouse.command({ query: `DROP DATABASE IF EXISTS ${database}` }).catch(() => undefined);
  }
}

async function streamsLatency(
  kafka: Kafka,
  endpoints: Endpoints,
  topic: string,
  outputTopic: string,
  load: SteadyLoadOptions,
): Promise<LatencyResult> {
  const streams = await startKafkaStreams({
    brokers: endpoints.brokers,
    topic,
    outputTopic,
    applicationId: `bench-latency-streams-${Date.now()}`,
    format: 'avro',
    events: load.rate * load.seconds,
    windowMs: load.windowMs,
    graceMs: STREAMS_GRACE_MS,
    commitIntervalMs: 100,
    log: () => {},
  });
  const consumer = kafka.consumer({ groupId: `bench-latency-reader-${Date.now()}`, readUncommitted: false });
  const book = new LatencyBook();
  try {
    await consumer.connect();
    await consumer.subscribe({ topic: outputTopic, fromBeginning: true });
    await consumer.run({
      eachMessage: ({ message }) => {
        const row = JSON.parse(message.value!.toString()) as {
          window_start_ms: number;
          type: string;
          url: string;
          count: number;
        };
        book.observe(`${row.window_start_ms}|${row.type}|${row.url}`, row.count, Date.now());
        return Promise.resolve();
      },
    });
    await steadyLoad(
      kafka,
      topic,
      load,
      (e) => `${windowStartOf(e.timestamp, load.windowMs)}|${e.type}|${e.url}`,
      book,
    );
    const deadline = Date.now() + 15_000;
    while (book.observed < book.produced && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 50));
    return latencyResult(
      'kafka-streams',
      `Kafka Streams ${KAFKA_VERSION}, 10 s tumbling count per (type, url), exactly_once_v2 with commits every 100 ms (its default), to a topic read read_committed`,
      load,
      book,
    );
  } finally {
    await consumer.disconnect();
    await streams.stop();
  }
}

const pct = (value: number) => `${(value * 100).toFixed(1)} %`;

/** The targets for this machine, each with the measured value and, when missed, by how much. */
function targets(report: BenchReport): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const rate = (name: string) => report.results.find((r) => r.name === name)?.eventsPerSecond ?? 0;
  const full = rate('sluice-full');
  const check = (
    figure: string,
    target: string,
    value: number,
    goal: number,
    show: string,
    higherIsBetter = true,
  ) => {
    const met = higherIsBetter ? value >= goal : value <= goal;
    checks.push({
      figure,
      target,
      value: show,
      met,
      ...(met ? {} : { by: `${higherIsBetter ? '−' : '+'}${pct(Math.abs(value - goal) / goal)}` }),
    });
  };
  check(
    'full pipeline throughput',
    '≥ 100,000 events/s',
    full,
    100_000,
    `${full.toLocaleString('en-US')} events/s`,
  );
  const ofBare = report.ratios['sluice-full / bare-kafkajs-avro'] ?? 0;
  check('full pipeline / bare kafkajs', '≥ 70 %', ofBare, 0.7, pct(ofBare));
  const ofStreams = report.ratios['sluice-full / kafka-streams-full'] ?? 0;
  check('full pipeline / Kafka Streams', '≥ 100 %', ofStreams, 1, pct(ofStreams));
  const cpu = report.results.find((r) => r.name === 'sluice-full')?.cpuMicrosPerEvent ?? Infinity;
  check('CPU per event, full pipeline', '≤ 10 µs', cpu, 10, `${cpu} µs`, false);
  const p99 = report.latency?.find((l) => l.name === 'sluice-full')?.p99Ms ?? Infinity;
  check('p99 latency, update emits', '≤ 1,000 ms', p99, 1_000, `${p99.toLocaleString('en-US')} ms`, false);
  const perKey = report.footprint?.heapBytesPerKey ?? Infinity;
  check('state per window key (heap)', '≤ 200 bytes', perKey, 200, `${perKey} bytes`, false);
  const restore = report.footprint?.restoreEntriesPerSecond ?? 0;
  check('restore', '≥ 500,000 entries/s', restore, 500_000, `${restore.toLocaleString('en-US')} entries/s`);
  return checks;
}
