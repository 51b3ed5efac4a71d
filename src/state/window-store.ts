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

export interface OpenWindow {
  readonly id: string;
  readonly definition: WindowDefinition;
  window: Window;
  readonly key: readonly string[];
  readonly agg: AggregateState;
  firstOffset: bigint;
  lastOffset: bigint;
  closeAt: number;
  /** Changed since the last update emit. */
  dirty: boolean;
  bytes: number;
}

export type AddOutcome = 'added' | 'other' | 'dropped';

export const OTHER_KEY = '__other__';

const BASE_WINDOW_BYTES = 160;

function keyIdOf(key: readonly string[]): string {
  return key.join('\u0000');
}

function windowBytes(w: OpenWindow): number {
  let bytes = BASE_WINDOW_BYTES + 2 * w.id.length + 48 * w.agg.slots.length;
  for (const slot of w.agg.slots) {
    if ('exact' in slot) bytes += slot.hll ? 4_096 : 48 * (slot.exact?.size ?? 0);
  }
  return bytes;
}

export function resultOf(w: OpenWindow, reason: CloseReason): WindowResult {
  const final = reason !== 'update';
  return {
    definition: w.definition.name,
    window: { ...w.window },
    key: w.key,
    count: w.agg.count,
    values: aggregateResults(w.agg, w.definition.aggregations),
    firstOffset: w.firstOffset,
    lastOffset: w.lastOffset,
    reason,
    version: w.agg.count * 2 + (final ? 1 : 0),
  };
}

export class WindowStore {
  private readonly windows = new Map<string, OpenWindow>();
  /** Open windows by close time (end + grace), so closing visits only what is due. */
  private readonly buckets = new Map<number, Set<OpenWindow>>();
  /** Session windows per (definition, key), few per key. */
  private readonly sessions = new Map<string, OpenWindow[]>();
  /** Keys per (definition, window start) for the key cap; open sessions per definition. */
  private readonly keyCounts = new Map<string, number>();
  private totalBytes = 0;
  /** Windows created, changed or removed since the last changelog snapshot. */
  private readonly changed = new Map<string, OpenWindow | null>();

  constructor(private readonly graceMs: number) {}

  get size(): number {
    return this.windows.size;
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
    offset: bigint,
  ): AddOutcome {
    let outcome: AddOutcome = 'added';
    let id = `${definition.name}\u0001${window.start}\u0001${keyIdOf(key)}`;
    let open = this.windows.get(id);
    if (!open) {
      const capKey = `${definition.name}\u0001${window.start}`;
      if ((this.keyCounts.get(capKey) ?? 0) >= definition.maxKeys) {
        if (definition.onKeyCap === 'drop') return 'dropped';
        outcome = 'other';
        key = key.map(() => OTHER_KEY);
        id = `${definition.name}\u0001${window.start}\u0001${keyIdOf(key)}`;
        open = this.windows.get(id);
      }
      if (!open) {
        open = this.open(id, definition, window, key, offset);
        if (outcome === 'added') this.keyCounts.set(capKey, (this.keyCounts.get(capKey) ?? 0) + 1);
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
    offset: bigint,
  ): { outcome: AddOutcome; replaced: WindowResult[] } {
    const sessionKey = `${definition.name}\u0001${keyIdOf(key)}`;
    const span = sessionSpanOf(eventTimeMs, gapMs);
    const existing = this.sessions.get(sessionKey) ?? [];
    const touching = existing.filter((s) => overlaps(s.window, span));
    // The common case: the event falls in or extends the end of its key's one session. Extended in
    // place, its identity (which starts with its start) unchanged: no merge, no copy, nothing replaced.
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
      const capKey = definition.name;
      if ((this.keyCounts.get(capKey) ?? 0) >= definition.maxKeys)
        return { outcome: 'dropped', replaced: [] };
      this.keyCounts.set(capKey, (this.keyCounts.get(capKey) ?? 0) + 1);
      const open = this.open(`${sessionKey}\u0001${span.start}`, definition, span, key, offset);
      this.absorbInto(open, event, offset);
      this.sessions.set(sessionKey, [...existing, open]);
      return { outcome: 'added', replaced: [] };
    }
    const covered = touching.reduce((w, s) => cover(w, s.window), span);
    const id = `${sessionKey}\u0001${covered.start}`;
    const merged = this.open(id, definition, covered, key, offset, touching);
    this.absorbInto(merged, event, offset);
    // Every replaced identity gets a superseding row, written or not as far as this process knows: a
    // row may have reached ClickHouse before a crash that this state predates. It outranks every
    // version the old identity had, as the merged session holds more records.
    const replaced = touching
      .filter((old) => old.id !== id)
      .map((old) => ({ ...resultOf(old, 'superseded'), version: merged.agg.count * 2 + 1 }));
    this.sessions.set(sessionKey, [...existing.filter((s) => !touching.includes(s)), merged]);
    // open() removed the merged sessions (and their counts); the merged one counts once.
    this.keyCounts.set(definition.name, (this.keyCounts.get(definition.name) ?? 0) + 1);
    return { outcome: 'added', replaced };
  }

  /** Removes and returns windows whose end + grace ≤ watermark, oldest first, at most `limit`. */
  closeUpTo(watermark: number, limit: number, reasonOf: (closeAt: number) => CloseReason): WindowResult[] {
    const due = [...this.buckets.keys()].filter((closeAt) => closeAt <= watermark).sort((a, b) => a - b);
    const results: WindowResult[] = [];
    for (const closeAt of due) {
      for (const w of this.buckets.get(closeAt) as Set<OpenWindow>) {
        if (results.length >= limit) return results;
        results.push(resultOf(w, reasonOf(closeAt)));
        this.remove(w);
      }
    }
    return results;
  }

  /** The earliest close time of any open window, for the state budget's early closes. */
  earliestCloseAt(): number | undefined {
    let earliest: number | undefined;
    for (const closeAt of this.buckets.keys())
      if (earliest === undefined || closeAt < earliest) earliest = closeAt;
    return earliest;
  }

  /** Current results of the open windows that changed since the last call, for `update` emits. */
  updates(isUpdating: (definition: string) => boolean, limit: number): WindowResult[] {
    const results: WindowResult[] = [];
    for (const w of this.windows.values()) {
      if (results.length >= limit) break;
      if (!w.dirty || !isUpdating(w.definition.name)) continue;
      results.push(resultOf(w, 'update'));
      w.dirty = false;
    }
    return results;
  }

  /** The lowest source offset absorbed by a window that is still open; undefined when none is. */
  lowestOffsetHeld(): bigint | undefined {
    let lowest: bigint | undefined;
    for (const w of this.windows.values())
      if (lowest === undefined || w.firstOffset < lowest) lowest = w.firstOffset;
    return lowest;
  }

  /** Windows changed (value) or removed (null) since the last call, by id; clears the record. */
  takeChanges(): Map<string, OpenWindow | null> {
    const changes = new Map(this.changed);
    this.changed.clear();
    return changes;
  }

  /** Puts back a window read from the changelog. */
  restore(w: OpenWindow): void {
    this.windows.set(w.id, w);
    this.bucket(w);
    w.bytes = windowBytes(w);
    this.totalBytes += w.bytes;
    if (w.definition.type === 'session') {
      const sessionKey = `${w.definition.name}\u0001${keyIdOf(w.key)}`;
      this.sessions.set(sessionKey, [...(this.sessions.get(sessionKey) ?? []), w]);
      this.keyCounts.set(w.definition.name, (this.keyCounts.get(w.definition.name) ?? 0) + 1);
    } else if (!w.key.every((part) => part === OTHER_KEY) || w.key.length === 0) {
      const capKey = `${w.definition.name}\u0001${w.window.start}`;
      this.keyCounts.set(capKey, (this.keyCounts.get(capKey) ?? 0) + 1);
    }
  }

  private open(
    id: string,
    definition: WindowDefinition,
    window: Window,
    key: readonly string[],
    offset: bigint,
    mergedFrom: readonly OpenWindow[] = [],
  ): OpenWindow {
    const agg = emptyAggregate(definition.aggregations);
    let firstOffset = offset;
    let lastOffset = offset;
    for (const old of mergedFrom) {
      mergeAggregates(agg, old.agg, definition.aggregations);
      if (old.firstOffset < firstOffset) firstOffset = old.firstOffset;
      if (old.lastOffset > lastOffset) lastOffset = old.lastOffset;
      this.remove(old);
    }
    const w: OpenWindow = {
      id,
      definition,
      window,
      key,
      agg,
      firstOffset,
      lastOffset,
      closeAt: window.end + this.graceMs,
      dirty: true,
      bytes: 0,
    };
    this.windows.set(id, w);
    this.bucket(w);
    this.changed.set(id, w);
    return w;
  }

  private absorbInto(w: OpenWindow, event: unknown, offset: bigint): void {
    addEvent(w.agg, w.definition.aggregations, event);
    if (offset < w.firstOffset) w.firstOffset = offset;
    if (offset > w.lastOffset) w.lastOffset = offset;
    w.dirty = true;
    this.changed.set(w.id, w);
    const bytes = windowBytes(w);
    this.totalBytes += bytes - w.bytes;
    w.bytes = bytes;
  }

  /** A session that grew: its new span and close time. */
  private reschedule(w: OpenWindow, window: Window): void {
    const bucket = this.buckets.get(w.closeAt);
    bucket?.delete(w);
    if (bucket?.size === 0) this.buckets.delete(w.closeAt);
    w.window = window;
    w.closeAt = window.end + this.graceMs;
    this.bucket(w);
  }

  private bucket(w: OpenWindow): void {
    let bucket = this.buckets.get(w.closeAt);
    if (!bucket) this.buckets.set(w.closeAt, (bucket = new Set()));
    bucket.add(w);
  }

  private remove(w: OpenWindow): void {
    this.windows.delete(w.id);
    const bucket = this.buckets.get(w.closeAt);
    bucket?.delete(w);
    if (bucket?.size === 0) this.buckets.delete(w.closeAt);
    this.totalBytes -= w.bytes;
    this.changed.set(w.id, null);
    if (w.definition.type === 'session') {
      const sessionKey = `${w.definition.name}\u0001${keyIdOf(w.key)}`;
      const rest = (this.sessions.get(sessionKey) ?? []).filter((s) => s !== w);
      if (rest.length === 0) this.sessions.delete(sessionKey);
      else this.sessions.set(sessionKey, rest);
      this.keyCounts.set(w.definition.name, (this.keyCounts.get(w.definition.name) ?? 0) - 1);
    } else if (!w.key.every((part) => part === OTHER_KEY) || w.key.length === 0) {
      const capKey = `${w.definition.name}\u0001${w.window.start}`;
      const left = (this.keyCounts.get(capKey) ?? 0) - 1;
      if (left <= 0) this.keyCounts.delete(capKey);
      else this.keyCounts.set(capKey, left);
    }
  }
}
