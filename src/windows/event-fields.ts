// What a pipeline's windows read from an event, each field once, and whether an event has it: a
// group-by field must hold a string, number or boolean (a key part); a sum, avg, min or max field a
// number when present (absent, the aggregation passes the event over, as SQL does NULL); a
// count_distinct field a string, number or boolean when present. An event that breaks a need is not
// windowed anywhere: it goes to the dead-letter topic with the field, what was expected and what was
// found, whatever contract (or none) the pipeline declared. Pure.
import { fieldPath, readField, type FieldPath } from '../aggregations/field-path.js';
import type { WindowDefinition } from './window-definition.js';

type Need = 'key' | 'number' | 'scalar';

export interface FieldNeed {
  field: string;
  path: FieldPath;
  need: Need;
  /** Where it is needed, e.g. `groupBy of window by_url`, `sum of window by_type`. */
  by: string;
}

/** The strictest need of each field the windows read (a key beats a number beats a scalar). */
export function fieldNeedsOf(definitions: readonly WindowDefinition[]): FieldNeed[] {
  const rank: Record<Need, number> = { key: 3, number: 2, scalar: 1 };
  const needs = new Map<string, FieldNeed>();
  const add = (field: string, path: FieldPath, need: Need, by: string) => {
    const held = needs.get(field);
    if (!held || rank[need] > rank[held.need]) needs.set(field, { field, path, need, by });
  };
  for (const d of definitions) {
    d.groupBy.forEach((field, i) => add(field, d.groupByPaths[i]!, 'key', `groupBy of window ${d.name}`));
    for (const a of d.aggregations)
      add(
        a.field,
        a.path ?? fieldPath(a.field),
        a.fn === 'count_distinct' ? 'scalar' : 'number',
        `${a.fn} of window ${d.name}`,
      );
  }
  return [...needs.values()];
}

const isScalar = (v: unknown) =>
  typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v));

function shown(value: unknown): string {
  if (value === undefined) return 'nothing';
  const text = JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** The first need `event` breaks, as `field 'x': expected …, found …`; undefined when it has them all. */
export function brokenNeed(event: unknown, needs: readonly FieldNeed[]): string | undefined {
  for (const n of needs) {
    const value = readField(event, n.path);
    if (n.need === 'key') {
      if (isScalar(value)) continue;
      return `field '${n.field}': expected a string, number or boolean (${n.by}), found ${shown(value)}`;
    }
    if (value === undefined || value === null) continue;
    if (n.need === 'number' ? typeof value === 'number' && Number.isFinite(value) : isScalar(value)) continue;
    const expected = n.need === 'number' ? 'a number' : 'a string, number or boolean';
    return `field '${n.field}': expected ${expected} (${n.by}), found ${shown(value)}`;
  }
  return undefined;
}
