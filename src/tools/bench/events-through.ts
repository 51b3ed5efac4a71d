// How many events a Sluice member has taken through, from its pipeline status: on the source side
// every record its partitions completed, filtered, dead-lettered or skipped; on the re-keyed side the
// same, where each event arrives once per distinct group key of the re-keyed windows.
import type { PartitionCounters } from '../../runtime/partition-worker.js';

type Counted = Pick<PartitionCounters, 'completed' | 'filtered' | 'deadLettered' | 'skipped'>;

/** Records the partitions have taken through their stages, whatever became of each. */
export function recordsThrough(partitions: readonly Counted[]): number {
  return partitions.reduce((n, p) => n + p.completed + p.filtered + p.deadLettered + p.skipped, 0);
}

/**
 * Events through both sides: the fewer of the source side's records and the re-keyed side's records
 * divided by the re-keyed group keys (`rekeyGroups`, 0 or an absent side: the source side alone).
 */
export function eventsThrough(
  source: readonly Counted[],
  rekeyed: readonly Counted[] | undefined,
  rekeyGroups: number,
): number {
  const taken = recordsThrough(source);
  if (rekeyed === undefined || rekeyGroups === 0) return taken;
  return Math.min(taken, Math.floor(recordsThrough(rekeyed) / rekeyGroups));
}
