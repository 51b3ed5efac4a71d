// The throughput bench: one topic of synthetic user events on the local stack, read to the end by a
// bare kafkajs consumer group (the client's ceiling: it reads and does nothing) and by a Sluice
// pipeline (JSON, one tumbling count per (type, url), at-least-once, into ClickHouse), on the same
// machine in the same run, so their ratio holds even where absolute rates drift. Seeded: a seed and a
// size give the same events.
import { cpus, totalmem, hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Kafka } from 'kafkajs';
import { producePaced } from '../produce/paced-producer.js';
import { userEventStream } from '../produce/sample-events.js';
import type { FeedRecord } from '../produce/synthetic-feed.js';
import { validatePipeline } from '../config/validate.js';
import type { Endpoints } from '../config/endpoints.js';
import { run } from '../index.js';
import { createLogger } from '../ops/logger.js';

export interface BenchOptions {
  events: number;
  partitions: number;
  seed: number;
  /** Progress lines, for a run that takes minutes. */
  log: (line: string) => void;
}

export interface BenchResult {
  /** Late events and dead letters: any at all means the bench stream was not what it should be. */
  late?: number;
  deadLettered?: number;
  name: string;
  description: string;
  events: number;
  seconds: number;
  eventsPerSecond: number;
}

export interface BenchReport {
  at: string;
  machine: { host: string; cpus: number; cpuModel: string; memoryGiB: number };
  versions: { node: string; kafka: string; clickhouse: string; sluice: string };
  parameters: { events: number; partitions: number; seed: number };
  results: BenchResult[];
  ratios: Record<string, number>;
}

/** Records per send: with a few partitions, a request's batch per partition stays under the broker's 1 MB. */
const BATCH = 2_500;

/** The bench stream: event time advances 10 ms per event, so a 1-minute window holds 6,000 events. */
function* benchFeed(seed: number): Generator<FeedRecord> {
  const from = Date.UTC(2026, 0, 1);
  for (const event of userEventStream(seed, (i) => from + i * 10, 2_000, 5_000))
    yield { kind: 'event', key: event.userId, value: Buffer.from(JSON.stringify(event)) };
}

/** Produces `events` synthetic user events over the topic's partitions, keyed by user. */
async function produce(kafka: Kafka, topic: string, options: BenchOptions): Promise<BenchResult> {
  let lastLog = performance.now();
  const totals = await producePaced(kafka, benchFeed(options.seed), {
    topic,
    count: options.events,
    batchSize: BATCH,
    onProgress: (t) => {
      if (performance.now() - lastLog < 5_000) return;
      lastLog = performance.now();
      options.log(
        `  produced ${t.sent.toLocaleString('en-US')} of ${options.events.toLocaleString('en-US')}`,
      );
    },
  });
  return result(
    'produce',
    'kafkajs producer, acks=all, batches of 2,500 one at a time (not a consumer figure)',
    totals.sent,
    totals.elapsedMs / 1000,
  );
}

function result(name: string, description: string, events: number, seconds: number): BenchResult {
  return {
    name,
    description,
    events,
    seconds: round(seconds, 2),
    eventsPerSecond: Math.round(events / seconds),
  };
}

const round = (value: number, digits: number) => Math.round(value * 10 ** digits) / 10 ** digits;

/** A consumer group that reads every record and does nothing with it: kafkajs' ceiling here. */
async function bareConsumer(kafka: Kafka, topic: string, options: BenchOptions): Promise<BenchResult> {
  const consumer = kafka.consumer({ groupId: `bench-bare-${topic}`, maxBytesPerPartition: 4 * 1024 * 1024 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let read = 0;
  // From the moment the member has joined (its partitions assigned) to the last record: the same span
  // the pipeline is measured over, and not zero when one fetch brings everything.
  let first = 0;
  consumer.on(consumer.events.GROUP_JOIN, () => (first ||= performance.now()));
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  await consumer.run({
    autoCommit: false,
    partitionsConsumedConcurrently: options.partitions,
    eachBatch: (payload) => {
      const { batch } = payload;
      read += batch.messages.length;
      const last = batch.messages.at(-1);
      if (last) payload.resolveOffset(last.offset);
      if (read >= options.events) done();
      return Promise.resolve();
    },
  });
  await finished;
  const seconds = (performance.now() - first) / 1000;
  await consumer.disconnect();
  return result(
    'bare-kafkajs',
    'kafkajs consumer group reading every record and doing nothing (the client ceiling)',
    read,
    seconds,
  );
}

/** The simple Sluice pipeline: from the first record it takes to every record through its windows. */
async function simplePipeline(
  topic: string,
  endpoints: Endpoints,
  options: BenchOptions,
): Promise<BenchResult> {
  const name = `bench_simple_${topic.replace(/[^A-Za-z0-9_]/g, '_')}`;
  const pipeline = validatePipeline({
    name,
    source: { topic, fromBeginning: true },
    processing: { guarantee: 'at-least-once', commitInterval: '1s' },
    time: { field: 'timestamp', maxOutOfOrderness: '5s', grace: '0s', idleTimeout: '2s' },
    windows: [{ name: 'counts_1m', type: 'tumbling', size: '1m', groupBy: ['type', 'url'] }],
    sinks: { clickhouse: { database: 'sluice_bench' } },
    http: { enabled: false },
  });
  const running = await run(pipeline, { logger: createLogger('error'), endpoints });
  let first = 0;
  let late = 0;
  let dead = 0;
  let lastLog = performance.now();
  try {
    for (;;) {
      const taken = running
        .status()
        .reduce((n, p) => n + p.completed + p.filtered + p.deadLettered + p.skipped, 0);
      // From joined and restored (ready: records flow only after that) to every record through.
      if (first === 0 && running.isReady()) first = performance.now();
      if (taken >= options.events) break;
      if (performance.now() - lastLog > 5_000) {
        lastLog = performance.now();
        options.log(`  sluice: ${taken.toLocaleString('en-US')} events through`);
      }
      await sleep(20);
    }
    const totals = running
      .status()
      .reduce((t, p) => ({ late: t.late + p.late, dead: t.dead + p.deadLettered }), { late: 0, dead: 0 });
    options.log(`  sluice: ${totals.late} late, ${totals.dead} dead-lettered`);
    late = totals.late;
    dead = totals.dead;
  } finally {
    await running.stop();
  }
  const seconds = (performance.now() - first) / 1000;
  return {
    late,
    deadLettered: dead,
    ...result(
      'sluice-simple',
      'Sluice: JSON, one tumbling count per (type, url), at-least-once, ClickHouse sink',
      options.events,
      seconds,
    ),
  };
}

export async function runThroughputBench(
  kafka: Kafka,
  endpoints: Endpoints,
  versions: BenchReport['versions'],
  options: BenchOptions,
): Promise<BenchReport> {
  const topic = `bench-user-events-${Date.now()}`;
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: options.partitions }], waitForLeaders: true });
  try {
    options.log(
      `producing ${options.events.toLocaleString('en-US')} events to ${topic} (${options.partitions} partitions)…`,
    );
    const produced = await produce(kafka, topic, options);
    options.log('bare kafkajs consumer…');
    const bare = await bareConsumer(kafka, topic, options);
    options.log('sluice, simple pipeline…');
    const sluice = await simplePipeline(topic, endpoints, options);
    const cpu = cpus();
    return {
      at: new Date().toISOString(),
      machine: {
        host: hostname(),
        cpus: cpu.length,
        cpuModel: cpu[0]?.model ?? 'unknown',
        memoryGiB: round(totalmem() / 2 ** 30, 1),
      },
      versions,
      parameters: { events: options.events, partitions: options.partitions, seed: options.seed },
      results: [produced, bare, sluice],
      ratios: { 'sluice-simple / bare-kafkajs': round(sluice.eventsPerSecond / bare.eventsPerSecond, 3) },
    };
  } finally {
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.disconnect();
  }
}

export function reportMarkdown(report: BenchReport): string {
  const lines = [
    `# Sluice bench, ${report.at}`,
    '',
    `Machine: ${report.machine.host}, ${report.machine.cpus} × ${report.machine.cpuModel}, ${report.machine.memoryGiB} GiB.`,
    `Versions: Node ${report.versions.node}, Apache Kafka ${report.versions.kafka}, ClickHouse ${report.versions.clickhouse}, Sluice ${report.versions.sluice}.`,
    `Parameters: ${report.parameters.events.toLocaleString('en-US')} events, ${report.parameters.partitions} partitions, seed ${report.parameters.seed}.`,
    '',
    '| run | events/s | seconds | what |',
    '| --- | ---: | ---: | --- |',
    ...report.results.map(
      (r) => `| ${r.name} | ${r.eventsPerSecond.toLocaleString('en-US')} | ${r.seconds} | ${r.description} |`,
    ),
    '',
    ...Object.entries(report.ratios).map(([name, value]) => `- ${name}: ${(value * 100).toFixed(1)} %`),
    '',
  ];
  return lines.join('\n');
}
