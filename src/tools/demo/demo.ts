// The demo (`sluice demo`, registered in src/cli/demo.ts): the main job on the local stack, in one
// command. Starts Kafka and ClickHouse, creates `user-events`, runs the user-events pipeline (a
// tumbling, a sliding and a session window) and feeds it: first the last few minutes of history, so
// windows close at once, then a live stream with late and malformed records mixed in. Shows the
// pipeline's health and the aggregates landing in ClickHouse until Ctrl-C (or --duration), then stops
// what it started.
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { createClient } from '@clickhouse/client';
import logUpdate from 'log-update';
import { ConfigError } from '../../config/config-error.js';
import { parseDuration } from '../../config/duration.js';
import { loadPipelineFile } from '../../config/load.js';
import { run } from '../../index.js';
import { createLogger } from '../../ops/logger.js';
import { producePaced, type ProduceTotals } from '../produce/paced-producer.js';
import { syntheticFeed, type FeedRecord } from '../produce/synthetic-feed.js';
import { createKafka } from '../../source/kafka-client.js';
import { stackDown, stackStatus, stackUp } from '../stack/local-stack.js';
import { defaultStackDir } from '../../config/local-stack-endpoints.js';
import { queryAggregates, renderScreen, type Aggregates, type Sample } from './demo-screen.js';
import { sampleEvents } from '../produce/sample-events.js';

const EXAMPLE = fileURLToPath(new URL('../../../examples/user-events.yaml', import.meta.url));
const MINUTE = 60_000;
const HISTORY_MINUTES = 5;

/** The `sluice demo` options as commander hands them over (src/cli/demo.ts). */
export interface DemoOptions {
  rate: string;
  duration?: string;
  keepStack?: boolean;
  partitions: string;
}

function positive(name: string, text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1)
    throw new ConfigError([{ path: name, expected: 'a whole number of at least 1', found: text }]);
  return value;
}

export async function runDemo(opts: DemoOptions): Promise<void> {
  const rate = positive('--rate', opts.rate);
  const partitions = positive('--partitions', opts.partitions);
  const durationMs = opts.duration === undefined ? undefined : parseDuration(opts.duration);
  if (opts.duration !== undefined && durationMs === undefined)
    throw new ConfigError([
      { path: '--duration', expected: "a duration such as '30s' or '5m'", found: opts.duration },
    ]);
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const dir = defaultStackDir();
  const wasRunning = (await stackStatus(dir)).health === 'running';
  console.log('starting the local stack (Apache Kafka in KRaft mode + ClickHouse)…');
  const stack = await stackUp({ dir, log: (line) => console.log(`  ${line}`) });
  console.log(
    `  kafka ${stack.kafka.brokers} · clickhouse ${stack.clickhouse.url} (${stack.clickhouse.version})`,
  );

  const logFile = join(dir, 'demo.log');
  const logger = createLogger('info', createWriteStream(logFile, { flags: 'a' }));
  const pipeline = await loadPipelineFile(EXAMPLE);
  const kafka = createKafka([stack.kafka.brokers], 'sluice-demo', logger);
  const admin = kafka.admin();
  await admin.connect();
  if (!(await admin.listTopics()).includes(pipeline.source.topic))
    await admin.createTopics({
      topics: [{ topic: pipeline.source.topic, numPartitions: partitions }],
      waitForLeaders: true,
    });
  await admin.disconnect();

  // History first: the last few minutes of events, so the first windows close as soon as live events
  // move the watermark past them.
  const from = Math.floor(Date.now() / MINUTE) * MINUTE - HISTORY_MINUTES * MINUTE;
  // About five users per event per second: sessions of a few events with pauses between them.
  const users = Math.max(50, rate * 5);
  const history = sampleEvents(
    HISTORY_MINUTES * 60 * Math.min(rate, 50),
    from,
    Date.now() - from,
    from / MINUTE,
    2_000,
    users,
  );
  const historyFeed = history.map((event): FeedRecord => ({
    kind: 'event',
    key: event.userId,
    value: Buffer.from(JSON.stringify(event)),
  }));
  const backfilled = await producePaced(kafka, historyFeed[Symbol.iterator](), {
    topic: pipeline.source.topic,
  });
  console.log(
    `produced ${backfilled.sent} events of the last ${HISTORY_MINUTES} minutes; live events follow at ${rate}/s`,
  );

  console.log(`running pipeline ${pipeline.name} (${EXAMPLE}); its log goes to ${logFile}`);
  // The demo's own stack, whatever KAFKA_BROKERS or CLICKHOUSE_URL say.
  const sink = pipeline.sinks.clickhouse;
  const running = await run(pipeline, {
    logger,
    endpoints: {
      brokers: [stack.kafka.brokers],
      clickhouse: {
        url: stack.clickhouse.url,
        username: sink.username,
        password: sink.password,
        database: sink.database,
      },
    },
  });
  const clickhouse = createClient({ url: stack.clickhouse.url });
  let produced: ProduceTotals = { sent: 0, event: 0, late: 0, malformed: 0, elapsedMs: 0 };
  const live = producePaced(
    kafka,
    syntheticFeed({
      seed: Date.now() % 1_000_000,
      late: 0.01,
      malformed: 0.005,
      lateByMs: 10 * MINUTE,
      users,
    }),
    { topic: pipeline.source.topic, rate, signal: stop.signal, onProgress: (t) => (produced = { ...t }) },
  );
  const startedAt = Date.now();
  const deadline = durationMs === undefined ? Infinity : startedAt + durationMs;
  const interactive = process.stdout.isTTY;
  let before: Sample | undefined;
  let lastPrinted = 0;
  try {
    while (!stop.signal.aborted && Date.now() < deadline) {
      await sleep(1_000, undefined, { signal: stop.signal }).catch(() => undefined);
      const now: Sample = { at: Date.now(), produced, status: running.pipelineStatus() };
      let aggregates: Aggregates | undefined;
      let clickhouseError: string | undefined;
      try {
        aggregates = await queryAggregates(clickhouse, pipeline);
      } catch (error) {
        // The tables appear with the pipeline's first rows.
        clickhouseError = error instanceof Error ? error.message.split('\n')[0] : String(error);
      }
      const screen = renderScreen({ pipeline, startedAt, now, before, aggregates, clickhouseError });
      before = now;
      if (interactive) logUpdate(screen);
      else if (now.at - lastPrinted >= 5_000) {
        // Not a terminal (a log, a CI job): a snapshot every 5 s instead of a redrawn screen.
        console.log(`\n${screen}`);
        lastPrinted = now.at;
      }
    }
  } finally {
    if (interactive) logUpdate.done();
    stop.abort();
    console.log('\nstopping: the producer, then the pipeline (drains and commits), then the stack…');
    await live.catch(() => undefined);
    await running.stop();
    await clickhouse.close();
    if (!wasRunning && !opts.keepStack) {
      await stackDown({ dir });
      console.log('local stack stopped (use --keep-stack to leave it running)');
    } else console.log(`the local stack is still running: sluice stack status; sluice stack down`);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    console.log(
      `demo stopped after ${Math.round((Date.now() - startedAt) / 1000)} s: ${produced.sent} live events produced`,
    );
  }
}
