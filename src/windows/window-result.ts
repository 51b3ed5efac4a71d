// The row a window writes: its values and offsets, why it was written, and its version. Versions
// order the rows of one identity: an update < the final row of the same count < any row with more
// records, so ClickHouse's ReplacingMergeTree keeps the newest.
import { aggregateResults, type AggregateResults } from '../aggregations/aggregates.js';
import type { Window } from './window.js';
import { keyPartsOf, type OpenWindow } from './window-store.js';

export type CloseReason = 'watermark' | 'idle' | 'state-budget' | 'update' | 'superseded' | 'late';

export interface WindowResult {
  readonly definition: string;
  readonly window: Window;
  readonly key: readonly string[];
  /** Records absorbed. */
  readonly count: number;
  /** `count`, each aggregation by name, `<name>_exact` for count_distinct, `<name>_n` for avg. */
  readonly values: AggregateResults;
  /** The lowest source offset absorbed: the result holds the partition's commit until it is sunk. */
  readonly firstOffset: bigint;
  readonly lastOffset: bigint;
  /** Why the row was written: closed by the event-time watermark, by idleness, by the state budget; an early update; a session row replaced by a merged one; or a fired window a late event changed within its allowed lateness. */
  readonly reason: CloseReason;
  /** Monotonic per row identity: an update < the final row of the same count < any row with more records. */
  readonly version: number;
}

/** The version of a row holding `count` records: final rows outrank the update of the same count. */
export function versionOf(count: number, final: boolean): number {
  return count * 2 + (final ? 1 : 0);
}

export function resultOf(w: OpenWindow, reason: CloseReason): WindowResult {
  return {
    definition: w.definition.name,
    window: { ...w.window },
    key: keyPartsOf(w.key),
    count: w.count,
    values: aggregateResults(w, w.definition.aggregations),
    firstOffset: BigInt(w.firstOffset),
    lastOffset: BigInt(w.lastOffset),
    reason,
    version: versionOf(w.count, reason !== 'update'),
  };
}
