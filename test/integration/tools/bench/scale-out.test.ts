// `sluice bench --scale-out` on a small topic: two `sluice run` member processes (started the way the
// CLI itself was, here from the sources) share the full job's partitions, take every event between
// them exactly once on both sides, and each spends CPU on its share. Speed is never asserted: the
// bench measures, tests do not.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import type { BenchReport } from '../../../../src/tools/bench/bench-report.js';
import { testKafka } from '../../support/fixtures.js';
import { runSluice } from '../../support/sluice-process.js';

/** The run's input topics and its pipelines' topics (changelogs, repartition, dead letters, late). */
const SCALE_OUT_TOPIC = /bench[-_]scale[-_]out/;

async function scaleOutTopics(): Promise<string[]> {
  const admin = testKafka().admin();
  await admin.connect();
  try {
    return (await admin.listTopics()).filter((t) => SCALE_OUT_TOPIC.test(t));
  } finally {
    await admin.disconnect();
  }
}

describe('sluice bench --scale-out', () => {
  it('shares the events between two member processes, each taking some, none twice, and reports their CPU', async () => {
    const out = mkdtempSync(join(tmpdir(), 'sluice-scale-out-'));
    const events = 4_000;
    const topicsBefore = await scaleOutTopics();
    const args = ['--scale-out', '--members', '2', '--events', String(events), '--partitions', '4'];
    const { code, output } = await runSluice(['bench', ...args, '--seed', '7', '--out', out], {
      KAFKA_BROKERS: inject('kafkaBrokers'),
      CLICKHOUSE_URL: inject('clickhouseUrl'),
    });
    expect(code, output.slice(-3000)).toBe(0);
    const report = JSON.parse(readFileSync(join(out, 'latest-scale-out.json'), 'utf8')) as BenchReport;
    expect(report.results).toEqual([]);
    const runs = report.scaleOut?.runs ?? [];
    expect(runs.map((r) => [r.members, r.events])).toEqual([[2, events]]);
    const [run] = runs;
    expect([run?.late, run?.deadLettered]).toEqual([0, 0]);
    const members = run?.perMember ?? [];
    expect(members).toHaveLength(2);
    // Both took a share; together every event once on the source side and, for each of the full job's
    // two re-keyed group keys, once on the re-keyed side.
    for (const m of members) {
      expect(m.events, JSON.stringify(m)).toBeGreaterThan(0);
      expect(m.cpuSeconds, JSON.stringify(m)).toBeGreaterThan(0);
      expect(m.cpuMicrosPerEvent).toBeCloseTo((m.cpuSeconds * 1e6) / m.events, -1);
    }
    expect(members.reduce((n, m) => n + m.events, 0)).toBe(events);
    expect(members.reduce((n, m) => n + m.rekeyedRecords, 0)).toBe(events * 2);
    // The partitions of both sides were split between them, each owned by one.
    expect(members.flatMap((m) => m.sourcePartitions).sort()).toEqual([0, 1, 2, 3]);
    expect(members.flatMap((m) => m.rekeyedPartitions).sort()).toEqual([0, 1, 2, 3]);
    expect(run?.cpuSeconds).toBeCloseTo(members[0]!.cpuSeconds + members[1]!.cpuSeconds, 2);
    // It leaves nothing on the broker, and its report says what the figures are.
    expect((await scaleOutTopics()).filter((t) => !topicsBefore.includes(t))).toEqual([]);
    const markdown = readFileSync(join(out, 'latest-scale-out.md'), 'utf8');
    expect(markdown).toContain('## Scale-out');
    expect(markdown).toContain('CPU per event is the figure that must stay flat');
  }, 150_000);
});
