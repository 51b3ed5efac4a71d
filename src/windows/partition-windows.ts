// The windows of one partition: assigns each event to its windows per definition (tumbling, sliding,
// session), keeps the watermark, tells late events apart (and how late), closes windows when the
// watermark, idleness or the state budget says so, keeps fired windows for their allowed lateness (a
// late event within it writes the row again), and emits early updates. Pure: time is passed in;
// the store of open windows and the changelog's encoding are injected (state/ implements both), so
// this file decides every rule and imports nothing below windows/.
import { readField, type FieldPath } from '../aggregations/field-path.js';
import { brokenNeed, fieldNeedsOf, type FieldNeed } from './event-fields.js';
import { addToWindow, admits, type AddOutcome, type KeyCapDrop } from './key-cap.js';
import { addToSession } from './session-merging.js';
import { hasFired, isMissed, sessionCloseBy, windowsOf, type Lateness } from './lateness.js';
import { SourceWatermarks } from './source-watermarks.js';
import { Watermark, type WatermarkClock, type WatermarkSnapshot } from './watermark.js';
import type { Window } from './window.js';
import type { WindowDefinition } from './window-definition.js';
import { ChangelogRebuild, type WindowChangelog } from './window-restore.js';
import { resultOf, type WindowResult } from './window-result.js';
import { OTHER_KEY, closeAtOf, keyIdOf, type OpenWindow, type WindowStore } from './window-store.js';

export interface WindowedEvent {
  value: unknown;
  eventTimeMs: number;
  /** A re-keyed event: its source partition and that partition's watermark before it. */
  source?: { partition: number; watermark: number };
}

export type { Lateness } from './lateness.js';

export interface AbsorbOutcome {
  /** One entry per definition the event missed a window of; empty when it was on time everywhere. */
  late: Lateness[];
  /** Windows where the key cap applied: the event was dropped there, or went under `__other__`. */
  capped: number;
  /** The windows the key cap dropped the event from; absent when none did (the common case). */
  dropped?: KeyCapDrop[];
  /**
   * A field a window needs is missing or of the wrong type (event-fields.ts): the event went into no
   * window, and this says which field, what was expected and what was found.
   */
  invalid?: string;
}

export interface WindowCounters {
  /** Windows closed early because the partition's state exceeded its byte budget. */
  budgetClosed: number;
  /** Windows kept for their allowed lateness, let go early by the byte budget. */
  budgetReleased: number;
  /** Late events (per window definition) absorbed by a window kept for its allowed lateness. */
  lateUpdates: number;
  /** Events dropped from a window at its key cap. */
  keyCapDropped: number;
  /** Events aggregated under `__other__` at a window's key cap. */
  keyCapOther: number;
}

/** What a partition's windows are built from: compiled definitions (defineWindow), times in ms. */
export interface PartitionWindowSettings {
  windows: readonly WindowDefinition[];
  time: { grace: number; maxOutOfOrderness: number; idleTimeout: number };
  /** The state budget: above it, the windows that would close first close early. */
  stateMaxBytes: number;
  /**
   * Re-keyed windows: the source topic's partition count. The watermark is then the lowest of the
   * source partitions' (source-watermarks.ts), not this partition's own.
   */
  sources?: number;
}

/** The watermark a restored partition resumes from (the changelog's checkpoint). */
export interface WindowsCheckpoint {
  watermark: WatermarkSnapshot;
}

export function groupKeyOf(value: unknown, paths: readonly FieldPath[]): string[] {
  return paths.map((path) => {
    const part = readField(value, path);
    if (part === undefined || part === null) return '';
    return typeof part === 'string' ? part : JSON.stringify(part);
  });
}

/** A partition's windows rebuilt while its changelog was read, and the rebuild (what it left out). */
export interface RebuiltWindows<R> {
  windows: PartitionWindows<R>;
  rebuild: ChangelogRebuild<R>;
}

export class PartitionWindows<R> {
  readonly counters: WindowCounters = {
    budgetClosed: 0,
    budgetReleased: 0,
    lateUpdates: 0,
    keyCapDropped: 0,
    keyCapOther: 0,
  };
  readonly watermark: WatermarkClock;
  /** Re-keyed windows: the same object, as what it also is (the source partitions' watermarks). */
  private readonly sourceWatermarks: SourceWatermarks | undefined;
  /** Rows waiting for closeDue: session rows replaced by merges, windows closed by the budget. */
  private pending: WindowResult[] = [];
  private readonly lastUpdateAt = new Map<string, number>();
  /** Kept windows a late event changed since their row was last written. */
  private readonly lateChanged = new Set<OpenWindow>();
  /** Per definition, its variant for kept windows: closing (letting go) at end + grace + allowed lateness. */
  private readonly keptDefinitions = new Map<string, WindowDefinition>();
  /** The fields the windows read, each once, and what each must hold. */
  private readonly needs: readonly FieldNeed[];

  /**
   * `store` holds the open windows; `retained` those that fired and are kept for their definition's
   * allowed lateness (under a variant of the definition whose close time is the end of the lateness),
   * so that a late event within it updates the window and writes its row again.
   */
  constructor(
    private readonly settings: PartitionWindowSettings,
    readonly store: WindowStore,
    private readonly changelog: WindowChangelog<R>,
    readonly retained: WindowStore,
  ) {
    for (const d of settings.windows)
      this.keptDefinitions.set(d.name, { ...d, graceMs: d.graceMs + d.allowedLatenessMs });
    this.needs = fieldNeedsOf(settings.windows);
    this.sourceWatermarks =
      settings.sources === undefined
        ? undefined
        : new SourceWatermarks(settings.sources, settings.time.maxOutOfOrderness);
    this.watermark =
      this.sourceWatermarks ??
      new Watermark({
        maxOutOfOrdernessMs: settings.time.maxOutOfOrderness,
        idleTimeoutMs: settings.time.idleTimeout,
      });
  }

  /** A source partition's marker (re-keyed windows only): how far its event time has come. */
  hearSource(source: number, watermark: number, empty: boolean): void {
    this.sourceWatermarks?.hear(source, watermark, empty);
  }

  get openWindows(): number {
    return this.store.size;
  }

  get stateBytes(): number {
    return this.store.bytes + this.retained.bytes;
  }

  /** Windows that fired and are kept for their allowed lateness. */
  get retainedWindows(): number {
    return this.retained.size;
  }

  /** The watermark as of the last event (no idle advance). */
  currentWatermark(nowMs: number): number {
    return this.watermark.current(nowMs, false);
  }

  /**
   * Adds the event to its windows in every definition; says where it was late or capped. `only` (a
   * replayed dead letter's windows, see key-cap.ts) restricts it to those windows: elsewhere it was
   * counted the first time.
   */
  absorb(event: WindowedEvent, offset: bigint, nowMs: number, only?: ReadonlySet<string>): AbsorbOutcome {
    const invalid = brokenNeed(event.value, this.needs);
    if (invalid !== undefined) return { late: [], capped: 0, invalid };
    const watermark = this.watermark.current(nowMs, false);
    const outcome: AbsorbOutcome = { late: [], capped: 0 };
    // The store keeps offsets as numbers (smaller than BigInts, and exact below 2^53).
    const at = Number(offset);
    for (const definition of this.settings.windows) {
      const key = groupKeyOf(event.value, definition.groupByPaths);
      const keyId = keyIdOf(key);
      if (definition.type === 'session') {
        if (only && !admits(only, definition.name)) continue;
        const closesBy = sessionCloseBy(definition, watermark);
        if (event.eventTimeMs < closesBy) {
          outcome.late.push({ definition: definition.name, byMs: closesBy - event.eventTimeMs });
          continue;
        }
        const added = addToSession(this.store, definition, event.eventTimeMs, key, keyId, event.value, at);
        this.count(added.outcome, outcome, definition);
        if (added.replaced.length > 0) this.pending.push(...added.replaced);
        continue;
      }
      let missed: number | undefined;
      const missedStarts: number[] = [];
      for (const window of windowsOf(definition, event.eventTimeMs)) {
        if (only && !admits(only, definition.name, window.start)) continue;
        if (hasFired(definition, window, watermark)) {
          if (!isMissed(definition, window, watermark)) {
            const kept = this.keptDefinitions.get(definition.name)!;
            this.absorbLate(kept, window, key, keyId, event.value, at, outcome, definition);
            continue;
          }
          missed ??= watermark - (window.end + definition.graceMs);
          missedStarts.push(window.start);
          continue;
        }
        const added = addToWindow(this.store, definition, window, key, keyId, event.value, at);
        if (added !== 'added') this.count(added, outcome, definition, window.start);
      }
      if (missed !== undefined)
        outcome.late.push({ definition: definition.name, byMs: missed, windowStarts: missedStarts });
    }
    this.watermark.observe(event.eventTimeMs, nowMs, event.source);
    this.enforceBudget();
    return outcome;
  }

  /**
   * A late event within its window's allowed lateness: into the kept window (opened if the window fired
   * without this key), whose row is written again by the next closeDue or snapshot.
   */
  private absorbLate(
    kept: WindowDefinition,
    window: Window,
    key: readonly string[],
    keyId: string,
    value: unknown,
    at: number,
    outcome: AbsorbOutcome,
    definition: WindowDefinition,
  ): void {
    this.counters.lateUpdates += 1;
    // Due but not fired yet (closeDue has not run since the watermark passed it): it fires with this
    // event in it, so its window is still the open one.
    const open = this.store.windowAt(definition, window, keyId);
    if (open) {
      this.store.absorb(open, value, at);
      return;
    }
    const added = addToWindow(this.retained, kept, window, key, keyId, value, at);
    if (added !== 'added') this.count(added, outcome, definition, window.start);
    if (added === 'dropped') return;
    const held = added === 'added' ? keyId : keyIdOf(key.map(() => OTHER_KEY));
    const w = this.retained.windowAt(kept, window, held);
    if (w) this.lateChanged.add(w);
  }

  /** The rows of kept windows that late events changed: written again, with more records, so a higher version. */
  private lateRows(limit: number): WindowResult[] {
    const rows: WindowResult[] = [];
    for (const w of this.lateChanged) {
      if (rows.length >= limit) break;
      rows.push(resultOf(w, 'late'));
      w.dirty = false;
      this.lateChanged.delete(w);
    }
    return rows;
  }

  /**
   * Removes and returns the windows that the watermark (idle-advanced when caught up) has closed, and
   * the rows waiting since a merge, a budget close or a late event: at most `limit`. A window with
   * allowed lateness is kept after it fires; kept windows whose lateness is over are let go (no row:
   * theirs is written).
   */
  closeDue(nowMs: number, caughtUp: boolean, limit = Number.POSITIVE_INFINITY): WindowResult[] {
    const results = this.pending.slice(0, limit);
    this.pending = this.pending.slice(results.length);
    if (results.length < limit) results.push(...this.lateRows(limit - results.length));
    if (results.length >= limit) return results;
    const watermark = this.watermark.current(nowMs, caughtUp);
    const byEvents = this.watermark.eventWatermark;
    for (const w of this.store.removeDue(watermark, limit - results.length)) {
      results.push(resultOf(w, closeAtOf(w) <= byEvents ? 'watermark' : 'idle'));
      this.keep(w);
    }
    // Every changed kept window's row went out above: what the lateness ends for goes quietly.
    if (this.lateChanged.size === 0) this.retained.removeDue(watermark, Number.POSITIVE_INFINITY);
    return results;
  }

  /** A window that fired, kept for its definition's allowed lateness (if any). */
  private keep(w: OpenWindow): void {
    if (w.definition.allowedLatenessMs === 0) return;
    this.retained.adopt({ ...w, definition: this.keptDefinitions.get(w.definition.name)!, dirty: false });
  }

  /** Early rows of open windows that changed, for definitions in `update` mode whose interval has passed. */
  updatesDue(nowMs: number, limit = Number.POSITIVE_INFINITY): WindowResult[] {
    const due = new Set<WindowDefinition>();
    for (const definition of this.settings.windows) {
      if (definition.emit.mode !== 'update') continue;
      const last = this.lastUpdateAt.get(definition.name);
      if (last === undefined || nowMs - last >= definition.emit.everyMs) due.add(definition);
    }
    if (due.size === 0) return [];
    const results: WindowResult[] = [];
    for (const w of this.store.windows()) {
      if (results.length >= limit) break;
      if (!w.dirty || !due.has(w.definition)) continue;
      results.push(resultOf(w, 'update'));
      w.dirty = false;
    }
    // A definition is up to date only once all its changed windows went out.
    if (results.length < limit) for (const definition of due) this.lastUpdateAt.set(definition.name, nowMs);
    return results;
  }

  /** Rows handed out by neither closeDue nor a snapshot yet: a snapshot must wait for them. */
  get pendingRows(): number {
    return this.pending.length + this.lateChanged.size;
  }

  /** Hands out every waiting row (session rows replaced by merges, budget closes, late updates). */
  takePending(): WindowResult[] {
    const rows = this.pending.concat(this.lateRows(Number.POSITIVE_INFINITY));
    this.pending = [];
    return rows;
  }

  /** The windows changed since the last call, as changelog records (null: a tombstone), by key. */
  takeChangelog(): Map<string, R | null> {
    const records = new Map<string, R | null>();
    for (const [id, w] of this.store.takeChanges())
      records.set(this.changelog.keyOf(id), w ? this.changelog.encode(w) : null);
    for (const [id, w] of this.retained.takeChanges())
      records.set(this.changelog.retainedKeyOf(id), w ? this.changelog.encode(w) : null);
    return records;
  }

  /**
   * A rebuild of this partition's windows from its changelog, fed record by record as they are read
   * (window-restore.ts); `resume` then takes the checkpoint's watermark.
   */
  rebuilding(): ChangelogRebuild<R> {
    const definitions = new Map(this.settings.windows.map((w) => [w.name, w]));
    return new ChangelogRebuild(
      this.changelog,
      { store: this.store, definitions },
      { store: this.retained, definitions: this.keptDefinitions },
    );
  }

  /** After a rebuild: nothing restored counts as changed, and the watermark is the checkpoint's. */
  resume(checkpoint: WindowsCheckpoint | undefined, nowMs: number): void {
    this.store.takeChanges();
    this.retained.takeChanges();
    if (checkpoint) this.watermark.restore(checkpoint.watermark, nowMs);
  }

  /**
   * Rebuilds the state from changelog records (the newest per key); returns why any window could not
   * be restored. Windows of `retired` definitions (removed from the pipeline, their state not dropped
   * yet) are left out quietly.
   */
  restore(
    records: ReadonlyMap<string, R | string>,
    checkpoint: WindowsCheckpoint | undefined,
    nowMs: number,
    retired: ReadonlySet<string> = new Set(),
  ): string[] {
    const rebuild = this.rebuilding();
    for (const [key, value] of records) rebuild.put(key, value);
    this.resume(checkpoint, nowMs);
    return rebuild.problems(retired);
  }

  private count(
    added: AddOutcome,
    outcome: AbsorbOutcome,
    definition: WindowDefinition,
    windowStart?: number,
  ): void {
    if (added === 'added') return;
    outcome.capped += 1;
    if (added === 'other') {
      this.counters.keyCapOther += 1;
      return;
    }
    this.counters.keyCapDropped += 1;
    const drop: KeyCapDrop = { definition: definition.name, maxKeys: definition.maxKeys };
    if (windowStart !== undefined) drop.windowStart = windowStart;
    (outcome.dropped ??= []).push(drop);
  }

  /** Over the byte budget: close the windows that would close first, early, and move the watermark there. */
  private enforceBudget(): void {
    // Kept windows go first: their rows are written, only a later late event would need them.
    while (this.stateBytes > this.settings.stateMaxBytes && this.retained.size > 0) {
      for (const w of this.retained.removeDue(this.retained.earliestCloseAt()!, 1)) {
        if (this.lateChanged.delete(w)) this.pending.push(resultOf(w, 'late'));
        this.counters.budgetReleased += 1;
      }
    }
    while (this.store.bytes > this.settings.stateMaxBytes && this.store.size > 0) {
      const closeAt = this.store.earliestCloseAt() as number;
      this.watermark.advanceTo(closeAt);
      const closed = this.store.removeDue(closeAt, Number.POSITIVE_INFINITY);
      this.counters.budgetClosed += closed.length;
      for (const w of closed) this.pending.push(resultOf(w, 'state-budget'));
    }
  }
}
