// `sluice bench`: the throughput bench (src/bench/throughput.ts) on the local stack (or on the servers
// KAFKA_BROKERS and CLICKHOUSE_URL name). Prints a report and
// saves it as JSON and Markdown under bench/results/ (named by time, plus latest.*). --quick is for
// iterating (200,000 events); the default is 2 million.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createClient } from '@clickhouse/client';
import Table from 'cli-table3';
import type { Command } from 'commander';
import { ConfigError } from '../config/config-error.js';
import { createLogger } from '../ops/logger.js';
import { createKafka } from '../source/kafka-client.js';
import { stackUp } from '../stack/local-stack.js';
import { defaultStackDir } from '../stack/stack-paths.js';
import { reportMarkdown, runThroughputBench } from '../bench/throughput.js';
import { SLUICE_VERSION } from '../version.js';

interface BenchOptions {
  quick?: boolean;
  events?: string;
  partitions: string;
  seed: string;
  out: string;
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
      'measure throughput on the local stack: a bare kafkajs consumer (the ceiling) and a Sluice pipeline, same topic, same run',
    )
    .option('--quick', 'a short run for iterating (200,000 events)')
    .option('-n, --events <n>', 'events to produce and read (default: 2,000,000; --quick: 200,000)')
    .option('-p, --partitions <n>', 'partitions of the bench topic', '8')
    .option('--seed <n>', 'seed of the synthetic events', '42')
    .option('-o, --out <dir>', 'where reports are saved', 'bench/results')
    .action((opts: BenchOptions) => bench(opts));
}

async function bench(opts: BenchOptions): Promise<void> {
  const events = whole('--events', opts.events ?? (opts.quick ? '200000' : '2000000'));
  const partitions = whole('--partitions', opts.partitions);
  const seed = whole('--seed', opts.seed);
  const target = await benchTarget();
  const logger = createLogger('error');
  const kafka = createKafka([target.brokers], 'sluice-bench', logger);
  const report = await runThroughputBench(
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
    { events, partitions, seed, log: (line) => console.log(line) },
  );
  const table = new Table({ head: ['run', 'events/s', 'seconds', 'what'], style: { head: [], border: [] } });
  for (const r of report.results)
    table.push([r.name, r.eventsPerSecond.toLocaleString('en-US'), r.seconds, r.description]);
  console.log(`\n${table.toString()}`);
  for (const [name, value] of Object.entries(report.ratios))
    console.log(`${name}: ${(value * 100).toFixed(1)} %`);
  mkdirSync(opts.out, { recursive: true });
  const stamp = report.at.replace(/[:.]/g, '-');
  for (const name of [stamp, 'latest']) {
    writeFileSync(join(opts.out, `${name}.json`), `${JSON.stringify(report, null, 2)}\n`);
    writeFileSync(join(opts.out, `${name}.md`), reportMarkdown(report));
  }
  console.log(`saved ${join(opts.out, `${stamp}.json`)} and .md (also latest.json, latest.md)`);
  // Everything is closed; a handle a client library still holds must not keep the process alive.
  setTimeout(() => process.exit(0), 200).unref();
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
