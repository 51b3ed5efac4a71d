// What a pipeline's windows must hold, computed independently: the brute-force window reference run
// per partition over the produced events in offset order (each partition has its own watermark), what
// ClickHouse holds (the window's view; for windows computed per partition, its rows table FINAL, superseded rows dropped), and the difference between them. Shared by the
// crash tests and the fault suite.
import type { ClickHouseClient } from '@clickhouse/client';
import { WindowReference, type ReferenceDefinition } from '../../support/window-reference.js';
import { queryRows } from './fixtures.js';
import type { Produced } from './pipeline-truth.js';

/** One window row: its count, the sum of `value`, and its end. */
export type WindowRow = { count: number; sum: number; end: number };

export interface TruthSettings {
  definitions: readonly ReferenceDefinition[];
  partitions: number;
  grace: number;
  outOfOrderness: number;
  /**
   * The windows are re-keyed (the pipeline declares no `source.keyedBy`): an event's lateness is
   * decided in its source partition, and then a window and key holds the events of every partition.
   */
  perKey?: boolean;
}

/** The partition part of a re-keyed window's identity: its rows may be computed in any partition. */
export const ANY_PARTITION = '*';

/**
 * Rows by `definition|start|key|partition` (partition `*` for re-keyed windows), and the late events as
 * `partition@offset`.
 */
export function expectedWindows(
  produced: readonly Produced[],
  settings: TruthSettings,
): { rows: Map<string, WindowRow>; late: Set<string> } {
  const rows = new Map<string, WindowRow>();
  const late = new Set<string>();
  const references: WindowReference[] = [];
  const add = (windows: ReturnType<WindowReference['windows']>, partition: string) => {
    for (const w of windows) {
      const sum = w.events.reduce((s, e) => s + (e.value.value as number), 0);
      rows.set(`${w.definition}|${w.window.start}|${w.key.join(',')}|${partition}`, {
        count: w.events.length,
        sum,
        end: w.window.end,
      });
    }
  };
  for (let partition = 0; partition < settings.partitions; partition += 1) {
    const reference = new WindowReference(settings.definitions, {
      grace: settings.grace,
      outOfOrderness: settings.outOfOrderness,
    });
    for (const r of produced.filter((p) => p.partition === partition && p.event)) {
      const lateFor = reference.add({ t: r.event!.timestamp, value: { ...r.event } });
      if (lateFor.length > 0) late.add(`${partition}@${r.offset}`);
    }
    if (settings.perKey) references.push(reference);
    else add(reference.windows(), String(partition));
  }
  if (settings.perKey) add(WindowReference.together(references), ANY_PARTITION);
  return { rows, late };
}

/** What landed in ClickHouse, keyed like `expectedWindows`; each window needs a `sum_value` column. */
export async function windowsIn(
  client: ClickHouseClient,
  database: string,
  definitions: readonly ReferenceDefinition[],
  /** Re-keyed windows: one row per window and key, whatever partition computed it (two would add up). */
  perKey = false,
): Promise<Map<string, WindowRow>> {
  const found = new Map<string, WindowRow>();
  for (const d of definitions) {
    const rows = await queryRows<Record<string, string>>(
      client,
      `SELECT toString(window_start_ms) AS s, toString(window_end_ms) AS e, ${d.groupBy.join(', ')},
              ${perKey ? '0' : 'source_partition'} AS p, count, sum_value
       FROM ${perKey ? `${database}.${d.name}` : `${database}.${d.name}_rows FINAL WHERE superseded = 0`}`,
    );
    for (const row of rows) {
      const key = d.groupBy.map((field) => row[field]).join(',');
      const id = `${d.name}|${row.s}|${key}|${perKey ? ANY_PARTITION : row.p}`;
      const seen = found.get(id);
      // A second row of one re-keyed window and key is a doubling: it shows as a count too high.
      found.set(id, {
        count: Number(row.count) + (seen?.count ?? 0),
        sum: Number(row.sum_value) + (seen?.sum ?? 0),
        end: Math.max(Number(row.e), seen?.end ?? 0),
      });
    }
  }
  return found;
}

/** Windows missing, windows that should not exist, and windows with another count, sum or end. */
export function compareWindows(expected: Map<string, WindowRow>, found: Map<string, WindowRow>) {
  const lost = [...expected.keys()].filter((k) => !found.has(k));
  const extra = [...found.keys()].filter((k) => !expected.has(k));
  const wrong = [...expected].filter(([k, row]) => {
    const got = found.get(k);
    return got !== undefined && (got.count !== row.count || got.sum !== row.sum || got.end !== row.end);
  });
  return { lost, extra, wrong: wrong.map(([k, row]) => ({ key: k, expected: row, found: found.get(k) })) };
}
