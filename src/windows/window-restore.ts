// Which windows read back from the changelog are restored: those whose definition still exists with
// aggregations of the same shape. Deciding that is window semantics; the record's encoding is the
// changelog's (state/changelog-codec.ts implements WindowChangelog).
import { deserializeAggregate, type SerializedAggregate } from '../aggregations/aggregates.js';
import type { WindowDefinition } from './window-definition.js';
import { heldKey, type OpenWindow } from './window-store.js';

/** One window as its changelog record holds it, whichever version it was written in. */
export interface StoredWindow {
  definition: string;
  start: number;
  end: number;
  key: string[];
  agg: SerializedAggregate;
  firstOffset: number;
  lastOffset: number;
}

/** How open windows are written to the changelog and read back (`R`: a record value). */
export interface WindowChangelog<R> {
  /** The changelog key of a window id; and whether a changelog key is a window's. */
  keyOf(windowId: string): string;
  isWindowKey(key: string): boolean;
  /** The same for windows that fired and are kept for their allowed lateness. */
  retainedKeyOf(windowId: string): string;
  isRetainedKey(key: string): boolean;
  encode(w: OpenWindow): R;
  decode(value: R | string): StoredWindow;
}

/**
 * Rebuilds an open window, or says why it cannot: its definition is gone, or its aggregations changed
 * (a changed window needs a new name, as the README says under upgrading).
 */
export function restoredWindow(
  stored: StoredWindow,
  definitions: ReadonlyMap<string, WindowDefinition>,
): OpenWindow | string {
  const definition = definitions.get(stored.definition);
  if (!definition) return `window definition ${stored.definition} no longer exists`;
  let agg;
  try {
    agg = deserializeAggregate(stored.agg, definition.aggregations);
  } catch (error) {
    return `window definition ${stored.definition} changed its aggregations: ${(error as Error).message}`;
  }
  return {
    definition,
    window: { start: stored.start, end: stored.end },
    key: heldKey(stored.key),
    count: agg.count,
    slots: agg.slots,
    firstOffset: stored.firstOffset,
    lastOffset: stored.lastOffset,
    dirty: false,
    logged: true,
  };
}
