// The in-memory open windows of one partition, packed to hold little per key (about 157 bytes of heap
// per one-part key, bench): the WindowStore the window semantics (windows/) run on. Tumbling and
// sliding windows are found by (definition, start, key), sessions by (definition, key); both are
// indexed by close time, so closing visits only what is due. It also records what changed for the
// changelog and estimates bytes for the state budget. Pure: no I/O, no clock.
import {
  addEvent,
  emptyAggregate,
  mergeAggregates,
  type AggregateState,
} from '../aggregations/aggregates.js';
import type { Window } from '../windows/window.js';
import type { WindowDefinition } from '../windows/window-definition.js';
import {
  closeAtOf,
  heldKey,
  isOtherKey,
  keyIdOf,
  windowIdOf,
  type OpenWindow,
  type WindowStore,
} from '../windows/window-store.js';

/** The open windows of one tumbling or sliding definition that share a start: they close together. */
interface WindowGroup {
  readonly definition: WindowDefinition;
  /** Shared by the group's windows: one object per start, not per key. */
  readonly window: Window;
  readonly closeAt: number;
  /** By key id. */
  readonly windows: Map<string, OpenWindow>;
  /** Keys counted against the key cap. */
  keys: number;
}

/**
 * A window's object and its entries in the store's maps: about 120 bytes of heap measured per window
 * over a million one-part keys (bench), plus its key's characters and its slots.
 */
const BASE_WINDOW_BYTES = 120;
const NO_SLOTS: AggregateState['slots'] = [];

/** Only count_distinct slots grow as events arrive; any other window's estimate is fixed. */
function grows(definition: WindowDefinition): boolean {
  return definition.aggregations.some((spec) => spec.fn === 'count_distinct');
}

function windowBytes(w: OpenWindow): number {
  let bytes = BASE_WINDOW_BYTES + 48 * w.slots.length;
  if (typeof w.key === 'string') bytes += 2 * w.key.length;
  else for (const part of w.key) bytes += 2 * part.length;
  for (const slot of w.slots) {
    if ('exact' in slot) bytes += slot.hll ? 4_096 : 48 * (slot.exact?.size ?? 0);
  }
  return bytes;
}

export class PackedWindowStore implements WindowStore {
  /** Tumbling and sliding windows: by definition name, then start. */
  private readonly groups = new Map<string, Map<number, WindowGroup>>();
  /** The group used last: consecutive events mostly share one, so most finds cost no map lookup. */
  private lastGroup: WindowGroup | undefined;
  /** Session windows: by definition name, then key id; few per key. */
  private readonly sessions = new Map<string, Map<string, OpenWindow[]>>();
  /** What closes when (end + grace): groups, and sessions. */
  private readonly groupsDue = new Map<number, Set<WindowGroup>>();
  private readonly sessionsDue = new Map<number, Set<OpenWindow>>();
  /** Open sessions per definition, for the key cap. */
  private readonly sessionCounts = new Map<string, number>();
  private openCount = 0;
  private totalBytes = 0;
  /** Windows created or changed, and logged windows removed, since the last changelog snapshot. */
  private readonly changed = new Set<OpenWindow>();
  private readonly removed = new Set<OpenWindow>();

  get size(): number {
    return this.openCount;
  }

  get bytes(): number {
    return this.totalBytes;
  }

  windowAt(definition: WindowDefinition, window: Window, keyId: string): OpenWindow | undefined {
    return this.findGroup(definition, window.start)?.windows.get(keyId);
  }

  keysAt(definition: WindowDefinition, window: Window): number {
    return this.findGroup(definition, window.start)?.keys ?? 0;
  }

  openWindow(
    definition: WindowDefinition,
    window: Window,
    key: readonly string[],
    offset: number,
    counted: boolean,
  ): OpenWindow {
    const group = this.groupOf(definition, window);
    const w = this.open(definition, group.window, key, offset);
    group.windows.set(keyIdOf(w.key), w);
    if (counted) group.keys += 1;
    return w;
  }

  sessionsOf(definition: WindowDefinition, keyId: string): readonly OpenWindow[] | undefined {
    return this.sessions.get(definition.name)?.get(keyId);
  }

  sessionCount(definition: WindowDefinition): number {
    return this.sessionCounts.get(definition.name) ?? 0;
  }

  openSession(
    definition: WindowDefinition,
    window: Window,
    key: readonly string[],
    offset: number,
  ): OpenWindow {
    const w = this.open(definition, window, key, offset);
    this.addSession(w);
    return w;
  }

  extendSession(w: OpenWindow, window: Window): void {
    this.unscheduleSession(w);
    w.window = window;
    this.scheduleSession(w);
  }

  absorb(w: OpenWindow, event: unknown, offset: number): void {
    const growing = grows(w.definition);
    const before = growing ? windowBytes(w) : 0;
    addEvent(w, w.definition.aggregations, event);
    if (growing) this.totalBytes += windowBytes(w) - before;
    if (offset < w.firstOffset) w.firstOffset = offset;
    if (offset > w.lastOffset) w.lastOffset = offset;
    w.dirty = true;
    this.changed.add(w);
  }

  merge(into: OpenWindow, from: OpenWindow): void {
    const before = windowBytes(into);
    mergeAggregates(into, from, into.definition.aggregations);
    this.totalBytes += windowBytes(into) - before;
    if (from.firstOffset < into.firstOffset) into.firstOffset = from.firstOffset;
    if (from.lastOffset > into.lastOffset) into.lastOffset = from.lastOffset;
    this.remove(from);
  }

  removeDue(closeBy: number, limit: number): OpenWindow[] {
    const due = new Set<number>();
    for (const closeAt of this.groupsDue.keys()) if (closeAt <= closeBy) due.add(closeAt);
    for (const closeAt of this.sessionsDue.keys()) if (closeAt <= closeBy) due.add(closeAt);
    const closed: OpenWindow[] = [];
    for (const closeAt of [...due].sort((a, b) => a - b)) {
      for (const group of this.groupsDue.get(closeAt) ?? []) {
        for (const w of group.windows.values()) {
          if (closed.length >= limit) return closed;
          closed.push(w);
          this.remove(w);
        }
      }
      for (const w of this.sessionsDue.get(closeAt) ?? []) {
        if (closed.length >= limit) return closed;
        closed.push(w);
        this.remove(w);
      }
    }
    return closed;
  }

  earliestCloseAt(): number | undefined {
    let earliest: number | undefined;
    for (const closeAt of this.groupsDue.keys())
      if (earliest === undefined || closeAt < earliest) earliest = closeAt;
    for (const closeAt of this.sessionsDue.keys())
      if (earliest === undefined || closeAt < earliest) earliest = closeAt;
    return earliest;
  }

  *windows(): Generator<OpenWindow> {
    for (const byStart of this.groups.values())
      for (const group of byStart.values()) yield* group.windows.values();
    for (const byKey of this.sessions.values()) for (const list of byKey.values()) yield* list;
  }

  takeChanges(): Map<string, OpenWindow | null> {
    const changes = new Map<string, OpenWindow | null>();
    // Removed first: a window that replaced a removed one of the same identity (a merged session)
    // wins. A window opened and removed between two snapshots was never written: no tombstone (most
    // short sessions live so).
    for (const w of this.removed) changes.set(windowIdOf(w), null);
    for (const w of this.changed) {
      changes.set(windowIdOf(w), w);
      w.logged = true;
    }
    this.removed.clear();
    this.changed.clear();
    return changes;
  }

  restore(w: OpenWindow): void {
    w.logged = true;
    // A tumbling or sliding window without count_distinct (whose state alone grows) takes the earlier
    // one's place in insert, one map lookup instead of two: finding it first was the restore's costliest
    // step. Any other is found, and its count and bytes taken back, first.
    if (w.definition.type === 'session' || grows(w.definition)) {
      const earlier = this.find(w.definition, w.window.start, keyIdOf(w.key));
      if (earlier) this.remove(earlier);
    }
    this.insert(w);
  }

  drop(definition: WindowDefinition, start: number, keyId: string): void {
    const w = this.find(definition, start, keyId);
    if (w) this.remove(w);
  }

  /** The window of `definition` starting at `start` for `keyId`, if open: a session or any other. */
  private find(definition: WindowDefinition, start: number, keyId: string): OpenWindow | undefined {
    if (definition.type === 'session')
      return this.sessions
        .get(definition.name)
        ?.get(keyId)
        ?.find((s) => s.window.start === start);
    return this.findGroup(definition, start)?.windows.get(keyId);
  }

  adopt(w: OpenWindow): void {
    w.logged = false;
    this.insert(w);
    this.changed.add(w);
  }

  /**
   * A whole window into its group (or its key's sessions), counted; in place of a tumbling or sliding
   * window of the same key, which was counted already (the same key, so the same bytes and key-cap
   * standing, when no count_distinct can differ).
   */
  private insert(w: OpenWindow): void {
    if (w.definition.type === 'session') {
      this.count(w);
      this.addSession(w);
      return;
    }
    const group = this.groupOf(w.definition, w.window);
    w.window = group.window;
    const size = group.windows.size;
    group.windows.set(keyIdOf(w.key), w);
    if (group.windows.size === size) return;
    this.count(w);
    if (!isOtherKey(w.key)) group.keys += 1;
  }

  private count(w: OpenWindow): void {
    this.openCount += 1;
    this.totalBytes += windowBytes(w);
  }

  private findGroup(definition: WindowDefinition, start: number): WindowGroup | undefined {
    const last = this.lastGroup;
    if (last !== undefined && last.definition === definition && last.window.start === start) return last;
    const group = this.groups.get(definition.name)?.get(start);
    if (group) this.lastGroup = group;
    return group;
  }

  /** The group of a tumbling or sliding window, made (and scheduled to close) on first use. */
  private groupOf(definition: WindowDefinition, window: Window): WindowGroup {
    const found = this.findGroup(definition, window.start);
    if (found) return found;
    let byStart = this.groups.get(definition.name);
    if (!byStart) this.groups.set(definition.name, (byStart = new Map<number, WindowGroup>()));
    const group: WindowGroup = {
      definition,
      window,
      closeAt: closeAtOf({ definition, window }),
      windows: new Map(),
      keys: 0,
    };
    byStart.set(window.start, group);
    let due = this.groupsDue.get(group.closeAt);
    if (!due) this.groupsDue.set(group.closeAt, (due = new Set()));
    due.add(group);
    this.lastGroup = group;
    return group;
  }

  private addSession(w: OpenWindow): void {
    const name = w.definition.name;
    let byKey = this.sessions.get(name);
    if (!byKey) this.sessions.set(name, (byKey = new Map<string, OpenWindow[]>()));
    const keyId = keyIdOf(w.key);
    const list = byKey.get(keyId);
    if (list) list.push(w);
    else byKey.set(keyId, [w]);
    this.sessionCounts.set(name, (this.sessionCounts.get(name) ?? 0) + 1);
    this.scheduleSession(w);
  }

  private scheduleSession(w: OpenWindow): void {
    const closeAt = closeAtOf(w);
    let due = this.sessionsDue.get(closeAt);
    if (!due) this.sessionsDue.set(closeAt, (due = new Set()));
    due.add(w);
  }

  private unscheduleSession(w: OpenWindow): void {
    const closeAt = closeAtOf(w);
    const due = this.sessionsDue.get(closeAt);
    due?.delete(w);
    if (due?.size === 0) this.sessionsDue.delete(closeAt);
  }

  /** A new, empty window, counted and marked changed (not yet in its group or key's sessions). */
  private open(
    definition: WindowDefinition,
    window: Window,
    key: readonly string[],
    offset: number,
  ): OpenWindow {
    const w: OpenWindow = {
      definition,
      window,
      key: heldKey(key),
      count: 0,
      slots: definition.aggregations.length === 0 ? NO_SLOTS : emptyAggregate(definition.aggregations).slots,
      firstOffset: offset,
      lastOffset: offset,
      dirty: true,
      logged: false,
    };
    this.count(w);
    this.changed.add(w);
    return w;
  }

  private remove(w: OpenWindow): void {
    this.openCount -= 1;
    this.totalBytes -= windowBytes(w);
    this.changed.delete(w);
    if (w.logged) this.removed.add(w);
    const name = w.definition.name;
    if (w.definition.type === 'session') {
      this.unscheduleSession(w);
      const byKey = this.sessions.get(name);
      const keyId = keyIdOf(w.key);
      const rest = (byKey?.get(keyId) ?? []).filter((s) => s !== w);
      if (rest.length === 0) byKey?.delete(keyId);
      else byKey?.set(keyId, rest);
      this.sessionCounts.set(name, (this.sessionCounts.get(name) ?? 0) - 1);
      return;
    }
    const byStart = this.groups.get(name);
    const group = byStart?.get(w.window.start);
    if (!group) return;
    group.windows.delete(keyIdOf(w.key));
    if (!isOtherKey(w.key)) group.keys -= 1;
    if (group.windows.size > 0) return;
    if (this.lastGroup === group) this.lastGroup = undefined;
    byStart!.delete(w.window.start);
    if (byStart!.size === 0) this.groups.delete(name);
    const due = this.groupsDue.get(group.closeAt);
    due?.delete(group);
    if (due?.size === 0) this.groupsDue.delete(group.closeAt);
  }
}
