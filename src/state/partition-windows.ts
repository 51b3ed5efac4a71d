// The windows of one partition: assigns each event to its windows per definition (tumbling, sliding,
// session), keeps the watermark, tells late events apart (and how late), closes windows when the
// watermark, idleness or the state budget says so, and emits early updates. Pure: time is passed in.
import type { Pipeline, WindowConfig } from '../config/schema.js';
import { fieldValue } from '../aggregations/aggregates.js';
import { slidingWindowsOf } from '../windows/sliding.js';
import { tumblingWindowOf } from '../windows/tumbling.js';
import { Watermark } from '../windows/watermark.js';
import type { Window } from '../windows/window.js';
import { decodeWindow, encodeWindow, isWindowKey, windowKey, type Checkpoint } from './changelog-codec.js';
import { WindowStore, type AddOutcome, type WindowResult } from './window-store.js';

export interface WindowedEvent {
  value: unknown;
  eventTimeMs: number;
}

export interface Lateness {
  definition: string;
  /** How far the watermark had passed the close time of the (oldest) window the event missed. */
  byMs: number;
}

export interface AbsorbOutcome {
  /** One entry per definition the event missed a window of; empty when it was on time everywhere. */
  late: Lateness[];
  /** Windows where the key cap applied: the event was dropped there, or went under `__other__`. */
  capped: number;
}

export interface WindowCounters {
  /** Windows closed early because the partition's state exceeded its byte budget. */
  budgetClosed: number;
  /** Events dropped from a window at its key cap. */
  keyCapDropped: number;
  /** Events aggregated under `__other__` at a window's key cap. */
  keyCapOther: number;
}

export function groupKeyOf(value: unknown, fields: readonly string[]): string[] {
  return fields.map((field) => {
    const part = fieldValue(value, field);
    if (part === undefined || part === null) return '';
    return typeof part === 'string' ? part : JSON.stringify(part);
  });
}

export class PartitionWindows {
  readonly counters: WindowCounters = { budgetClosed: 0, keyCapDropped: 0, keyCapOther: 0 };
  readonly store: WindowStore;
  readonly watermark: Watermark;
  /** Rows waiting for closeDue: session rows replaced by merges, windows closed by the budget. */
  private pending: WindowResult[] = [];
  private readonly lastUpdateAt = new Map<string, number>();

  constructor(
    private readonly pipeline: {
      time: Pipeline['time'];
      windows: readonly WindowConfig[];
      state: Pipeline['state'];
    },
  ) {
    this.store = new WindowStore(pipeline.time.grace);
    this.watermark = new Watermark({
      maxOutOfOrdernessMs: pipeline.time.maxOutOfOrderness,
      idleTimeoutMs: pipeline.time.idleTimeout,
    });
  }

  get openWindows(): number {
    return this.store.size;
  }

  get stateBytes(): number {
    return this.store.bytes;
  }

  /** The watermark as of the last event (no idle advance). */
  currentWatermark(nowMs: number): number {
    return this.watermark.current(nowMs, false);
  }

  /** Adds the event to its windows in every definition; says where it was late or capped. */
  absorb(event: WindowedEvent, offset: bigint, nowMs: number): AbsorbOutcome {
    const watermark = this.watermark.current(nowMs, false);
    const outcome: AbsorbOutcome = { late: [], capped: 0 };
    // The store keeps offsets as numbers (smaller than BigInts, and exact below 2^53).
    const at = Number(offset);
    for (const definition of this.pipeline.windows) {
      const key = groupKeyOf(event.value, definition.groupBy);
      if (definition.type === 'session') {
        const closesBy = watermark - this.pipeline.time.grace;
        if (event.eventTimeMs < closesBy) {
          outcome.late.push({ definition: definition.name, byMs: closesBy - event.eventTimeMs });
          continue;
        }
        const added = this.store.addToSession(
          definition,
          event.eventTimeMs,
          definition.gap,
          key,
          event.value,
          at,
        );
        this.count(added.outcome, outcome);
        this.pending.push(...added.replaced);
        continue;
      }
      let missed: number | undefined;
      for (const window of this.windowsOf(definition, event.eventTimeMs)) {
        if (this.store.isClosed(window.end, watermark)) {
          missed ??= watermark - (window.end + this.pipeline.time.grace);
          continue;
        }
        this.count(this.store.addToWindow(definition, window, key, event.value, at), outcome);
      }
      if (missed !== undefined) outcome.late.push({ definition: definition.name, byMs: missed });
    }
    this.watermark.observe(event.eventTimeMs, nowMs);
    this.enforceBudget();
    return outcome;
  }

  /**
   * Removes and returns the windows that the watermark (idle-advanced when caught up) has closed, and
   * the rows waiting since a merge or a budget close: at most `limit`.
   */
  closeDue(nowMs: number, caughtUp: boolean, limit = Number.POSITIVE_INFINITY): WindowResult[] {
    const results = this.pending.slice(0, limit);
    this.pending = this.pending.slice(results.length);
    if (results.length >= limit) return results;
    const watermark = this.watermark.current(nowMs, caughtUp);
    const byEvents = this.watermark.eventWatermark;
    return results.concat(
      this.store.closeUpTo(watermark, limit - results.length, (closeAt) =>
        closeAt <= byEvents ? 'watermark' : 'idle',
      ),
    );
  }

  /** Early rows of open windows that changed, for definitions in `update` mode whose interval has passed. */
  updatesDue(nowMs: number, limit = Number.POSITIVE_INFINITY): WindowResult[] {
    const due = new Set<string>();
    for (const definition of this.pipeline.windows) {
      if (definition.emit.mode !== 'update') continue;
      const last = this.lastUpdateAt.get(definition.name);
      if (last === undefined || nowMs - last >= definition.emit.every) due.add(definition.name);
    }
    if (due.size === 0) return [];
    const results = this.store.updates((name) => due.has(name), limit);
    // A definition is up to date only once all its changed windows went out.
    if (results.length < limit) for (const name of due) this.lastUpdateAt.set(name, nowMs);
    return results;
  }

  /** Rows handed out by neither closeDue nor a snapshot yet: a snapshot must wait for them. */
  get pendingRows(): number {
    return this.pending.length;
  }

  /** Hands out every waiting row (session rows replaced by merges, budget closes), however many. */
  takePending(): WindowResult[] {
    const rows = this.pending;
    this.pending = [];
    return rows;
  }

  /** The windows changed since the last call, as changelog records (null: a tombstone), by key. */
  takeChangelog(): Map<string, Buffer | null> {
    const records = new Map<string, Buffer | null>();
    for (const [id, w] of this.store.takeChanges()) records.set(windowKey(id), w ? encodeWindow(w) : null);
    return records;
  }

  /** Rebuilds the state from changelog records; returns why any window could not be restored. */
  restore(
    records: ReadonlyMap<string, Buffer | string>,
    checkpoint: Checkpoint | undefined,
    nowMs: number,
  ): string[] {
    const definitions = new Map(this.pipeline.windows.map((w) => [w.name, w]));
    const problems: string[] = [];
    for (const [key, text] of records) {
      if (!isWindowKey(key)) continue;
      const w = decodeWindow(text, definitions);
      if (typeof w === 'string') problems.push(w);
      else this.store.restore(w);
    }
    this.store.takeChanges();
    if (checkpoint) this.watermark.restore(checkpoint.watermark, nowMs);
    return problems;
  }

  private windowsOf(definition: Exclude<WindowConfig, { type: 'session' }>, eventTimeMs: number): Window[] {
    return definition.type === 'tumbling'
      ? [tumblingWindowOf(eventTimeMs, definition.size)]
      : slidingWindowsOf(eventTimeMs, definition.size, definition.advance);
  }

  private count(added: AddOutcome, outcome: AbsorbOutcome): void {
    if (added === 'added') return;
    outcome.capped += 1;
    if (added === 'dropped') this.counters.keyCapDropped += 1;
    else this.counters.keyCapOther += 1;
  }

  /** Over the byte budget: close the windows that would close first, early, and move the watermark there. */
  private enforceBudget(): void {
    while (this.store.bytes > this.pipeline.state.maxBytes && this.store.size > 0) {
      const closeAt = this.store.earliestCloseAt() as number;
      this.watermark.advanceTo(closeAt);
      const closed = this.store.closeUpTo(closeAt, Number.POSITIVE_INFINITY, () => 'state-budget');
      this.counters.budgetClosed += closed.length;
      this.pending.push(...closed);
    }
  }
}
