// Which windows are computed where their events are, and which are re-keyed by their group key first.
// A window's rows are one per window and key only when all of a key's events meet in one partition:
// true where the source is declared keyed by fields the window groups by (`source.keyedBy`), and made
// true for every other window by writing each event, keyed by the window's group key, to the
// repartition topic, where a second set of partitions computes it (as Kafka Streams' groupBy does).
// Windows sharing a group key share one repartition write per event. Pure: config in, plan out.
import type { Pipeline, WindowConfig } from './schema.js';

/** One distinct group key of re-keyed windows: each event is written once for it. */
export interface RekeyGroup {
  /** The group-by fields, in the first such window's order. */
  groupBy: readonly string[];
  /** The re-keyed windows grouping by exactly these fields (in any order). */
  windows: readonly string[];
}

export interface RekeyPlan {
  /** Windows computed in the source's partitions: their groupBy holds every `keyedBy` field. */
  direct: WindowConfig[];
  /** Windows computed in the repartition topic's partitions, after re-keying by their groupBy. */
  rekeyed: WindowConfig[];
  groups: RekeyGroup[];
}

/** Whether a window's key lives in one source partition: its groupBy holds every field the topic is keyed by. */
export function keyedWhereItIs(
  window: Pick<WindowConfig, 'groupBy'>,
  keyedBy: readonly string[] | undefined,
): boolean {
  return (
    keyedBy !== undefined && keyedBy.length > 0 && keyedBy.every((field) => window.groupBy.includes(field))
  );
}

export function rekeyPlanOf(pipeline: Pick<Pipeline, 'windows' | 'source'>): RekeyPlan {
  const direct: WindowConfig[] = [];
  const rekeyed: WindowConfig[] = [];
  const groups = new Map<string, { groupBy: string[]; windows: string[] }>();
  for (const window of pipeline.windows) {
    if (keyedWhereItIs(window, pipeline.source.keyedBy)) {
      direct.push(window);
      continue;
    }
    rekeyed.push(window);
    const id = JSON.stringify([...window.groupBy].sort());
    const group = groups.get(id) ?? { groupBy: [...window.groupBy], windows: [] };
    group.windows.push(window.name);
    groups.set(id, group);
  }
  return { direct, rekeyed, groups: [...groups.values()] };
}
