// `sluice bench`: the bench (src/tools/bench/run-bench.ts) on the local stack (or on the servers
// KAFKA_BROKERS and CLICKHOUSE_URL name). Prints a report and saves it as JSON and Markdown under
// bench/results/ (named by time, plus latest.*). --quick is for iterating (a few minutes); the
// default is 2 million events per topic. --compare puts an earlier report's figures beside the new ones.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createClient } from '@clickhouse/client';
import Table from 'cli-table3';
import type { Command } from 'commander';
import { ConfigError } from '../config/config-error.js';
import { createLogger } from '../ops/logger.js';
import { createKafka } from '../source/kafka-client.js';
import { stackUp } from '../tools/stack/local-stack.js';
import { defaultStackDir } from '../config/local-stack-endpoints.js';
import { machine, reportMarkdown, spreadOf, type BenchReport } from '../tools/bench/bench-report.js';
import { parseMemberCounts } from '../tools/bench/scale-out-figures.js';
import { SLUICE_VERSION } from '../version.js';

interface BenchOptions {
  quick?: boolean;
  events?: string;
  partitions: string;
  seed: string;
  out: string;
  latencyRate?: string;
  latencySeconds?: string;
  keys?: string;
  repeat?: string;
  compare?: string;
  simpleOnly?: boolean;
  scaleOut?: boolean;
  members: string;
  scaleOutJob: string;
}

function whole(name: string, text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1)
    throw new ConfigError([{ path: name, expected: 'a whole number of at least 1', found: text }]);
  return value;
}

export function registerBenchCommand(program: Command): void {
  program
    .command('bench')
    .description(
      'measure on the local stack: throughput of Sluice, bare kafkajs, Kafka’s perf tool, Kafka Streams and Flink on the same topics; latency; state per key; restore',
    )
    .option('--quick', 'a short run for iterating (100,000 events, one round, small latency and state runs)')
    .option('-n, --events <n>', 'events per topic (default: 2,000,000; --quick: 100,000)')
    .option('--latency-rate <n>', 'events per second of the latency runs (default: 5,000; --quick: 2,000)')
    .option('--latency-seconds <n>', 'how long each latency run lasts (default: 30; --quick: 8)')
    .option('--keys <n>', 'distinct window keys of the state run (default: 1,000,000; --quick: 100,000)')
    .option(
      '--repeat <n>',
      'runs of each throughput measurement, alternated; the report gives medians and the spread (default: 3; --quick: 1)',
    )
    .option(
      '--compare <report.json>',
      'an earlier report: its figures are shown beside the new ones (before/after)',
    )
    .option(
      '--simple-only',
      'only the bare kafkajs consumer and the simple pipeline (no Java peers, latency or state)',
    )
    .option(
      '--scale-out',
      'only the scale-out run: the same job by 1, 2 and 4 `sluice run` processes in one group, CPU per event per member (default events: 200,000)',
    )
    .option('--members <list>', 'member counts of the scale-out run', '1,2,4')
    .option('--scale-out-job <job>', 'the scale-out run’s job: full (Avro, three windows) or simple', 'full')
    .option('-p, --partitions <n>', 'partitions of the bench topic', '8')
    .option('--seed <n>', 'seed of the synthetic events', '42')
    .option('-o, --out <dir>', 'where reports are saved', 'bench/results')
    .action((opts: BenchOptions) => bench(opts));
}

async function bench(opts: BenchOptions): Promise<void> {
  if (opts.scaleOut) return benchScaleOut(opts);
  const quick = opts.quick === true;
  const events = whole('--events', opts.events ?? (quick ? '100000' : '2000000'));
  const partitions = whole('--partitions', opts.partitions);
  const seed = whole('--seed', opts.seed);
  const latencyRate = whole('--latency-rate', opts.latencyRate ?? (quick ? '2000' : '5000'));
  const latencySeconds = whole('--latency-seconds', opts.latencySeconds ?? (quick ? '8' : '30'));
  const footprintKeys = whole('--keys', opts.keys ?? (quick ? '100000' : '1000000'));
  const repeat = whole('--repeat', opts.repeat ?? (quick ? '1' : '3'));
  const before = opts.compare ? readReport(opts.compare) : undefined;
  const target = await benchTarget();
  const logger = createLogger('error');
  const kafka = createKafka([target.brokers], 'sluice-bench', logger);
  // Loaded on use: the bench brings the Java peers and more that `sluice run` never needs.
  const { runBench } = await import('../tools/bench/run-bench.js');
  const report = await runBench(
    kafka,
    {
      brokers: [target.brokers],
      clickhouse: { url: target.clickhouse, username: 'default', password: '', database: 'sluice_bench' },
    },
    {
      node: process.version,
      kafka: target.kafkaVersion,
      clickhouse: target.clickhouseVersion,
      sluice: SLUICE_VERSION,
    },
    {
      events,
      partitions,
      seed,
      quick,
      repeat,
      latencyRate,
      latencySeconds,
      footprintKeys,
      ...(opts.simpleOnly ? { only: 'simple' as const } : {}),
      log: (line) => console.log(line),
    },
  );
  const table = new Table({
    head: ['run', 'topic', 'events/s', 'spread', 'CPU µs/event', 'seconds'],
    style: { head: [], border: [] },
  });
  for (const r of report.results)
    table.push([
      r.name,
      r.topic,
      r.eventsPerSecond.toLocaleString('en-US'),
      spreadOf(r),
      r.cpuMicrosPerEvent ?? '–',
      r.seconds,
    ]);
  console.log(`\n${table.toString()}`);
  for (const [name, value] of Object.entries(report.ratios))
    console.log(`${name}: ${(value * 100).toFixed(1)} %`);
  for (const l of report.latency ?? [])
    console.log(
      `latency ${l.name}: p50 ${l.p50Ms} ms, p99 ${l.p99Ms} ms (${l.samples} events at ${l.rate}/s)`,
    );
  const f = report.footprint;
  if (f)
    console.log(
      `state: ${f.heapBytesPerKey} bytes of heap per key (${f.stateBytesPerKey} estimated); restore ${f.restoreEntriesPerSecond.toLocaleString('en-US')} entries/s`,
    );
  for (const t of report.targets ?? [])
    console.log(`target ${t.figure} ${t.target}: ${t.value} — ${t.met ? 'met' : `missed (${t.by})`}`);
  saveReport(report, opts.out, '', before);
}

/** Saves the report as <time><suffix>.json and .md, and as latest<suffix>.*, then lets the process end. */
function saveReport(report: BenchReport, out: string, suffix: string, before?: BenchReport): void {
  mkdirSync(out, { recursive: true });
  const stamp = report.at.replace(/[:.]/g, '-');
  for (const name of [`${stamp}${suffix}`, `latest${suffix}`]) {
    writeFileSync(join(out, `${name}.json`), `${JSON.stringify(report, null, 2)}\n`);
    writeFileSync(join(out, `${name}.md`), reportMarkdown(report, before));
  }
  console.log(
    `saved ${join(out, `${stamp}${suffix}.json`)} and .md (also latest${suffix}.json, latest${suffix}.md)`,
  );
  // Everything is closed; a handle a client library still holds must not keep the process alive.
  setTimeout(() => process.exit(0), 200).unref();
}

/** `--scale-out`: only the scale-out run, saved as its own report (latest-scale-out.*, not latest.*). */
async function benchScaleOut(opts: BenchOptions): Promise<void> {
  const events = whole('--events', opts.events ?? '200000');
  const partitions = whole('--partitions', opts.partitions);
  const seed = whole('--seed', opts.seed);
  const members = parseMemberCounts(opts.members, partitions);
  if (opts.scaleOutJob !== 'full' && opts.scaleOutJob !== 'simple')
    throw new ConfigError([{ path: '--scale-out-job', expected: 'full or simple', found: opts.scaleOutJob }]);
  const target = await benchTarget();
  const kafka = createKafka([target.brokers], 'sluice-bench', createLogger('error'));
  const { runScaleOut } = await import('../tools/bench/scale-out.js');
  const scaleOut = await runScaleOut(
    kafka,
    {
      brokers: [target.brokers],
      clickhouse: { url: target.clickhouse, username: 'default', password: '', database: 'sluice_bench' },
    },
    { events, partitions, seed, members, job: opts.scaleOutJob, log: (line) => console.log(line) },
  );
  const report: BenchReport = {
    at: new Date().toISOString(),
    machine: machine(),
    versions: {
      node: process.version,
      kafka: target.kafkaVersion,
      clickhouse: target.clickhouseVersion,
      sluice: SLUICE_VERSION,
    },
    parameters: { events, partitions, seed },
    results: [],
    ratios: {},
    scaleOut,
  };
  const table = new Table({
    head: ['members', 'events/s', 'CPU µs/event', 'per member: events @ CPU µs/event', 'seconds'],
    style: { head: [], border: [] },
  });
  for (const r of scaleOut.runs)
    table.push([
      r.members,
      r.eventsPerSecond.toLocaleString('en-US'),
      r.cpuMicrosPerEvent,
      r.perMember.map((m) => `${m.events.toLocaleString('en-US')} @ ${m.cpuMicrosPerEvent}`).join(', '),
      r.seconds,
    ]);
  console.log(`\n${table.toString()}`);
  console.log(
    `the members share ${report.machine.cpus} cores with the broker and ClickHouse: events/s cannot grow past them; CPU per event must stay flat`,
  );
  saveReport(report, opts.out, '-scale-out');
}

function readReport(file: string): BenchReport {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as BenchReport;
  } catch (error) {
    throw new ConfigError(
      [{ path: '--compare', expected: 'a bench report (.json)', found: file }],
      undefined,
      error,
    );
  }
}

/** The local stack, or the servers KAFKA_BROKERS and CLICKHOUSE_URL name (the tests' stack, say). */
async function benchTarget() {
  const brokers = process.env.KAFKA_BROKERS?.split(',')[0]?.trim();
  const clickhouse = process.env.CLICKHOUSE_URL;
  if (brokers && clickhouse) {
    const client = createClient({ url: clickhouse });
    const result = await client.query({ query: 'SELECT version() AS v', format: 'JSONEachRow' });
    const [row] = await result.json<{ v: string }>();
    await client.close();
    return {
      brokers,
      clickhouse,
      kafkaVersion: 'external (KAFKA_BROKERS)',
      clickhouseVersion: row?.v ?? 'unknown',
    };
  }
  console.log('starting the local stack…');
  const stack = await stackUp({ dir: defaultStackDir(), log: (line) => console.log(`  ${line}`) });
  return {
    brokers: stack.kafka.brokers,
    clickhouse: stack.clickhouse.url,
    kafkaVersion: stack.kafka.version,
    clickhouseVersion: stack.clickhouse.version,
  };
}
