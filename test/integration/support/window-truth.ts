// What a pipeline's windows must hold, computed independently: the brute-force window reference run
// per partition over the produced events in offset order (each partition has its own watermark), what
// ClickHouse holds (FINAL, superseded rows dropped), and the difference between them. Shared by the
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
}

/** Rows by `definition|start|key|partition`, and the late events as `partition@offset`. */
export function expectedWindows(
  produced: readonly Produced[],
  settings: TruthSettings,
): { rows: Map<string, WindowRow>; late: Set<string> } {
  const rows = new Map<string, WindowRow>();
  const late = new Set<string>();
  for (let partition = 0; partition < settings.partitions; partition += 1) {
    const reference = new WindowReference(settings.definitions, {
      grace: settings.grace,
      outOfOrderness: settings.outOfOrderness,
    });
    for (const r of produced.filter((p) => p.partition === partition && p.event)) {
      const lateFor = reference.add({ t: r.event!.timestamp, value: { ...r.event } });
      if (lateFor.length > 0) late.add(`${partition}@${r.offset}`);
    }
    for (const w of reference.windows()) {
      const sum = w.events.reduce((s, e) => s + (e.value.value as number), 0);
      rows.set(`${w.definition}|${w.window.start}|${w.key.join(',')}|${partition}`, {
        count: w.events.length,
        sum,
        end: w.window.end,
      });
    }
  }
  return { rows, late };
}

/** What landed in ClickHouse, keyed like `expectedWindows`; each window needs a `sum_value` column. */
export async function windowsIn(
  client: ClickHouseClient,
  database: string,
  definitions: readonly ReferenceDefinition[],
): Promise<Map<string, WindowRow>> {
  const found = new Map<string, WindowRow>();
  for (const d of definitions) {
    const rows = await queryRows<Record<string, string>>(
      client,
      `SELECT toString(window_start_ms) AS s, toString(window_end_ms) AS e, ${d.groupBy.join(', ')},
              source_partition AS p, count, sum_value
       FROM ${database}.${d.name} FINAL WHERE superseded = 0`,
    );
    for (const row of rows) {
      const key = d.groupBy.map((field) => row[field]).join(',');
      found.set(`${d.name}|${row.s}|${key}|${row.p}`, {
        count: Number(row.count),
        sum: Number(row.sum_value),
        end: Number(row.e),
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
