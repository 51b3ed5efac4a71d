// The scale-out run's figures from what its members report: which member counts to run, whether the
// members' assignment has settled (every partition of both topics owned by exactly one member, each
// member owning some), and each member's and the run's CPU per event. Pure: statuses and CPU in.
import { ConfigError } from '../../config/config-error.js';
import type { PipelineStatus } from '../../runtime/member-status.js';
import { round, type ScaleOutMember, type ScaleOutRun } from './bench-report.js';
import { recordsThrough } from './events-through.js';

/** What a member's /status serves. */
export type MemberStatusBody = PipelineStatus & { ready: boolean };

/**
 * `--members 1,2,4`: distinct whole numbers, each at most the partitions (a member beyond them would
 * own none and sit idle, so it says nothing about scaling).
 */
export function parseMemberCounts(text: string, partitions: number): number[] {
  const counts = text.split(',').map((part) => Number(part.trim()));
  const fits = (n: number) => Number.isInteger(n) && n >= 1 && n <= partitions;
  if (text.trim() === '' || !counts.every(fits) || new Set(counts).size !== counts.length)
    throw new ConfigError([
      {
        path: '--members',
        expected: `distinct member counts between 1 and the ${partitions} partitions, comma-separated, such as 1,2,4`,
        found: text,
      },
    ]);
  return counts;
}

function ownsEachOnce(owned: readonly (readonly number[])[], partitions: number): boolean {
  const all = owned.flat();
  return (
    owned.every((p) => p.length > 0) &&
    all.length === partitions &&
    new Set(all).size === partitions &&
    all.every((p) => Number.isInteger(p) && p >= 0 && p < partitions)
  );
}

const sourcePartitionsOf = (s: MemberStatusBody) => s.partitions.map((p) => p.partition);
const rekeyedPartitionsOf = (s: MemberStatusBody) => (s.rekeyed?.partitions ?? []).map((p) => p.partition);

/**
 * Whether every member is ready and the group has finished handing out partitions: each of the
 * `partitions` source partitions (and, with re-keyed windows, of the repartition topic) owned and restored
 * by exactly one member, and every member owning some of each. Before that a member would take events
 * that a rebalance moves on, and some would be taken twice.
 */
export function assignmentSettled(
  statuses: readonly MemberStatusBody[],
  partitions: number,
  rekeyed: boolean,
): boolean {
  return (
    statuses.every((s) => s.ready && s.restoring.partitions.length === 0) &&
    ownsEachOnce(statuses.map(sourcePartitionsOf), partitions) &&
    (!rekeyed ||
      (statuses.every((s) => s.rekeyed?.restoring.partitions.length === 0) &&
        ownsEachOnce(statuses.map(rekeyedPartitionsOf), partitions)))
  );
}

/** Events through the source side of all members. */
export function sourceEventsThrough(statuses: readonly MemberStatusBody[]): number {
  return statuses.reduce((n, s) => n + recordsThrough(s.partitions), 0);
}

/** Records through the re-keyed side of all members (each event once per re-keyed group key). */
export function rekeyedRecordsThrough(statuses: readonly MemberStatusBody[]): number {
  return statuses.reduce((n, s) => n + recordsThrough(s.rekeyed?.partitions ?? []), 0);
}

/** One member's status at the finish line and the CPU seconds its process spent over the span. */
export interface MemberReading {
  status: MemberStatusBody;
  cpuSeconds: number;
}

const micros = (cpuSeconds: number, events: number) =>
  events === 0 ? 0 : round((cpuSeconds * 1e6) / events, 2);

export function memberFigures({ status, cpuSeconds }: MemberReading): ScaleOutMember {
  const events = recordsThrough(status.partitions);
  return {
    sourcePartitions: sourcePartitionsOf(status).sort((a, b) => a - b),
    rekeyedPartitions: rekeyedPartitionsOf(status).sort((a, b) => a - b),
    events,
    rekeyedRecords: recordsThrough(status.rekeyed?.partitions ?? []),
    cpuSeconds: round(cpuSeconds, 3),
    cpuMicrosPerEvent: micros(cpuSeconds, events),
  };
}

/** The run's figures: rate over the span, every member's CPU summed and per event produced. */
export function scaleOutRun(
  readings: readonly MemberReading[],
  events: number,
  seconds: number,
): ScaleOutRun {
  const cpuSeconds = readings.reduce((n, r) => n + r.cpuSeconds, 0);
  const sides = (r: MemberReading) => [...r.status.partitions, ...(r.status.rekeyed?.partitions ?? [])];
  const total = (pick: (p: PipelineStatus['partitions'][number]) => number) =>
    readings.reduce((n, r) => n + sides(r).reduce((m, p) => m + pick(p), 0), 0);
  return {
    members: readings.length,
    events,
    seconds: round(seconds, 2),
    eventsPerSecond: Math.round(events / seconds),
    cpuSeconds: round(cpuSeconds, 3),
    cpuMicrosPerEvent: micros(cpuSeconds, events),
    late: total((p) => p.late),
    deadLettered: total((p) => p.deadLettered),
    perMember: readings.map(memberFigures),
  };
}
