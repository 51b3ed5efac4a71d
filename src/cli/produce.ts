// `sluice produce`: synthetic user events (page views, clicks, carts and purchases in sessions, with
// late and malformed records mixed in) at a rate, or events replayed from an NDJSON or CSV file, to a
// topic. Shows a progress bar on a terminal and a line every few seconds otherwise.
import { SingleBar, Presets } from 'cli-progress';
import type { Command } from 'commander';
import { parseDuration } from '../config/duration.js';
import { resolveToolBrokers } from '../config/endpoints.js';
import { loadPipelineFile } from '../config/load.js';
import { ConfigError } from '../config/config-error.js';
import { createLogger } from '../ops/logger.js';
import { fileFeed, formatOf } from '../tools/produce/file-feed.js';
import { producePaced, type ProduceTotals } from '../tools/produce/paced-producer.js';
import { syntheticFeed } from '../tools/produce/synthetic-feed.js';
import { checkKafka, createKafka } from '../source/kafka-client.js';

interface ProduceOptions {
  config?: string;
  topic?: string;
  brokers?: string;
  count?: string;
  rate?: string;
  late: string;
  malformed: string;
  lateBy: string;
  seed: string;
  file?: string;
  format?: string;
  key?: string;
  partitions?: string;
}

function numberOption(
  name: string,
  text: string | undefined,
  min: number,
  max = Infinity,
): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isFinite(value) || value < min || value > max)
    throw new ConfigError([
      { path: name, expected: `a number from ${min}${max === Infinity ? '' : ` to ${max}`}`, found: text },
    ]);
  return value;
}

export function registerProduceCommand(program: Command): void {
  program
    .command('produce')
    .description(
      'send synthetic user events (with late and malformed ones mixed in) or replay an NDJSON/CSV file to a topic',
    )
    .option('-c, --config <file>', "take the topic and brokers from a pipeline's source")
    .option('-t, --topic <topic>', 'topic to send to (default: the pipeline source, else user-events)')
    .option('-b, --brokers <list>', 'comma-separated brokers (default: KAFKA_BROKERS, else the local stack)')
    .option('-n, --count <n>', 'how many records to send (default: all of the file; synthetic: until Ctrl-C)')
    .option('-r, --rate <n>', 'records per second (default: as fast as the broker takes them)')
    .option('--late <share>', 'synthetic: share of late events, 0..1', '0.01')
    .option('--malformed <share>', 'synthetic: share of malformed records, 0..1', '0.005')
    .option('--late-by <duration>', 'synthetic: how far behind now a late event is', '10m')
    .option('--seed <n>', 'synthetic: seed, so a run can be repeated', '1')
    .option('-f, --file <path>', 'replay the events of an NDJSON (.ndjson, .jsonl) or CSV (.csv) file')
    .option('--format <format>', 'ndjson or csv, when the file name does not say')
    .option('-p, --partitions <n>', 'create the topic with this many partitions when it does not exist')
    .option('-k, --key <field>', 'the field whose value keys each record', 'userId')
    .addHelpText(
      'after',
      `
Examples:
  sluice produce -n 100000 -r 2000 -p 4       100k synthetic events at 2,000/s to user-events
  sluice produce -c examples/user-events.yaml  synthetic events until Ctrl-C, to the pipeline's topic
  sluice produce -f events.ndjson -t user-events
  sluice produce -f events.csv -r 500`,
    )
    .action((opts: ProduceOptions) => produce(opts));
}

async function produce(opts: ProduceOptions): Promise<void> {
  const pipeline = opts.config ? await loadPipelineFile(opts.config) : undefined;
  const topic = opts.topic ?? pipeline?.source.topic ?? 'user-events';
  const listed = opts.brokers
    ?.split(',')
    .map((b) => b.trim())
    .filter(Boolean);
  const brokers = await resolveToolBrokers(listed ?? pipeline?.source.brokers);
  const count = numberOption('--count', opts.count, 1);
  const rate = numberOption('--rate', opts.rate, 1);
  const partitions = numberOption('--partitions', opts.partitions, 1);
  const lateByMs = parseDuration(opts.lateBy);
  if (lateByMs === undefined)
    throw new ConfigError([{ path: '--late-by', expected: "a duration such as '10m'", found: opts.lateBy }]);
  const feed = opts.file
    ? fileFeed(opts.file, formatOf(opts.file, opts.format), opts.key)
    : syntheticFeed({
        seed: numberOption('--seed', opts.seed, 0)!,
        late: numberOption('--late', opts.late, 0, 1)!,
        malformed: numberOption('--malformed', opts.malformed, 0, 1)!,
        lateByMs,
        // About five users per event per second: sessions of a few events with pauses between them.
        users: Math.max(50, Math.round((rate ?? 200) * 5)),
      });

  await checkKafka(brokers);
  const kafka = createKafka(brokers, 'sluice-produce', createLogger('error'));
  const admin = kafka.admin();
  await admin.connect();
  try {
    if (!(await admin.listTopics()).includes(topic)) {
      if (partitions === undefined)
        throw new ConfigError([
          {
            path: '--topic',
            expected: `an existing topic on ${brokers.join(',')} (or pass --partitions <n> to create it)`,
            found: topic,
          },
        ]);
      await admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true });
      console.error(`created ${topic} with ${partitions} partition(s)`);
    }
  } finally {
    await admin.disconnect();
  }

  const stop = new AbortController();
  process.once('SIGINT', () => stop.abort());
  process.once('SIGTERM', () => stop.abort());
  const progress = progressReporter(count, topic);
  const totals = await producePaced(kafka, feed, {
    topic,
    rate,
    count,
    signal: stop.signal,
    onProgress: progress.update,
  });
  progress.stop(totals);
}

function describe(t: ProduceTotals): string {
  const perSecond = t.elapsedMs > 0 ? Math.round((t.sent * 1000) / t.elapsedMs) : 0;
  return `${t.sent} records (${t.event} events, ${t.late} late, ${t.malformed} malformed) in ${(t.elapsedMs / 1000).toFixed(1)} s, ${perSecond}/s`;
}

/** A bar on a terminal (when the total is known); otherwise a line every 2 s. */
function progressReporter(count: number | undefined, topic: string) {
  if (process.stderr.isTTY && count !== undefined) {
    const bar = new SingleBar(
      { format: `${topic} [{bar}] {value}/{total} records, {eta_formatted} left`, stream: process.stderr },
      Presets.shades_classic,
    );
    bar.start(count, 0);
    return {
      update: (t: ProduceTotals) => bar.update(t.sent),
      stop: (t: ProduceTotals) => {
        bar.stop();
        console.log(`sent ${describe(t)} to ${topic}`);
      },
    };
  }
  let last = Date.now();
  return {
    update: (t: ProduceTotals) => {
      if (Date.now() - last < 2_000) return;
      last = Date.now();
      console.error(`  ${describe(t)}`);
    },
    stop: (t: ProduceTotals) => console.log(`sent ${describe(t)} to ${topic}`),
  };
}
