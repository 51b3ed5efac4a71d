// State footprint and restore: a pipeline holding `keys` open windows (one tumbling window per user,
// every user distinct, on one partition) is measured for memory per key — Sluice's own estimate, the
// heap after a full GC and the RSS growth — then stopped (a last commit writes the state to the
// changelog) and started again, and the restore's duration gives changelog entries per second.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Kafka } from 'kafkajs';
import type { Endpoints } from '../../config/endpoints.js';
import { validatePipeline } from '../../config/validate.js';
import { run } from '../../index.js';
import { createLogger } from '../../ops/logger.js';
import { producePaced } from '../produce/paced-producer.js';
import type { FeedRecord } from '../produce/synthetic-feed.js';
import { BenchPeerError } from './bench-peer-error.js';
import { round, type FootprintResult } from './bench-report.js';
import { BENCH_DATABASE, deletePipelineTopics } from './bench-pipelines.js';
import { committedToEnd } from './group-progress.js';

setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

function settledMemory(): { heap: number; rss: number } {
  for (let i = 0; i < 3; i += 1) collectGarbage();
  const usage = process.memoryUsage();
  return { heap: usage.heapUsed, rss: usage.rss };
}

/** `keys` events, one per distinct user, inside one hour that begins an hour into today (UTC). */
function* distinctUsers(keys: number): Generator<FeedRecord> {
  const day = Date.now() - (Date.now() % 86_400_000);
  for (let i = 0; i < keys; i += 1) {
    const event = {
      eventId: `e${i}`,
      type: 'page_view',
      userId: `user-${i}`,
      timestamp: day + 3_600_000 + (i % 3_600_000),
    };
    yield { kind: 'event', key: null, value: Buffer.from(JSON.stringify(event)) };
  }
}

export async function measureFootprint(
  kafka: Kafka,
  endpoints: Endpoints,
  keys: number,
  log: (line: string) => void,
): Promise<FootprintResult> {
  const topic = `bench-state-${Date.now()}`;
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
  await admin.disconnect();
  // One day-long window per user: none closes while the bench runs (the idle timeout is longer too).
  const pipeline = validatePipeline({
    name: `bench_state_${topic.replace(/[^A-Za-z0-9_]/g, '_')}`,
    // One partition holds every user's events, as keyedBy says: the state is measured where they are.
    source: { topic, fromBeginning: true, keyedBy: ['userId'] },
    time: { field: 'timestamp', maxOutOfOrderness: '5s', grace: '0s', idleTimeout: '1h' },
    // Room for every key: no key cap, no early closes by the state budget.
    windows: [{ name: 'users_1d', type: 'tumbling', size: '1d', groupBy: ['userId'], maxKeys: keys + 1 }],
    state: { maxBytes: 8 * 2 ** 30 },
    sinks: { clickhouse: { database: BENCH_DATABASE } },
    processing: { commitInterval: '2s' },
    http: { enabled: false },
  });
  try {
    log(`  producing ${keys.toLocaleString('en-US')} events of distinct users to ${topic}…`);
    await producePaced(kafka, distinctUsers(keys), { topic, count: keys, batchSize: 5_000 });
    const logger = createLogger('error');
    const before = settledMemory();
    let running = await run(pipeline, { logger, endpoints });
    await committedToEnd(kafka, `sluice-${pipeline.name}`, topic);
    const after = settledMemory();
    const status = running.status();
    const windows = status.reduce((n, p) => n + p.openWindows, 0);
    const stateBytes = status.reduce((n, p) => n + p.stateBytes, 0);
    if (windows !== keys)
      throw new BenchPeerError(`${windows} open windows for ${keys} keys: the bench is broken`);
    log(
      `  ${windows.toLocaleString('en-US')} open windows, ${Math.round(stateBytes / 2 ** 20)} MiB estimated`,
    );
    await running.stop();

    // Started again: the state comes back from the changelog before any record is read.
    running = await run(pipeline, { logger, endpoints });
    while (!running.isReady()) await sleep(20);
    const metrics = (await running.getMetrics()).metrics;
    const gauge = (name: string) => metrics.find((m) => m.name === name)?.values[0]?.value ?? 0;
    const restoreSeconds = gauge('sluice_restore_duration_seconds');
    const entries = gauge('sluice_restore_records_total');
    const restoredWindows = running.status().reduce((n, p) => n + p.openWindows, 0);
    await running.stop();
    if (restoredWindows !== windows)
      throw new BenchPeerError(
        `the restore brought back ${restoredWindows} windows of ${windows}: the bench is broken`,
      );
    return {
      keys: windows,
      stateBytesPerKey: Math.round(stateBytes / windows),
      heapBytesPerKey: Math.round((after.heap - before.heap) / windows),
      rssBytesPerKey: Math.round((after.rss - before.rss) / windows),
      changelogEntries: entries,
      restoreSeconds: round(restoreSeconds, 2),
      restoreEntriesPerSecond: Math.round(entries / restoreSeconds),
    };
  } finally {
    // The topic, and the changelog that held a million windows: nothing stays on the broker.
    await deletePipelineTopics(kafka, pipeline, [topic]).catch(() => undefined);
  }
}
