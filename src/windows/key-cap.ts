// The key cap of tumbling and sliding windows: a window start holds at most `maxKeys` keys; an event
// with a new key beyond that is dropped there, or aggregated under `__other__` (onKeyCap). Session
// windows cap open sessions per definition instead (session-merging.ts).
import type { Window } from './window.js';
import type { WindowDefinition } from './window-definition.js';
import { keyIdOf, OTHER_KEY, type WindowStore } from './window-store.js';

export type AddOutcome = 'added' | 'other' | 'dropped';

/** Adds an event to its tumbling or sliding window, within the key cap. */
export function addToWindow(
  store: WindowStore,
  definition: WindowDefinition,
  window: Window,
  key: readonly string[],
  keyId: string,
  event: unknown,
  offset: number,
): AddOutcome {
  let open = store.windowAt(definition, window, keyId);
  if (open) {
    store.absorb(open, event, offset);
    return 'added';
  }
  if (store.keysAt(definition, window) < definition.maxKeys) {
    store.absorb(store.openWindow(definition, window, key, offset, true), event, offset);
    return 'added';
  }
  if (definition.onKeyCap === 'drop') return 'dropped';
  const other = key.map(() => OTHER_KEY);
  open = store.windowAt(definition, window, keyIdOf(other));
  store.absorb(open ?? store.openWindow(definition, window, other, offset, false), event, offset);
  return 'other';
}

/**
 * An event the key cap dropped from one window: which definition, which window of it (tumbling and
 * sliding: its start; a session has none yet, it was never opened) and the cap that applied.
 */
export interface KeyCapDrop {
  definition: string;
  windowStart?: number;
  maxKeys: number;
}

/**
 * A window as a record's `sluice.only.windows` header names it: `name@start` for one tumbling or
 * sliding window, `name` for a definition as a whole (a session, or every window of the definition).
 */
export function windowRefOf(drop: Pick<KeyCapDrop, 'definition' | 'windowStart'>): string {
  return drop.windowStart === undefined ? drop.definition : `${drop.definition}@${drop.windowStart}`;
}

/**
 * The windows a replayed record may enter, from its header (comma-separated refs); undefined when the
 * header names none (the record enters every window, as any record).
 */
export function parseWindowRefs(text: string | undefined): ReadonlySet<string> | undefined {
  if (text === undefined) return undefined;
  const refs = text
    .split(',')
    .map((ref) => ref.trim())
    .filter((ref) => ref.length > 0);
  return refs.length === 0 ? undefined : new Set(refs);
}

/** Whether a replay restricted to `only` lets the event into this window of this definition. */
export function admits(only: ReadonlySet<string>, definition: string, windowStart?: number): boolean {
  return only.has(definition) || (windowStart !== undefined && only.has(`${definition}@${windowStart}`));
}

/**
 * The header a replayed dead letter carries to enter only the windows it missed: `sluice dlq replay`
 * sets it from the dead letter's key-cap windows, and the partition worker honours it.
 */
export const ONLY_WINDOWS_HEADER = 'sluice.only.windows';
