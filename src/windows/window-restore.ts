// Which windows read back from the changelog are restored: those whose definition still exists with
// aggregations of the same shape. Deciding that is window semantics; the record's encoding is the
// changelog's (state/changelog-codec.ts implements WindowChangelog).
import { deserializeAggregate, type SerializedAggregate } from '../aggregations/aggregates.js';
import type { WindowDefinition } from './window-definition.js';
import {
  definitionOfWindowId,
  heldKey,
  windowOfId,
  type OpenWindow,
  type WindowStore,
} from './window-store.js';

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
  /** The window id in a key of either kind. */
  idOfKey(key: string): string;
  encode(w: OpenWindow): R;
  decode(value: R | string): StoredWindow;
  /** A window's record straight to the window it holds under `definitions` (restoredWindow's rules). */
  rebuild(value: R | string, definitions: ReadonlyMap<string, WindowDefinition>): OpenWindow | Unrestored;
}

/** A window record that does not come back, and why. */
export interface Unrestored {
  /** The name of the definition it was written under. */
  definition: string;
  problem: string;
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

/** Where windows read back go: a store, and the definitions they are rebuilt under. */
export interface RestoreTarget {
  store: WindowStore;
  definitions: ReadonlyMap<string, WindowDefinition>;
}

/**
 * Rebuilds a partition's windows from its changelog records as they are read, oldest first: each
 * window's record replaces what an earlier one of its key rebuilt, a tombstone removes it, so the
 * stores end as the newest record per key (what compaction keeps) says. Nothing of a record is kept
 * but its window: a restore holds no copy of the changelog. Open windows go to `open`, windows that
 * fired and are kept for their lateness to `kept`.
 */
export class ChangelogRebuild<R> {
  /** Records that did not come back, by changelog key (a later tombstone takes them back out). */
  private readonly unrestored = new Map<string, Unrestored>();

  constructor(
    private readonly changelog: WindowChangelog<R>,
    private readonly open: RestoreTarget,
    private readonly kept: RestoreTarget,
  ) {}

  /** A record of the changelog: a window's state (other keys are not windows, and pass). */
  put(key: string, value: R | string): void {
    const target = this.targetOf(key);
    if (!target) return;
    const w = this.changelog.rebuild(value, target.definitions);
    if (this.unrestored.size > 0) this.unrestored.delete(key);
    if ('problem' in w) this.unrestored.set(key, w);
    else target.store.restore(w);
  }

  /** A tombstone: the window of `key` is gone. */
  remove(key: string): void {
    const target = this.targetOf(key);
    if (!target) return;
    if (this.unrestored.size > 0) this.unrestored.delete(key);
    const id = this.changelog.idOfKey(key);
    const definition = target.definitions.get(definitionOfWindowId(id));
    if (!definition) return;
    const { start, keyId } = windowOfId(id, definition);
    target.store.drop(definition, start, keyId);
  }

  /**
   * Why any window could not be restored, once every record is read. Windows of `retired` definitions
   * (removed from the pipeline, their state not dropped yet) are left out quietly.
   */
  problems(retired: ReadonlySet<string>): string[] {
    const problems: string[] = [];
    for (const { definition, problem } of this.unrestored.values())
      if (!retired.has(definition)) problems.push(problem);
    return problems;
  }

  private targetOf(key: string): RestoreTarget | undefined {
    if (this.changelog.isWindowKey(key)) return this.open;
    if (this.changelog.isRetainedKey(key)) return this.kept;
    return undefined;
  }
}
