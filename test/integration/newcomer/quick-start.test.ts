// The newcomer's path, as written. The README's demo command runs in a fresh copy of the project
// (only the files git tracks), against a stack of its own, until the live aggregates show; then
// Ctrl-C stops it, and everything it started. The TypeScript example's custom enrich stage runs on
// events replayed from a file with `sluice produce`, and ClickHouse holds exactly what it derives.
import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClickHouseClient } from '@clickhouse/client';
import type { Kafka } from 'kafkajs';
import { inject } from 'vitest';
import { sampleEvents } from '../../../src/tools/produce/sample-events.js';
import { stackDown, stackStatus } from '../../../src/tools/stack/local-stack.js';
import { tumblingWindowOf } from '../../../src/windows/tumbling.js';
import { run } from '../../../src/index.js';
import { createLogger } from '../../../src/ops/logger.js';
import { createTopic, queryRows, uniqueName, waitFor } from '../support/fixtures.js';
import { runSluice } from '../support/sluice-process.js';
import { useTestServices } from '../support/services.js';
import { enrich, pipeline as examplePipeline } from '../../../examples/user-events.js';

/** The commands of the README's quick start, comments dropped. */
function quickStartCommands(): string[] {
  const readme = readFileSync('README.md', 'utf8');
  const section = readme.slice(readme.indexOf('## Quick start'));
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
  return block
    .split('\n')
    .map((line) => line.replace(/#.*$/, '').trim())
    .filter(Boolean);
}

/** The project as a fresh clone has it: the files git tracks (and new ones not ignored), nothing built. */
function freshCopy(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-newcomer-'));
  const files = execFileSync('git', ['ls-files', '-co', '--exclude-standard'], { encoding: 'utf8' })
    .split('\n')
    .filter(Boolean);
  for (const file of files) {
    mkdirSync(dirname(join(dir, file)), { recursive: true });
    try {
      cpSync(file, join(dir, file));
    } catch {
      // Deleted in the working tree but still tracked: a clone of the commit would not have it either.
    }
  }
  return dir;
}

describe("the newcomer's path", () => {
  const services = useTestServices();
  let kafka: Kafka;
  let clickhouse: ClickHouseClient;
  beforeAll(() => ({ kafka, clickhouse } = services));
  const cleanups: (() => Promise<void> | void)[] = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  it('runs the quick-start demo command as written, shows live aggregates, and stops everything on Ctrl-C', async () => {
    const [demo, test] = quickStartCommands();
    expect(demo).toMatch(/npm run demo$/);
    expect(test).toMatch(/npm test$/);
    const project = freshCopy();
    const stackDir = mkdtempSync(join(tmpdir(), 'sluice-newcomer-stack-'));
    cleanups.push(async () => {
      await stackDown({ dir: stackDir }).catch(() => undefined);
      rmSync(project, { recursive: true, force: true });
      rmSync(stackDir, { recursive: true, force: true });
    });
    // A terminal's Ctrl-C goes to the whole foreground process group: so does ours.
    const env: NodeJS.ProcessEnv = { ...process.env, SLUICE_STACK_DIR: stackDir };
    delete env.KAFKA_BROKERS;
    delete env.CLICKHOUSE_URL;
    const child = spawn('bash', ['-c', demo!], {
      cwd: project,
      env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal })),
    );
    cleanups.push(() => {
      if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, 'SIGKILL');
    });

    // A row of the per-minute table with counts: windows closed and landed in ClickHouse.
    await waitFor(
      'the demo to show per-minute aggregates',
      () => Promise.resolve(output),
      (text) => /Events per minute and type[\s\S]*│ \d\d:\d\d\s+│ [\d,]+\s+│/.test(text),
      400_000,
    ).catch((error: Error) => {
      throw new Error(`${error.message.slice(0, 200)}\n--- demo output ---\n${output.slice(-4000)}`);
    });
    expect(output).toMatch(/Pipeline health/);
    expect(output).toMatch(/Sessions of the last 10 minutes/);
    process.kill(-child.pid!, 'SIGINT');
    // npm passes Ctrl-C on and then ends itself by it (a shell shows 130); the demo must end cleanly.
    const { code, signal } = await exited;
    expect(code === 0 || signal === 'SIGINT', `exit ${code} / ${signal}\n${output.slice(-2000)}`).toBe(true);
    expect(output).toMatch(/demo stopped after \d+ s/);
    expect(output).toContain('local stack stopped');
    expect((await stackStatus(stackDir)).health).toBe('stopped');
  }, 600_000);

  it('runs the TypeScript example: its enrich stage derives section, device and region, and the windows count by them', async () => {
    const topic = uniqueName('example_events');
    const name = uniqueName('example');
    const database = uniqueName('example');
    await createTopic(kafka, topic, 2);
    // Five minutes of events in a file, replayed with `sluice produce` as a user would.
    const from = Date.UTC(2026, 8, 1);
    const events = sampleEvents(2_000, from, 5 * 60_000, 31, 2_000, 300);
    const file = join(mkdtempSync(join(tmpdir(), 'sluice-events-')), 'events.ndjson');
    writeFileSync(file, events.map((e) => JSON.stringify(e)).join('\n'));
    const produced = await runSluice([
      'produce',
      '--file',
      file,
      '--topic',
      topic,
      '--brokers',
      inject('kafkaBrokers'),
    ]);
    expect(produced.output).toContain(`sent ${events.length} records (${events.length} events`);
    expect(produced.code).toBe(0);

    const pipeline = {
      ...examplePipeline,
      name,
      source: { ...examplePipeline.source, topic, groupId: `sluice-${name}` },
      time: { ...examplePipeline.time, idleTimeout: 1_000 },
      sinks: { ...examplePipeline.sinks, clickhouse: { ...examplePipeline.sinks.clickhouse, database } },
    };
    const running = await run(pipeline, {
      logger: createLogger('warn'),
      endpoints: {
        brokers: [inject('kafkaBrokers')],
        clickhouse: { url: inject('clickhouseUrl'), username: 'default', password: '', database },
      },
    });
    cleanups.push(() => running.stop());

    // The truth: the example's own enrich applied to what was produced, counted per minute.
    const expected: Record<string, number> = {};
    for (const event of events) {
      const enriched = enrich({ value: event } as Parameters<typeof enrich>[0]);
      if (enriched.device === 'bot') continue;
      const minute = new Date(tumblingWindowOf(event.timestamp, 60_000).start).toISOString().slice(11, 16);
      const key = `${minute}|${event.type}|${enriched.section}`;
      expected[key] = (expected[key] ?? 0) + 1;
    }
    const counts = () =>
      queryRows<{ minute: string; type: string; section: string; n: string }>(
        clickhouse,
        `SELECT substring(toString(window_start), 12, 5) AS minute, type, section, sum(count) AS n
         FROM ${database}.events_by_section_1m GROUP BY window_start, type, section`,
      ).then((rows) =>
        Object.fromEntries(rows.map((r) => [`${r.minute}|${r.type}|${r.section}`, Number(r.n)])),
      );
    const total = Object.values(expected).reduce((a, b) => a + b, 0);
    const found = await waitFor(
      `${total} events by minute, type and section`,
      counts,
      (c) => Object.values(c).reduce((a, b) => a + b, 0) >= total,
      90_000,
    );
    expect(found).toEqual(expected);
    expect(Object.keys(found).some((k) => k.endsWith('|docs'))).toBe(true);

    const regions = await queryRows<{ region: string; device: string }>(
      clickhouse,
      `SELECT DISTINCT region, device FROM ${database}.region_device_5m`,
    );
    expect(new Set(regions.map((r) => r.device))).toEqual(new Set(['mobile', 'desktop']));
    expect(regions.map((r) => r.region)).toContain('emea');
  });
});
