// How the windows a pipeline defines now differ from those its stored state (or a table) was written
// under, by name: changed in meaning (refused: restored state would be read with the new meaning), or
// removed (their state waits for an explicit drop). Meaning is the fingerprint (window-definition.ts);
// the differences are told field by field, was and now, for the operator. Pure.
import type { WindowDefinition } from './window-definition.js';

/** A window whose stored fingerprint differs from its definition's now. */
export interface ChangedWindow {
  name: string;
  /** Each difference as `what: was → now`. */
  differences: string[];
}

export interface DefinitionChanges {
  changed: ChangedWindow[];
  /** Stored names no window of the pipeline has now. */
  removed: string[];
}

/** The fingerprint's fields, in its order (defineWindow). */
const FIELDS = ['type', 'size', 'advance', 'gap', 'groupBy', 'aggregations', 'emit mode', 'rows'] as const;

function fieldsOf(fingerprint: string): unknown[] | undefined {
  try {
    const parsed: unknown = JSON.parse(fingerprint);
    return Array.isArray(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

function shown(field: (typeof FIELDS)[number], value: unknown): string {
  // Absent in the fingerprints of windows computed per source partition (and of every 0.1 window).
  if (field === 'rows') return value === 'per-key' ? 'one per window and key' : 'per source partition';
  if (value === undefined) return '(unknown)';
  if (field === 'size' || field === 'advance' || field === 'gap')
    return value === 0 ? '-' : `${Number(value) / 1000}s`;
  if (field === 'aggregations' && Array.isArray(value))
    return `[${(value as [string, string | undefined][]).map(([fn, f]) => (f ? `${fn}(${f})` : fn)).join(', ')}]`;
  if (field === 'groupBy' && Array.isArray(value)) return `[${value.join(', ')}]`;
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** What differs between two fingerprints of one window, field by field. */
export function differencesOf(was: string, now: string): string[] {
  const before = fieldsOf(was);
  const after = fieldsOf(now);
  if (!before || !after) return [`definition: ${was} → ${now}`];
  const differences: string[] = [];
  FIELDS.forEach((field, i) => {
    if (JSON.stringify(before[i]) !== JSON.stringify(after[i]))
      differences.push(`${field}: ${shown(field, before[i])} → ${shown(field, after[i])}`);
  });
  return differences.length > 0 ? differences : [`definition: ${was} → ${now}`];
}

/** The stored definitions (name → fingerprint) against the pipeline's windows now. */
export function definitionChanges(
  stored: Readonly<Record<string, string>>,
  current: readonly Pick<WindowDefinition, 'name' | 'fingerprint'>[],
): DefinitionChanges {
  const now = new Map(current.map((w) => [w.name, w.fingerprint]));
  const changed: ChangedWindow[] = [];
  const removed: string[] = [];
  for (const [name, fingerprint] of Object.entries(stored)) {
    const present = now.get(name);
    if (present === undefined) removed.push(name);
    else if (present !== fingerprint)
      changed.push({ name, differences: differencesOf(fingerprint, present) });
  }
  return { changed, removed };
}
