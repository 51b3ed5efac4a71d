// The operations endpoints under a running pipeline on the real stack: liveness, readiness, status
// values that move as records flow, Prometheus metrics, and liveness failing once the pipeline stopped.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Kafka } from 'kafkajs';
import { definePipeline, run, type RunningPipeline } from '../../../src/index.js';
import { startOpsServer, type OpsServer } from '../../../src/ops/http-server.js';
import { createTopic, testKafka, uniqueName, waitFor } from '../support/fixtures.js';
import { captureLog } from '../support/log-capture.js';
import { countingPipeline, produceEvents, withProducer } from '../support/pipeline-truth.js';

interface StatusBody {
  ready: boolean;
  partitions: { partition: number; fetched: number; openWindows: number; watermark: number | null }[];
  restoring: { partitions: number[] };
  stages: Record<string, { processed: number; filtered: number; failed: number; averageLatencyMs: number }>;
}

describe('operations endpoints', () => {
  let kafka: Kafka;
  let running: RunningPipeline | undefined;
  let server: OpsServer | undefined;

  beforeAll(() => {
    kafka = testKafka();
  });

  afterAll(async () => {
    await running?.stop();
    await server?.close();
  });

  it('serve health, readiness, status and metrics that follow the pipeline', async () => {
    const name = uniqueName('ops');
    const topic = uniqueName('user_events');
    await createTopic(kafka, topic, 2);
    running = await run(
      // Computed per source partition (declared keyed by a field of its groupBy): the partitions shown
      // hold the windows. A re-keyed pipeline shows them under `rekeyed`.
      definePipeline(
        countingPipeline({ name, topic, database: uniqueName('ops'), idleTimeout: '1h', keyedBy: ['type'] }),
      ),
      { logger: captureLog().logger },
    );
    // Joined, but its partitions' state is still being read back: not ready yet.
    expect(running.isReady()).toBe(false);
    server = await startOpsServer(running, { host: '127.0.0.1', port: 0 });
    const get = async (path: string) => {
      const response = await fetch(`http://127.0.0.1:${server!.port}${path}`);
      return { status: response.status, text: await response.text() };
    };

    expect(await get('/healthz')).toEqual({ status: 200, text: JSON.stringify({ status: 'ok' }) });
    await waitFor(
      'ready',
      () => get('/readyz'),
      (r) => r.status === 200,
    );
    const before = JSON.parse((await get('/status')).text) as StatusBody;
    expect(before.ready).toBe(true);
    expect(before.partitions.every((p) => p.fetched === 0)).toBe(true);

    await withProducer(kafka, (producer) =>
      produceEvents(producer, topic, {
        partitions: 2,
        perPartition: 100,
        base: Date.UTC(2026, 5, 1),
        span: 600_000,
        seed: 3,
      }),
    );
    const after = await waitFor(
      'the status to count the records',
      async () => JSON.parse((await get('/status')).text) as StatusBody,
      (s) => s.partitions.reduce((sum, p) => sum + p.fetched, 0) === 200,
    );
    expect(after.partitions.every((p) => p.openWindows > 0 && p.watermark !== null)).toBe(true);
    expect(after.stages.parse).toMatchObject({ processed: 200, filtered: 0, failed: 0 });
    expect(after.stages.parse!.averageLatencyMs).toBeGreaterThan(0);

    const metrics = await waitFor(
      'a commit in the metrics',
      () => get('/metrics'),
      (m) => (sample(m.text, 'sluice_commits_total', name) ?? 0) > 0,
    );
    expect(metrics.status).toBe(200);
    const value = (metric: string, labels: Record<string, string> = {}) =>
      sample(metrics.text, metric, name, labels);
    expect(value('sluice_restoring_partitions')).toBe(0);
    expect(value('sluice_records_fetched_total')).toBe(200);
    expect(value('sluice_records_completed_total')).toBe(200);
    expect(value('sluice_dead_letters_total')).toBe(0);
    for (const partition of ['0', '1']) {
      expect(value('sluice_consumer_lag', { partition })).toBe(0);
      expect(value('sluice_open_windows', { partition })).toBeGreaterThan(0);
      expect(value('sluice_state_bytes', { partition })).toBeGreaterThan(0);
      expect(value('sluice_buffer_records', { partition })).toBe(0);
    }
    expect(value('sluice_paused_partitions', { reason: 'sink' })).toBe(0);
    expect(value('sluice_stage_records_total', { stage: 'parse', outcome: 'out' })).toBe(200);
    expect(value('sluice_stage_duration_seconds_count', { stage: 'parse' })).toBe(200);
    expect(metrics.text).toContain('# TYPE sluice_commit_duration_seconds histogram');
    expect(metrics.text).toContain('# TYPE sluice_sink_flush_duration_seconds histogram');
    expect((await get('/nope')).status).toBe(404);
    const embedded = await running.getMetrics();
    expect(embedded.ready).toBe(true);
    expect(embedded.status.stages.parse?.processed).toBe(200);
    expect(embedded.metrics.find((m) => m.name === 'sluice_records_fetched_total')?.values[0]?.value).toBe(
      200,
    );

    await running.stop();
    expect((await get('/healthz')).status).toBe(503);
    expect((await get('/readyz')).status).toBe(503);
  });
});

describe('liveness', () => {
  let running: RunningPipeline | undefined;
  let server: OpsServer | undefined;
  afterAll(async () => {
    await server?.close();
    // The stuck stage never returns: stop abandons it at the shutdown deadline.
    await running?.stop();
  });

  it('fails once a partition with uncommitted records has not committed for stalledAfterIntervals', async () => {
    const kafka = testKafka();
    const name = uniqueName('stall');
    const topic = uniqueName('user_events');
    await createTopic(kafka, topic, 1);
    let seen = 0;
    const base = countingPipeline({ name, topic, database: uniqueName('stall'), idleTimeout: '1h' });
    running = await run(
      definePipeline({
        ...base,
        processing: { commitInterval: '200ms', stalledAfterIntervals: 10 },
        shutdown: { timeout: '1s' },
        // From the 51st record on, the stage never answers: the partition cannot reach a barrier.
        stages: [
          {
            name: 'stuck',
            timeout: '10m',
            process: (record) => (++seen > 50 ? new Promise(() => undefined) : record.value),
          },
        ],
      }),
      { logger: captureLog().logger },
    );
    server = await startOpsServer(running, { host: '127.0.0.1', port: 0 });
    const health = async () => {
      const response = await fetch(`http://127.0.0.1:${server!.port}/healthz`);
      return {
        status: response.status,
        body: (await response.json()) as { status: string; reason?: string },
      };
    };
    await waitFor(
      'ready',
      () => Promise.resolve(running!.isReady()),
      (ready) => ready,
    );
    await withProducer(kafka, (producer) =>
      produceEvents(producer, topic, {
        partitions: 1,
        perPartition: 100,
        base: Date.UTC(2026, 5, 1),
        span: 600_000,
        seed: 4,
      }),
    );
    await waitFor(
      'the stage to be stuck',
      () => Promise.resolve(seen),
      (n) => n > 50,
    );
    // Commits ran until the stage got stuck: healthy for a while, then stalled (10 × 200 ms).
    expect((await health()).status).toBe(200);
    const stalled = await waitFor('/healthz to fail', health, (h) => h.status === 503, 30_000);
    expect(stalled.body.status).toBe('stalled');
    expect(stalled.body.reason).toMatch(
      /partitions 0 hold uncommitted records and have not committed for over 2 s/,
    );
  });
});

/** One sample of a metric for the pipeline with the given labels (in any order). */
function sample(
  text: string,
  metric: string,
  pipeline: string,
  labels: Record<string, string> = {},
): number | undefined {
  const wanted = { pipeline, ...labels };
  for (const line of text.split('\n')) {
    const match = /^([a-z_]+)\{([^}]*)\} (\S+)$/.exec(line);
    if (!match || match[1] !== metric) continue;
    const found = Object.fromEntries(
      [...match[2]!.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]] as [string, string]),
    );
    if (
      Object.keys(found).length === Object.keys(wanted).length &&
      Object.entries(wanted).every(([k, v]) => found[k] === v)
    )
      return Number(match[3]);
  }
  return undefined;
}
