// Throughput: how fast a topic of the bench stream is read to the end by a bare kafkajs consumer group
// (the client's ceiling: it reads and does nothing) and by a Sluice pipeline, each from the moment it
// has joined its group to the last record.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Kafka } from 'kafkajs';
import type { Endpoints } from '../../config/endpoints.js';
import { rekeyPlanOf } from '../../config/rekeying.js';
import type { Pipeline } from '../../config/schema.js';
import { run as runPipeline } from '../../index.js';
import { createLogger } from '../../ops/logger.js';
import type { BenchFormat } from './bench-feed.js';
import { result, type BenchResult } from './bench-report.js';
import { deletePipelineTopics } from './bench-pipelines.js';
import { cpuSince, ownCpu } from './cpu-time.js';
import { eventsThrough } from './events-through.js';
import { committedToEnd } from './group-progress.js';

export interface ThroughputOptions {
  events: number;
  partitions: number;
  log: (line: string) => void;
}

/** A consumer group that reads every record and does nothing with it: kafkajs' ceiling here. */
export async function bareConsumer(
  kafka: Kafka,
  topic: string,
  format: BenchFormat,
  options: ThroughputOptions & { round?: number },
): Promise<BenchResult> {
  const consumer = kafka.consumer({
    groupId: `bench-bare-${topic}-${options.round ?? 1}`,
    maxBytesPerPartition: 4 * 1024 * 1024,
  });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let read = 0;
  // From the moment the member has joined (its partitions assigned) to the last record: the same span
  // the pipeline is measured over, and not zero when one fetch brings everything.
  let first = 0;
  let cpu: Promise<() => Promise<number>> | undefined;
  consumer.on(consumer.events.GROUP_JOIN, () => {
    if (first) return;
    first = performance.now();
    cpu = cpuSince(ownCpu);
  });
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
  const cpuSeconds = await (await cpu)?.();
  await consumer.disconnect();
  return result(
    `bare-kafkajs-${format}`,
    format,
    'kafkajs consumer group reading every record and doing nothing (the client ceiling)',
    read,
    seconds,
    cpuSeconds,
  );
}

/**
 * A Sluice pipeline from the moment it is ready (joined, restored) to every record through its windows
 * and every offset committed (the state and results that go with them are durable by then).
 */
export async function sluiceThroughput(
  kafka: Kafka,
  pipeline: Pipeline,
  endpoints: Endpoints,
  run: { name: string; topic: BenchFormat; description: string },
  options: ThroughputOptions,
): Promise<BenchResult> {
  const running = await runPipeline(pipeline, { logger: createLogger('error'), endpoints });
  let first = 0;
  let cpu: (() => Promise<number>) | undefined;
  let cpuSeconds: number | undefined;
  let late = 0;
  let dead = 0;
  let end = 0;
  let lastLog = performance.now();
  const groups = rekeyPlanOf(pipeline).groups.length;
  try {
    for (;;) {
      // Through: every event on the source side and, with re-keyed windows, on the re-keyed side too,
      // where each event arrives once per distinct group key of the re-keyed windows.
      const status = running.pipelineStatus();
      const taken = eventsThrough(status.partitions, status.rekeyed?.partitions, groups);
      // From joined and restored (ready: records flow only after that) to every record through.
      if (first === 0 && running.isReady()) {
        first = performance.now();
        cpu = await cpuSince(ownCpu);
      }
      if (taken >= options.events) break;
      if (performance.now() - lastLog > 5_000) {
        lastLog = performance.now();
        options.log(`  ${run.name}: ${taken.toLocaleString('en-US')} events through`);
      }
      await sleep(20);
    }
    await committedToEnd(kafka, pipeline.source.groupId ?? `sluice-${pipeline.name}`, pipeline.source.topic);
    cpuSeconds = await cpu?.();
    // The span ends here: stopping the pipeline is not part of its rate.
    end = performance.now();
    const totals = running
      .status()
      .reduce((t, p) => ({ late: t.late + p.late, dead: t.dead + p.deadLettered }), { late: 0, dead: 0 });
    options.log(`  ${run.name}: ${totals.late} late, ${totals.dead} dead-lettered`);
    late = totals.late;
    dead = totals.dead;
  } finally {
    await running.stop();
    await deletePipelineTopics(kafka, pipeline).catch(() => undefined);
  }
  const seconds = (end - first) / 1000;
  return {
    late,
    deadLettered: dead,
    ...result(run.name, run.topic, run.description, options.events, seconds, cpuSeconds),
  };
}
