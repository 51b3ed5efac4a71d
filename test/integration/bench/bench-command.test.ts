// `sluice bench` on a small topic: it runs to the end on the test stack, prints its table, and saves a
// report (JSON and Markdown) naming the machine, versions and parameters, with a rate per run and the
// ratio. Speed itself is never asserted: the bench measures, tests do not.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import type { BenchReport } from '../../../src/bench/throughput.js';
import { runSluice } from '../support/sluice-process.js';

describe('sluice bench', () => {
  it('measures the bare consumer and the simple pipeline on one topic and saves the report', async () => {
    const out = mkdtempSync(join(tmpdir(), 'sluice-bench-'));
    const { code, output } = await runSluice(
      ['bench', '--events', '20000', '--partitions', '2', '--seed', '7', '--out', out],
      {
        KAFKA_BROKERS: inject('kafkaBrokers'),
        CLICKHOUSE_URL: inject('clickhouseUrl'),
      },
    );
    expect(code, output.slice(-3000)).toBe(0);
    expect(output).toMatch(/sluice-simple \/ bare-kafkajs: \d+\.\d %/);
    const report = JSON.parse(readFileSync(join(out, 'latest.json'), 'utf8')) as BenchReport;
    expect(report.parameters).toEqual({ events: 20_000, partitions: 2, seed: 7 });
    expect(report.results.map((r) => r.name)).toEqual(['produce', 'bare-kafkajs', 'sluice-simple']);
    for (const r of report.results) {
      expect(r.events).toBe(20_000);
      expect(r.eventsPerSecond).toBeGreaterThan(0);
    }
    // The stream is in event-time order within its jitter: nothing late, nothing dead-lettered.
    const sluice = report.results.find((r) => r.name === 'sluice-simple');
    expect([sluice?.late, sluice?.deadLettered]).toEqual([0, 0]);
    expect(report.machine.cpus).toBeGreaterThan(0);
    expect(report.versions.node).toBe(process.version);
    expect(readFileSync(join(out, 'latest.md'), 'utf8')).toContain('| sluice-simple |');
  });
});
