// The scale-out run's figures from what its members report: which member counts run, when the
// members' assignment has settled, and the CPU per event of each member and of the run. No process.
import { describe, expect, it } from 'vitest';
import type { PartitionStatus } from '../../../src/runtime/member-status.js';
import { reportMarkdown, type BenchReport } from '../../../src/tools/bench/bench-report.js';
import {
  assignmentSettled,
  parseMemberCounts,
  scaleOutRun,
  sourceEventsThrough,
  type MemberStatusBody,
} from '../../../src/tools/bench/scale-out-figures.js';

/** A partition's status with only what the figures read set (through = completed + filtered + …). */
function partition(id: number, completed: number, extra: Partial<PartitionStatus> = {}): PartitionStatus {
  return {
    partition: id,
    completed,
    filtered: 0,
    deadLettered: 0,
    skipped: 0,
    late: 0,
    ...extra,
  } as PartitionStatus;
}

function member(
  source: [number, number][],
  rekeyed: [number, number][] | undefined,
  ready = true,
): MemberStatusBody {
  const side = (parts: [number, number][]) => ({
    stages: {},
    partitions: parts.map(([id, n]) => partition(id, n)),
    restoring: { partitions: [], progress: {} as never },
  });
  return { ready, ...side(source), ...(rekeyed ? { rekeyed: side(rekeyed) } : {}) };
}

describe('scale-out figures', () => {
  it('takes distinct member counts up to the partitions, and refuses anything else', () => {
    expect(parseMemberCounts('1,2,4', 8)).toEqual([1, 2, 4]);
    expect(parseMemberCounts(' 2 , 8 ', 8)).toEqual([2, 8]);
    for (const bad of ['', '0', '1,1', '1,9', '2.5', 'two', '1,,2'])
      expect(() => parseMemberCounts(bad, 8), bad).toThrow(/--members: expected distinct member counts/);
  });

  it('calls the assignment settled only when each partition of both sides has exactly one ready owner', () => {
    const half = (from: number): [number, number][] => [0, 1, 2, 3].map((p) => [from + p, 0]);
    const a = member(half(0), half(4));
    const b = member(half(4), half(0));
    expect(assignmentSettled([a, b], 8, true)).toBe(true);
    // The first member still holds everything, the second has joined and owns nothing yet.
    const all = member([...half(0), ...half(4)], [...half(0), ...half(4)]);
    expect(assignmentSettled([all, member([], [])], 8, true)).toBe(false);
    // A partition owned twice (one member not yet told of its revoke), or one owned by none.
    expect(assignmentSettled([a, member([...half(4), [0, 0]], half(0))], 8, true)).toBe(false);
    expect(assignmentSettled([a, member(half(4).slice(1), half(0))], 8, true)).toBe(false);
    // The re-keyed side counts only when the job has one.
    expect(assignmentSettled([a, member(half(4), [])], 8, true)).toBe(false);
    expect(assignmentSettled([member(half(0), undefined), member(half(4), undefined)], 8, false)).toBe(true);
    expect(assignmentSettled([a, member(half(4), half(0), false)], 8, true)).toBe(false);
  });

  it('gives each member its CPU per event it took, and the run its CPU per event produced', () => {
    const a = member(
      [
        [0, 600],
        [1, 400],
      ],
      [[0, 1_200]],
    );
    const b = member([[2, 1_000]], [[1, 800]]);
    expect(sourceEventsThrough([a, b])).toBe(2_000);
    const run = scaleOutRun(
      [
        { status: a, cpuSeconds: 0.2 },
        { status: b, cpuSeconds: 0.3 },
      ],
      2_000,
      4,
    );
    expect(run).toMatchObject({ members: 2, events: 2_000, seconds: 4, eventsPerSecond: 500 });
    expect(run.cpuSeconds).toBe(0.5);
    expect(run.cpuMicrosPerEvent).toBe(250);
    expect(run.perMember).toEqual([
      {
        sourcePartitions: [0, 1],
        rekeyedPartitions: [0],
        events: 1_000,
        rekeyedRecords: 1_200,
        cpuSeconds: 0.2,
        cpuMicrosPerEvent: 200,
      },
      {
        sourcePartitions: [2],
        rekeyedPartitions: [1],
        events: 1_000,
        rekeyedRecords: 800,
        cpuSeconds: 0.3,
        cpuMicrosPerEvent: 300,
      },
    ]);
  });

  it('counts late events and dead letters on both sides', () => {
    const a = member([[0, 10]], [[0, 10]]);
    a.partitions[0] = partition(0, 10, { late: 2, deadLettered: 1 });
    a.rekeyed!.partitions[0] = partition(0, 10, { late: 3 });
    const run = scaleOutRun([{ status: a, cpuSeconds: 1 }], 11, 1);
    expect([run.late, run.deadLettered]).toEqual([5, 1]);
  });

  it('puts a scale-out run alone in the report: its tables, no empty throughput table', () => {
    const run = scaleOutRun([{ status: member([[0, 100]], [[0, 100]]), cpuSeconds: 0.01 }], 100, 1);
    const report: BenchReport = {
      at: '2026-12-01T00:00:00.000Z',
      machine: { host: 'h', cpus: 2, cpuModel: 'cpu', memoryGiB: 1 },
      versions: { node: 'v20', kafka: '4.4.0', clickhouse: '18.16', sluice: '0.1.0' },
      parameters: { events: 100, partitions: 1, seed: 1 },
      results: [],
      ratios: {},
      scaleOut: {
        job: 'full',
        description: 'the full job',
        partitions: 1,
        runs: [run, { ...run, members: 2, cpuMicrosPerEvent: 150 }],
      },
    };
    const markdown = reportMarkdown(report);
    expect(markdown).not.toContain('## Throughput');
    expect(markdown).toContain('## Scale-out');
    expect(markdown).toContain('| 1 | 1 | 100 | 0.01 | 100 | 0 | 0 | 100.0 % |');
    expect(markdown).toContain('| 2 | 1 | 100 | 0.01 | 150 | 0 | 0 | 150.0 % |');
    expect(markdown).toContain('| 1 | 1 | 0 | 0 | 100 | 100 | 0.01 | 100 |');
  });
});
