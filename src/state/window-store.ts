// The in-memory window state of one partition, for every window definition: open windows with their
// aggregates, the source offsets they absorbed, and when each closes. Tumbling and sliding windows are
// found by (definition, start, key); session windows per (definition, key), merged when an event's span
// bridges two. Also tracks which windows changed (for update emits) and a byte estimate (for the state
// budget). Pure: no I/O, no clock; lateness and the watermark are the caller's.
import {
  addEvent,
  aggregateResults,
  emptyAggregate,
  mergeAggregates,
  type AggregateResults,
  type AggregateSpec,
  type AggregateState,
} from '../aggregations/aggregates.js';
import { cover, overlaps, sessionSpanOf } from '../windows/session.js';
import type { Window } from '../windows/window.js';

export type CloseReason = 'watermark' | 'idle' | 'state-budget' | 'update' | 'superseded';

export interface WindowDefinition {
  name: string;
  type: 'tumbling' | 'sliding' | 'session';
  aggregations: readonly AggregateSpec[];
  maxKeys: number;
  onKeyCap: 'drop' | 'other';
}

export interface WindowResult {
  readonly definition: string;
  readonly window: Window;
  readonly key: readonly string[];
  /** Records absorbed. */
  readonly count: number;
  /** `count`, each aggregation by name, `<name>_exact` for count_distinct. */
  readonly values: AggregateResults;
  /** The lowest source offset absorbed: the result holds the partition's commit until it is sunk. */
  readonly firstOffset: bigint;
  readonly lastOffset: bigint;
  /** Why the row was written: closed by the event-time watermark, by idleness, by the state budget; an early update; or a session row replaced by a merged one. */
  readonly reason: CloseReason;
  /** Monotonic per row identity: an update < the final row of the same count < any row with more records. */
  readonly version: number;
}

/** A group key as a window holds it: a one-part key as that part (no array), otherwise the parts. */
export type HeldKey = string | readonly string[];

/**
 * An open window, laid out to hold little per key: it is its own aggregate state (count and slots, no
 * separate object), tumbling and sliding windows of one start share one `window` object, a one-part
 * key is held as its string, offsets are numbers (exact below 2^53), its byte estimate is computed
 * when needed, and its identity string is made only when the changelog needs it.
 */
export interface OpenWindow extends AggregateState {
  readonly definition: WindowDefinition;
  window: Window;
  readonly key: HeldKey;
  firstOffset: number;
  lastOffset: number;
  /** Changed since the last update emit. */
  dirty: boolean;
  /** Handed to a snapshot (or restored): its removal needs a tombstone. */
  logged: boolean;
}

/** The open windows of one tumbling or sliding definition that share a start: they close together. */
interface WindowGroup {
  readonly definition: WindowDefinition;
  readonly window: Window;
  readonly closeAt: number;
  /** By key id. */
  readonly windows: Map<string, OpenWindow>;
  /** Keys other than `__other__`, for the key cap. */
  keys: number;
}

export type AddOutcome = 'added' | 'other' | 'dropped';

export const OTHER_KEY = '__other__';

/**
 * A window's object and its entries in the store's maps: about 120 bytes of heap measured per window
 * over a million one-part keys (bench), plus its key's characters and its slots.
 */
const BASE_WINDOW_BYTES = 120;
const NO_SLOTS: AggregateState['slots'] = [];

export function heldKey(parts: readonly string[]): HeldKey {
  return parts.length === 1 ? parts[0]! : parts;
}

export function keyPartsOf(key: HeldKey): readonly string[] {
  return typeof key === 'string' ? [key] : key;
}

function keyIdOf(key: HeldKey): string {
  if (typeof key === 'string') return key;
  return key.length === 1 ? key[0]! : key.join('\u0000');
}

function isOtherKey(key: HeldKey): boolean {
  if (typeof key === 'string') return key === OTHER_KEY;
  return key.length > 0 && key.every((part) => part === OTHER_KEY);
}

/** Only count_distinct slots grow as events arrive; any other window's estimate is fixed. */
function grows(definition: WindowDefinition): boolean {
  return definition.aggregations.some((spec) => spec.fn === 'count_distinct');
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

function windowBytes(w: OpenWindow): number {
  let bytes = BASE_WINDOW_BYTES + 48 * w.slots.length;
  if (typeof w.key === 'string') bytes += 2 * w.key.length;
  else for (const part of w.key) bytes += 2 * part.length;
  for (const slot of w.slots) {
    if ('exact' in slot) bytes += slot.hll ? 4_096 : 48 * (slot.exact?.size ?? 0);
  }
  return bytes;
}

export function resultOf(w: OpenWindow, reason: CloseReason): WindowResult {
  const final = reason !== 'update';
  return {
    definition: w.definition.name,
    window: { ...w.window },
    key: keyPartsOf(w.key),
    count: w.count,
    values: aggregateResults(w, w.definition.aggregations),
    firstOffset: BigInt(w.firstOffset),
    lastOffset: BigInt(w.lastOffset),
    reason,
    version: w.count * 2 + (final ? 1 : 0),
  };
}

export class WindowStore {
  /** Tumbling and sliding windows: by definition name, then start. */
  private readonly groups = new Map<string, Map<number, WindowGroup>>();
  /** Session windows: by definition name, then key id; few per key. */
  private readonly sessions = new Map<string, Map<string, OpenWindow[]>>();
  /** What closes when (end + grace), so closing visits only what is due: groups, and sessions. */
  private readonly groupsDue = new Map<number, Set<WindowGroup>>();
  private readonly sessionsDue = new Map<number, Set<OpenWindow>>();
  /** Open sessions per definition, for the key cap. */
  private readonly sessionCounts = new Map<string, number>();
  private openCount = 0;
  private totalBytes = 0;
  /** Windows created or changed, and logged windows removed, since the last changelog snapshot. */
  private readonly changed = new Set<OpenWindow>();
  private readonly removed = new Set<OpenWindow>();

  constructor(private readonly graceMs: number) {}

  get size(): number {
    return this.openCount;
  }

  get bytes(): number {
    return this.totalBytes;
  }

  /** True when a window ending at `windowEnd` has already closed under `watermark`. */
  isClosed(windowEnd: number, watermark: number): boolean {
    return windowEnd + this.graceMs <= watermark;
  }

  /** Adds an event to a tumbling or sliding window. */
  addToWindow(
    definition: WindowDefinition,
    window: Window,
    key: readonly string[],
    event: unknown,
    offset: number,
  ): AddOutcome {
    const group = this.groupOf(definition, window);
    let outcome: AddOutcome = 'added';
    let open = group.windows.get(keyIdOf(key));
    if (!open) {
      if (group.keys >= definition.maxKeys) {
        if (definition.onKeyCap === 'drop') return 'dropped';
        outcome = 'other';
        key = key.map(() => OTHER_KEY);
        open = group.windows.get(keyIdOf(key));
      }
      if (!open) {
        open = this.open(definition, group.window, key, offset);
        group.windows.set(keyIdOf(key), open);
        if (outcome === 'added') group.keys += 1;
      }
    }
    this.absorbInto(open, event, offset);
    return outcome;
  }

  /**
   * Adds an event to its key's session: a new session, an extended one, or several merged into one.
   * Returns the sessions whose rows the merged one replaces (they had been written as updates).
   */
  addToSession(
    definition: WindowDefinition,
    eventTimeMs: number,
    gapMs: number,
    key: readonly string[],
    event: unknown,
    offset: number,
  ): { outcome: AddOutcome; replaced: WindowResult[] } {
    const keyId = keyIdOf(key);
    const span = sessionSpanOf(eventTimeMs, gapMs);
    const byKey = this.sessionsOf(definition.name);
    const existing = byKey.get(keyId);
    const touching = existing?.filter((s) => overlaps(s.window, span)) ?? [];
    // The common case: the event falls in or extends the end of its key's one session. Extended in
    // place, its identity (which ends with its start) unchanged: no merge, no copy, nothing replaced.
    if (touching.length === 1) {
      const only = touching[0]!;
      const covered = cover(only.window, span);
      if (covered.start === only.window.start) {
        if (covered.end !== only.window.end) this.reschedule(only, covered);
        this.absorbInto(only, event, offset);
        return { outcome: 'added', replaced: [] };
      }
    }
    if (touching.length === 0) {
      if ((this.sessionCounts.get(definition.name) ?? 0) >= definition.maxKeys)
        return { outcome: 'dropped', replaced: [] };
      const open = this.open(definition, span, key, offset);
      this.absorbInto(open, event, offset);
      this.addSession(byKey, keyId, open);
      return { outcome: 'added', replaced: [] };
    }
    const covered = touching.reduce((w, s) => cover(w, s.window), span);
    // The merged sessions go (their counts with them); the merged one counts once.
    const merged = this.open(definition, covered, key, offset, touching);
    this.absorbInto(merged, event, offset);
    this.addSession(byKey, keyId, merged);
    // Every replaced identity gets a superseding row, written or not as far as this process knows: a
    // row may have reached ClickHouse before a crash that this state predates. It outranks every
    // version the old identity had, as the merged session holds more records.
    const replaced = touching
      .filter((old) => old.window.start !== covered.start)
      .map((old) => ({ ...resultOf(old, 'superseded'), version: merged.count * 2 + 1 }));
    return { outcome: 'added', replaced };
  }

  /** Removes and returns windows whose end + grace ≤ watermark, oldest first, at most `limit`. */
  closeUpTo(watermark: number, limit: number, reasonOf: (closeAt: number) => CloseReason): WindowResult[] {
    const due = new Set<number>();
    for (const closeAt of this.groupsDue.keys()) if (closeAt <= watermark) due.add(closeAt);
    for (const closeAt of this.sessionsDue.keys()) if (closeAt <= watermark) due.add(closeAt);
    const results: WindowResult[] = [];
    for (const closeAt of [...due].sort((a, b) => a - b)) {
      const reason = reasonOf(closeAt);
      for (const group of this.groupsDue.get(closeAt) ?? []) {
        for (const w of group.windows.values()) {
          if (results.length >= limit) return results;
          results.push(resultOf(w, reason));
          this.remove(w);
        }
      }
      for (const w of this.sessionsDue.get(closeAt) ?? []) {
        if (results.length >= limit) return results;
        results.push(resultOf(w, reason));
        this.remove(w);
      }
    }
    return results;
  }

  /** The earliest close time of any open window, for the state budget's early closes. */
  earliestCloseAt(): number | undefined {
    let earliest: number | undefined;
    for (const closeAt of this.groupsDue.keys())
      if (earliest === undefined || closeAt < earliest) earliest = closeAt;
    for (const closeAt of this.sessionsDue.keys())
      if (earliest === undefined || closeAt < earliest) earliest = closeAt;
    return earliest;
  }

  /** Current results of the open windows that changed since the last call, for `update` emits. */
  updates(isUpdating: (definition: string) => boolean, limit: number): WindowResult[] {
    const results: WindowResult[] = [];
    for (const w of this.openWindows()) {
      if (results.length >= limit) break;
      if (!w.dirty || !isUpdating(w.definition.name)) continue;
      results.push(resultOf(w, 'update'));
      w.dirty = false;
    }
    return results;
  }

  /** The lowest source offset absorbed by a window that is still open; undefined when none is. */
  lowestOffsetHeld(): bigint | undefined {
    let lowest: number | undefined;
    for (const w of this.openWindows())
      if (lowest === undefined || w.firstOffset < lowest) lowest = w.firstOffset;
    return lowest === undefined ? undefined : BigInt(lowest);
  }

  /** Windows changed (value) or removed (null) since the last call, by id; clears the record. */
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

  /** Puts back a window read from the changelog. */
  restore(w: OpenWindow): void {
    w.logged = true;
    this.openCount += 1;
    this.totalBytes += windowBytes(w);
    if (w.definition.type === 'session') {
      this.addSession(this.sessionsOf(w.definition.name), keyIdOf(w.key), w);
      return;
    }
    const group = this.groupOf(w.definition, w.window);
    w.window = group.window;
    group.windows.set(keyIdOf(w.key), w);
    if (!isOtherKey(w.key)) group.keys += 1;
  }

  /** Every open window. */
  private *openWindows(): Generator<OpenWindow> {
    for (const byStart of this.groups.values())
      for (const group of byStart.values()) yield* group.windows.values();
    for (const byKey of this.sessions.values()) for (const list of byKey.values()) yield* list;
  }

  /** The group of a tumbling or sliding window, made (and scheduled to close) on first use. */
  private groupOf(definition: WindowDefinition, window: Window): WindowGroup {
    let byStart = this.groups.get(definition.name);
    if (!byStart) this.groups.set(definition.name, (byStart = new Map<number, WindowGroup>()));
    let group = byStart.get(window.start);
    if (!group) {
      group = { definition, window, closeAt: window.end + this.graceMs, windows: new Map(), keys: 0 };
      byStart.set(window.start, group);
      let due = this.groupsDue.get(group.closeAt);
      if (!due) this.groupsDue.set(group.closeAt, (due = new Set()));
      due.add(group);
    }
    return group;
  }

  private sessionsOf(definition: string): Map<string, OpenWindow[]> {
    let byKey = this.sessions.get(definition);
    if (!byKey) this.sessions.set(definition, (byKey = new Map<string, OpenWindow[]>()));
    return byKey;
  }

  private addSession(byKey: Map<string, OpenWindow[]>, keyId: string, w: OpenWindow): void {
    const list = byKey.get(keyId);
    if (list) list.push(w);
    else byKey.set(keyId, [w]);
    this.sessionCounts.set(w.definition.name, (this.sessionCounts.get(w.definition.name) ?? 0) + 1);
    this.scheduleSession(w);
  }

  private scheduleSession(w: OpenWindow): void {
    const closeAt = w.window.end + this.graceMs;
    let due = this.sessionsDue.get(closeAt);
    if (!due) this.sessionsDue.set(closeAt, (due = new Set()));
    due.add(w);
  }

  private unscheduleSession(w: OpenWindow): void {
    const closeAt = w.window.end + this.graceMs;
    const due = this.sessionsDue.get(closeAt);
    due?.delete(w);
    if (due?.size === 0) this.sessionsDue.delete(closeAt);
  }

  /** A new window (not yet in its group or key's sessions), folding in and removing `mergedFrom`. */
  private open(
    definition: WindowDefinition,
    window: Window,
    key: readonly string[],
    offset: number,
    mergedFrom: readonly OpenWindow[] = [],
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
    for (const old of mergedFrom) {
      mergeAggregates(w, old, definition.aggregations);
      if (old.firstOffset < w.firstOffset) w.firstOffset = old.firstOffset;
      if (old.lastOffset > w.lastOffset) w.lastOffset = old.lastOffset;
      this.remove(old);
    }
    this.openCount += 1;
    this.totalBytes += windowBytes(w);
    this.changed.add(w);
    return w;
  }

  private absorbInto(w: OpenWindow, event: unknown, offset: number): void {
    const growing = grows(w.definition);
    const before = growing ? windowBytes(w) : 0;
    addEvent(w, w.definition.aggregations, event);
    if (growing) this.totalBytes += windowBytes(w) - before;
    if (offset < w.firstOffset) w.firstOffset = offset;
    if (offset > w.lastOffset) w.lastOffset = offset;
    w.dirty = true;
    this.changed.add(w);
  }

  /** A session that grew: its new span and close time. */
  private reschedule(w: OpenWindow, window: Window): void {
    this.unscheduleSession(w);
    w.window = window;
    this.scheduleSession(w);
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
    byStart!.delete(w.window.start);
    if (byStart!.size === 0) this.groups.delete(name);
    const due = this.groupsDue.get(group.closeAt);
    due?.delete(group);
    if (due?.size === 0) this.groupsDue.delete(group.closeAt);
  }
}
