// `sluice bench` on small topics: it runs to the end on the test stack — Sluice's simple and full
// pipelines, bare kafkajs, Kafka's perf tool, Kafka Streams and Flink on the same topics, latency under a
// steady load, the state footprint and the restore — prints its figures, and saves a report (JSON and
// Markdown) naming the machine, versions and parameters. Speed itself is never asserted: the bench
// measures, tests do not. What is asserted is that every figure was measured over every event.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import type { BenchReport } from '../../../../src/tools/bench/bench-report.js';
import { testKafka } from '../../support/fixtures.js';
import { runSluice } from '../../support/sluice-process.js';

/** Topics the bench makes: its input topics, its peers' and Sluice's (changelog, dead letters, late). */
const BENCH_TOPIC = /^(bench-|sluice-bench_)/;

async function benchTopics(): Promise<string[]> {
  const admin = testKafka().admin();
  await admin.connect();
  try {
    return (await admin.listTopics()).filter((t) => BENCH_TOPIC.test(t));
  } finally {
    await admin.disconnect();
  }
}

describe('sluice bench', () => {
  it('measures Sluice and its peers on the same topics, latency, state and restore, and saves the report', async () => {
    const out = mkdtempSync(join(tmpdir(), 'sluice-bench-'));
    const args = ['--events', '20000', '--partitions', '2', '--seed', '7', '--out', out];
    const small = ['--latency-rate', '500', '--latency-seconds', '4', '--keys', '20000', '--repeat', '1'];
    const topicsBefore = await benchTopics();
    const { code, output } = await runSluice(['bench', ...args, ...small], {
      KAFKA_BROKERS: inject('kafkaBrokers'),
      CLICKHOUSE_URL: inject('clickhouseUrl'),
    });
    expect(code, output.slice(-3000)).toBe(0);
    expect(output).toMatch(/sluice-full \/ kafka-streams-full: \d+\.\d %/);
    // It leaves nothing on the broker: not its topics, not the changelogs of the pipelines it ran.
    expect((await benchTopics()).filter((t) => !topicsBefore.includes(t))).toEqual([]);
    const report = JSON.parse(readFileSync(join(out, 'latest.json'), 'utf8')) as BenchReport;
    expect(report.parameters).toMatchObject({ events: 20_000, partitions: 2, seed: 7 });
    expect(report.results.map((r) => r.name)).toEqual([
      'produce-avro',
      'bare-kafkajs-avro',
      'kafka-perf-tool-avro',
      'kafka-streams-full',
      'flink-full',
      'sluice-full',
      'produce-json',
      'bare-kafkajs-json',
      'kafka-streams-json',
      'flink-simple',
      'sluice-simple',
      'sluice-simple-per-partition',
    ]);
    for (const r of report.results) {
      expect(r.events, r.name).toBe(20_000);
      expect(r.eventsPerSecond, r.name).toBeGreaterThan(0);
    }
    // Every consumer ran once here (one round: the repetitions' alternation and medians are the unit
    // tests' in bench-figures.test.ts), with its process's CPU per event (the perf tool reports its own
    // span only, so no CPU); producing ran once.
    expect(report.parameters.repeat).toBe(1);
    for (const r of report.results.filter((x) => !x.name.startsWith('produce-'))) {
      expect(r.runs, r.name).toBeUndefined();
      if (r.name === 'kafka-perf-tool-avro') continue;
      expect(r.cpuMicrosPerEvent, r.name).toBeGreaterThan(0);
    }
    expect(output).toMatch(/CPU per event sluice-full \/ kafka-streams-full: \d+\.\d %/);
    expect(output).toMatch(/CPU per event sluice-full \/ flink-full: \d+\.\d %/);
    expect(output).toMatch(/sluice-simple \/ flink-simple: \d+\.\d %/);
    // The streams are in event-time order within their jitter: nothing late, nothing dead-lettered.
    for (const name of ['sluice-full', 'sluice-simple', 'sluice-simple-per-partition']) {
      const sluice = report.results.find((r) => r.name === name);
      expect([sluice?.late, sluice?.deadLettered], name).toEqual([0, 0]);
    }
    // Flink's windows, once its input ended, held every event (as many times as each window counts it).
    const flink = report.results.find((r) => r.name === 'flink-full');
    expect([flink?.late, flink?.windows?.counts?.events, flink?.windows?.regions_5m?.events]).toEqual([
      0, 20_000, 100_000,
    ]);
    // Every event of the steady load was seen counted, by Sluice and by Kafka Streams.
    expect(report.latency?.map((l) => [l.name, l.samples])).toEqual([
      ['sluice-full', 2_000],
      ['kafka-streams', 2_000],
    ]);
    for (const l of report.latency ?? []) expect(l.p99Ms).toBeGreaterThanOrEqual(l.p50Ms);
    expect(report.footprint?.keys).toBe(20_000);
    expect(report.footprint?.changelogEntries).toBeGreaterThanOrEqual(20_000);
    expect(report.footprint?.heapBytesPerKey).toBeGreaterThan(0);
    expect(report.targets?.map((t) => t.figure)).toHaveLength(7);
    expect(report.versions.node).toBe(process.version);
    const markdown = readFileSync(join(out, 'latest.md'), 'utf8');
    expect(markdown).toContain('| sluice-full | avro |');
    expect(markdown).toContain('## Targets');
  }, 480_000); // JVM runs of the peers (Flink starting a mini-cluster on each topic)
});
