// The in-memory window state of one partition: open windows with their aggregates and the lowest source
// offset each one absorbed. A window's records are durable only once its result is sunk, so the lowest
// offset held by any open window bounds what the partition may commit. Pure: no I/O, no clock.
import type { Window } from '../windows/window.js';

export interface WindowResult {
  readonly definition: string;
  readonly window: Window;
  readonly key: readonly string[];
  readonly count: number;
  /** The lowest source offset absorbed: the result holds the partition's commit until it is sunk. */
  readonly firstOffset: bigint;
  /** The highest source offset absorbed. */
  readonly lastOffset: bigint;
}

interface OpenWindow {
  readonly definition: string;
  readonly window: Window;
  readonly key: readonly string[];
  count: number;
  firstOffset: bigint;
  lastOffset: bigint;
}

/** Open windows that close at the same instant, with the lowest offset any of them holds. */
interface CloseBucket {
  readonly windows: Map<string, OpenWindow>;
  lowestOffset: bigint;
}

export class WindowStore {
  // Buckets by close time (window end + grace), so closing scans only what is due.
  private readonly buckets = new Map<number, CloseBucket>();
  private openCount = 0;

  constructor(private readonly graceMs: number) {}

  get size(): number {
    return this.openCount;
  }

  /** True when a window ending at `windowEnd` has already closed under `watermark`. */
  isClosed(windowEnd: number, watermark: number): boolean {
    return windowEnd + this.graceMs <= watermark;
  }

  add(definition: string, window: Window, key: readonly string[], offset: bigint): void {
    const closeAt = window.end + this.graceMs;
    let bucket = this.buckets.get(closeAt);
    if (!bucket) {
      bucket = { windows: new Map(), lowestOffset: offset };
      this.buckets.set(closeAt, bucket);
    }
    const id = `${definition}\u0000${window.start}\u0000${key.join('\u0000')}`;
    const open = bucket.windows.get(id);
    if (open) {
      open.count += 1;
      if (offset > open.lastOffset) open.lastOffset = offset;
      if (offset < open.firstOffset) open.firstOffset = offset;
    } else {
      bucket.windows.set(id, { definition, window, key, count: 1, firstOffset: offset, lastOffset: offset });
      this.openCount += 1;
    }
    if (offset < bucket.lowestOffset) bucket.lowestOffset = offset;
  }

  /**
   * Removes and returns the windows whose end + grace ≤ watermark, oldest first, at most `limit` of
   * them (the rest stay open until the next call: the caller has room for only so many results).
   */
  closeUpTo(watermark: number, limit = Number.POSITIVE_INFINITY): WindowResult[] {
    const due = [...this.buckets.keys()].filter((closeAt) => closeAt <= watermark).sort((a, b) => a - b);
    const results: WindowResult[] = [];
    for (const closeAt of due) {
      const bucket = this.buckets.get(closeAt) as CloseBucket;
      for (const [id, open] of bucket.windows) {
        if (results.length >= limit) return results;
        results.push({
          definition: open.definition,
          window: open.window,
          key: open.key,
          count: open.count,
          firstOffset: open.firstOffset,
          lastOffset: open.lastOffset,
        });
        // A partly closed bucket keeps its lowest offset: holding the commit lower than needed is safe.
        bucket.windows.delete(id);
        this.openCount -= 1;
      }
      this.buckets.delete(closeAt);
    }
    return results;
  }

  /** The lowest source offset absorbed by a window that is still open; undefined when none is. */
  lowestOffsetHeld(): bigint | undefined {
    let lowest: bigint | undefined;
    for (const bucket of this.buckets.values()) {
      if (lowest === undefined || bucket.lowestOffset < lowest) lowest = bucket.lowestOffset;
    }
    return lowest;
  }
}
