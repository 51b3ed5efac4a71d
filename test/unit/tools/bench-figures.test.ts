// The bench's figures from what it reads: CPU seconds from a /proc/<pid>/stat line, and repeated runs
// folded into medians with their spread. No process, no broker.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  combineRuns,
  machine,
  reportMarkdown,
  result,
  spreadOf,
  type BenchResult,
} from '../../../src/tools/bench/bench-report.js';
import { cpuSecondsOfStat } from '../../../src/tools/bench/cpu-time.js';

describe('bench figures', () => {
  it('reads utime + stime of a /proc/<pid>/stat line, whatever the command name holds', () => {
    // Fields 14 and 15 (utime 250, stime 50 ticks), a command name with spaces and parentheses.
    const fields = (name: string) =>
      `4242 (${name}) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 50 0 0 20 0 30 0 100 2000000 5000`;
    expect(cpuSecondsOfStat(fields('java'), 100)).toBe(3);
    expect(cpuSecondsOfStat(fields('node (worker) x'), 100)).toBe(3);
    expect(cpuSecondsOfStat(fields('java'), 1000)).toBe(0.3);
    expect(() => cpuSecondsOfStat('garbage', 100)).toThrow(/not a \/proc/);
  });

  it('gives a run its CPU per event beside its rate', () => {
    expect(result('a', 'json', '', 200_000, 2, 1)).toMatchObject({
      eventsPerSecond: 100_000,
      cpuSeconds: 1,
      cpuMicrosPerEvent: 5,
    });
    expect(result('a', 'json', '', 10, 1)).not.toHaveProperty('cpuMicrosPerEvent');
  });

  it('folds repetitions into the median of each figure, keeping every run and the first-seen order', () => {
    const run = (name: string, rate: number, cpu?: number): BenchResult => ({
      ...result(name, 'avro', name, 1_000_000, 1_000_000 / rate, cpu === undefined ? undefined : cpu),
      late: 0,
    });
    const combined = combineRuns([
      run('b', 100, 3),
      run('a', 10),
      run('b', 300, 1),
      run('a', 30),
      run('b', 200, 2),
    ]);
    expect(combined.map((r) => r.name)).toEqual(['b', 'a']);
    const [b, a] = combined as [BenchResult, BenchResult];
    expect(b.eventsPerSecond).toBe(200);
    expect(b.cpuSeconds).toBe(2);
    expect(b.runs?.map((r) => r.eventsPerSecond)).toEqual([100, 300, 200]);
    expect(spreadOf(b)).toBe('100–300 (±50 %)');
    // An even count: the mean of the middle two.
    expect(a.eventsPerSecond).toBe(20);
    expect(a).not.toHaveProperty('cpuMicrosPerEvent');
    expect(spreadOf(run('c', 5))).toBe('–');
  });

  it('reports a median: at most half the runs below it, at most half above, within their range', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 1_000_000 }), { minLength: 1, maxLength: 9 }),
        (rates) => {
          const [combined] = combineRuns(rates.map((r) => result('x', 'json', '', 1_000_000, 1_000_000 / r)));
          const sorted = [...rates].sort((p, q) => p - q);
          const below = rates.filter((r) => r < combined!.eventsPerSecond - 1).length;
          const above = rates.filter((r) => r > combined!.eventsPerSecond + 1).length;
          expect(below).toBeLessThanOrEqual(Math.floor(rates.length / 2));
          expect(above).toBeLessThanOrEqual(Math.floor(rates.length / 2));
          expect(combined!.eventsPerSecond).toBeGreaterThanOrEqual(sorted[0]! - 1);
          expect(combined!.eventsPerSecond).toBeLessThanOrEqual(sorted.at(-1)! + 1);
        },
      ),
    );
  });

  it("keeps a peer's windows fired through the repetitions and prints them under the ratios", () => {
    const windows = { counts: { rows: 414, events: 100_000 }, regions_5m: { rows: 66, events: 500_000 } };
    const run = (rate: number): BenchResult => ({
      ...result('flink-full', 'avro', '', 100_000, 100_000 / rate, 10),
      late: 0,
      windows,
    });
    const results = combineRuns([run(4_000), run(5_000)]);
    expect(results[0]?.windows).toEqual(windows);
    const markdown = reportMarkdown({
      at: 'now',
      machine: machine(),
      versions: { node: 'v20', kafka: '4.4.0', clickhouse: '18.16', sluice: '0.1.0', flink: '2.2.0' },
      parameters: { events: 100_000, partitions: 8, seed: 42 },
      results,
      ratios: { 'sluice-full / flink-full': 1.5 },
    });
    expect(markdown).toContain('Apache Flink 2.2.0');
    expect(markdown).toContain('- sluice-full / flink-full: 150.0 %');
    expect(markdown).toContain(
      '- flink-full, windows fired once its input ended: counts 414 rows of 100,000 events, regions_5m 66 rows of 500,000 events; 0 late',
    );
  });
});
