// What the window semantics need from a store of open windows, and the open window itself. The
// semantics (partition-windows.ts, session-merging.ts) decide what to open, merge, cap and close; a
// store only finds, holds, indexes by close time, and accounts bytes and changes (state/ implements it).
import type { AggregateState } from '../aggregations/aggregates.js';
import type { Window } from './window.js';
import type { WindowDefinition } from './window-definition.js';

/** A group key as a window holds it: a one-part key as that part (no array), otherwise the parts. */
export type HeldKey = string | readonly string[];

/** The key that holds the events beyond a window's key cap (onKeyCap `other`), in every part. */
export const OTHER_KEY = '__other__';

/** An open window: its own aggregate state (count and slots), its span, key and offsets. */
export interface OpenWindow extends AggregateState {
  readonly definition: WindowDefinition;
  window: Window;
  readonly key: HeldKey;
  /** The lowest and highest source offsets absorbed, as numbers (exact below 2^53). */
  firstOffset: number;
  lastOffset: number;
  /** Changed since the last update emit. */
  dirty: boolean;
  /** Handed to a snapshot (or restored): its removal needs a tombstone. */
  logged: boolean;
}

export interface WindowStore {
  /** Open windows, and their estimated bytes of heap (what the state budget counts). */
  readonly size: number;
  readonly bytes: number;
  /** The tumbling or sliding window of `definition` starting at `window.start` for `keyId`, if open. */
  windowAt(definition: WindowDefinition, window: Window, keyId: string): OpenWindow | undefined;
  /** Keys counted against the key cap among the windows of `definition` starting at `window.start`. */
  keysAt(definition: WindowDefinition, window: Window): number;
  /** Opens an empty tumbling or sliding window; `counted`: it counts against the key cap. */
  openWindow(
    definition: WindowDefinition,
    window: Window,
    key: readonly string[],
    offset: number,
    counted: boolean,
  ): OpenWindow;
  /** A key's open sessions under `definition`, and how many sessions are open under it in all. */
  sessionsOf(definition: WindowDefinition, keyId: string): readonly OpenWindow[] | undefined;
  sessionCount(definition: WindowDefinition): number;
  /** Opens an empty session. */
  openSession(
    definition: WindowDefinition,
    window: Window,
    key: readonly string[],
    offset: number,
  ): OpenWindow;
  /** A session that grew at its end (its identity, which ends with its start, unchanged). */
  extendSession(w: OpenWindow, window: Window): void;
  /** Adds an event to a window's aggregates and offsets; marks it changed. */
  absorb(w: OpenWindow, event: unknown, offset: number): void;
  /** Folds `from` (aggregates, offsets) into `into` and removes `from`. */
  merge(into: OpenWindow, from: OpenWindow): void;
  /** Removes and returns windows whose end + grace ≤ `closeBy`, by close time, at most `limit`. */
  removeDue(closeBy: number, limit: number): OpenWindow[];
  /** The earliest end + grace of any open window. */
  earliestCloseAt(): number | undefined;
  /** Every open window. */
  windows(): Iterable<OpenWindow>;
  /** Windows changed (value) or removed (null) since the last call, by window id; clears the record. */
  takeChanges(): Map<string, OpenWindow | null>;
  /**
   * Puts back a window restored from the changelog (already written: `logged`), in place of one of the
   * same identity an earlier record restored.
   */
  restore(w: OpenWindow): void;
  /** Removes a restored window by its identity (its tombstone was read back), if it is there. */
  drop(definition: WindowDefinition, start: number, keyId: string): void;
  /** Takes in a window from another store (one that fired, kept for its lateness): to be written. */
  adopt(w: OpenWindow): void;
}

export function heldKey(parts: readonly string[]): HeldKey {
  return parts.length === 1 ? parts[0]! : parts;
}

export function keyPartsOf(key: HeldKey): readonly string[] {
  return typeof key === 'string' ? [key] : key;
}

/** A key as one string, to find its window by. */
export function keyIdOf(key: HeldKey): string {
  if (typeof key === 'string') return key;
  return key.length === 1 ? key[0]! : key.join('\u0000');
}

export function isOtherKey(key: HeldKey): boolean {
  if (typeof key === 'string') return key === OTHER_KEY;
  return key.length > 0 && key.every((part) => part === OTHER_KEY);
}

/** When a window closes: once the watermark reaches its end + grace. */
export function closeAtOf(w: Pick<OpenWindow, 'definition' | 'window'>): number {
  return w.window.end + w.definition.graceMs;
}

/**
 * A window's identity: its changelog key and its row's identity. Sessions are named by key, then
 * start; the others by start, then key. Unchanged since the changelog's first version.
 */
export function windowIdOf(w: Pick<OpenWindow, 'definition' | 'window' | 'key'>): string {
  const name = w.definition.name;
  return w.definition.type === 'session'
    ? `${name}\u0001${keyIdOf(w.key)}\u0001${w.window.start}`
    : `${name}\u0001${w.window.start}\u0001${keyIdOf(w.key)}`;
}

/** The definition name a window id begins with. */
export function definitionOfWindowId(id: string): string {
  return id.slice(0, Math.max(0, id.indexOf('\u0001')));
}

/**
 * The start and key id a window id of `definition` names (windowIdOf's inverse). Key parts may hold
 * \u0001, names cannot: a session's start is after the last one, the others' before the second.
 */
export function windowOfId(id: string, definition: WindowDefinition): { start: number; keyId: string } {
  const from = definition.name.length + 1;
  if (definition.type === 'session') {
    const last = id.lastIndexOf('\u0001');
    return { start: Number(id.slice(last + 1)), keyId: id.slice(from, last) };
  }
  const second = id.indexOf('\u0001', from);
  return { start: Number(id.slice(from, second)), keyId: id.slice(second + 1) };
}
