// One late event merged into its window's row, from what the row holds: count + 1, sum + v, the lower
// min and the higher max, the average through its sum (avg × `<name>_n`) and count. A row holds no
// count_distinct's set of values, and a session would have to be merged with its neighbours, so those
// windows cannot take a late event here: the replay reports them instead. Pure: rows in, rows out.
import {
  addEvent,
  aggregateResults,
  emptyAggregate,
  type AggregateSpec,
} from '../aggregations/aggregates.js';
import type { WindowDefinition } from '../windows/window-definition.js';

/** A row's `count` and aggregation columns (with `<name>_n` for avg), as numbers; null where empty. */
export type RowValues = Record<string, number | null>;

export type MergeOutcome = { values: RowValues } | { unmergeable: string };

/** Why no row of this window can take a late event; undefined when its rows can. */
export function unmergeableWindow(definition: WindowDefinition): string | undefined {
  if (definition.type === 'session')
    return 'a session window: a late event would have to extend or merge sessions';
  const distinct = definition.aggregations.find((a) => a.fn === 'count_distinct');
  if (distinct) return `count_distinct ${distinct.name}: the row does not hold the set of values counted`;
  return undefined;
}

/** The row's columns for a window of this one event alone (a window that had no event of its key). */
export function singleEventValues(specs: readonly AggregateSpec[], event: unknown): RowValues {
  const state = emptyAggregate(specs);
  addEvent(state, specs, event);
  return aggregateResults(state, specs);
}

function lower(a: number | null, b: number | null): number | null {
  if (a === null) return b;
  return b === null ? a : Math.min(a, b);
}

function higher(a: number | null, b: number | null): number | null {
  if (a === null) return b;
  return b === null ? a : Math.max(a, b);
}

/** The row's values with the event merged in; unmergeable when the row lacks what a merge needs. */
export function mergeLateEvent(
  specs: readonly AggregateSpec[],
  row: RowValues | undefined,
  event: unknown,
): MergeOutcome {
  const single = singleEventValues(specs, event);
  if (row === undefined) return { values: single };
  const values: RowValues = { count: (row.count ?? 0) + 1 };
  for (const spec of specs) {
    const was = row[spec.name] ?? null;
    const add = single[spec.name] ?? null;
    switch (spec.fn) {
      case 'sum':
        values[spec.name] = (was ?? 0) + (add ?? 0);
        break;
      case 'min':
        values[spec.name] = lower(was, add);
        break;
      case 'max':
        values[spec.name] = higher(was, add);
        break;
      case 'avg': {
        const n = row[`${spec.name}_n`] ?? 0;
        if (was !== null && n === 0)
          return {
            unmergeable: `avg ${spec.name}: the row has no ${spec.name}_n (written by an older Sluice), so its sum is unknown`,
          };
        const addN = single[`${spec.name}_n`] ?? 0;
        values[`${spec.name}_n`] = n + addN;
        values[spec.name] = addN === 0 ? was : ((was ?? 0) * n + (add as number) * addN) / (n + addN);
        break;
      }
      case 'count_distinct':
        return {
          unmergeable: `count_distinct ${spec.name}: the row does not hold the set of values counted`,
        };
    }
  }
  return { values };
}
