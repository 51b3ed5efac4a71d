// `sluice demo`: the main job on the local stack. Starts Kafka and ClickHouse, produces sample events
// over the last few minutes, runs the page-views pipeline and prints the per-minute aggregates that
// landed in ClickHouse.
import { createClient } from '@clickhouse/client';
import type { Command } from 'commander';
import { Partitioners } from 'kafkajs';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { loadPipelineFile } from '../config/load.js';
import { run } from '../index.js';
import { createLogger } from '../ops/logger.js';
import { createKafka } from '../source/kafka-client.js';
import { stackDown, stackStatus, stackUp } from '../stack/local-stack.js';
import { defaultStackDir } from '../stack/stack-paths.js';
import { sampleEvents } from './sample-events.js';

const EXAMPLE = fileURLToPath(new URL('../../examples/page-views.yaml', import.meta.url));
const MINUTE = 60_000;

interface DemoOptions {
  events: string;
  keepStack?: boolean;
}

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description(
      'start the local stack, produce sample events, run the page-views pipeline, print the aggregates',
    )
    .option('-n, --events <count>', 'how many sample events to produce', '5000')
    .option('--keep-stack', 'leave the local stack running afterwards')
    .action((opts: DemoOptions) => demo(opts));
}

async function demo(opts: DemoOptions): Promise<void> {
  const dir = defaultStackDir();
  const wasRunning = (await stackStatus(dir)).health === 'running';
  console.log('starting the local stack (Apache Kafka in KRaft mode + ClickHouse)…');
  const stack = await stackUp({ dir, log: (line) => console.log(`  ${line}`) });
  console.log(
    `  kafka ${stack.kafka.brokers} · clickhouse ${stack.clickhouse.url} (${stack.clickhouse.version})`,
  );

  const logger = createLogger('warn');
  const base = await loadPipelineFile(EXAMPLE);
  // Short idle timeout: the demo's stream stops, and its windows should close seconds later.
  const pipeline = { ...base, time: { ...base.time, idleTimeout: 2_000 } };
  const kafka = createKafka([stack.kafka.brokers], 'sluice-demo', logger);
  const admin = kafka.admin();
  await admin.connect();
  if (!(await admin.listTopics()).includes(pipeline.source.topic)) {
    await admin.createTopics({
      topics: [{ topic: pipeline.source.topic, numPartitions: 4 }],
      waitForLeaders: true,
    });
  }
  await admin.disconnect();

  const count = Number(opts.events);
  const from = Math.floor(Date.now() / MINUTE) * MINUTE - 5 * MINUTE;
  const events = sampleEvents(count, from, 5 * MINUTE, from / MINUTE);
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  for (let i = 0; i < events.length; i += 1_000) {
    await producer.send({
      topic: pipeline.source.topic,
      messages: events.slice(i, i + 1_000).map((e) => ({ key: e.userId, value: JSON.stringify(e) })),
    });
  }
  await producer.disconnect();
  console.log(
    `produced ${count} events to ${pipeline.source.topic}, event times over the 5 minutes before this one`,
  );

  const running = await run(pipeline, { logger });
  const clickhouse = createClient({ url: stack.clickhouse.url });
  const table = `${pipeline.sinks.clickhouse.database}.${pipeline.windows[0]?.name ?? ''}`;
  const since = new Date(from).toISOString().slice(0, 19).replace('T', ' ');
  try {
    const deadline = Date.now() + 120_000;
    let landed = 0;
    let shown = -1;
    while (landed < count && Date.now() < deadline) {
      await sleep(500);
      const rows = await clickhouse.query({
        query: `SELECT sum(count) AS n FROM ${table} FINAL WHERE window_start >= '${since}'`,
        format: 'JSONEachRow',
      });
      landed = Number(((await rows.json<{ n: string }>())[0] ?? { n: '0' }).n);
      if (landed !== shown) console.log(`  events counted in ClickHouse: ${landed}/${count}`);
      shown = landed;
    }
    if (landed < count)
      console.log(`  only ${landed} of ${count} events landed within 2 minutes; see the logs above`);
    const result = await clickhouse.query({
      query: `SELECT toString(window_start) AS minute, type, url, sum(count) AS events
              FROM ${table} FINAL WHERE window_start >= '${since}'
              GROUP BY window_start, type, url ORDER BY window_start, events DESC LIMIT 1 BY window_start, type`,
      format: 'JSONEachRow',
    });
    console.log(`\nTop URL per event type and minute (ClickHouse: ${table} FINAL):`);
    console.table(await result.json());
  } finally {
    await clickhouse.close();
    await running.stop();
    if (!wasRunning && !opts.keepStack) {
      await stackDown({ dir });
      console.log('local stack stopped (use --keep-stack to leave it running)');
    }
  }
}
