// The windows of one partition: assigns each event to its window per definition, keeps the watermark,
// tells late events apart, and hands over the windows that closed. Pure: time is passed in.
import type { Pipeline } from '../config/schema.js';
import { tumblingWindowOf } from '../windows/tumbling.js';
import { Watermark } from '../windows/watermark.js';
import { WindowStore, type WindowResult } from './window-store.js';

export interface WindowedEvent {
  value: unknown;
  eventTimeMs: number;
}

function groupKeyOf(value: unknown, fields: readonly string[]): string[] {
  const event = (value ?? {}) as Record<string, unknown>;
  return fields.map((field) => {
    const part = event[field];
    if (part === undefined || part === null) return '';
    return typeof part === 'string' ? part : JSON.stringify(part);
  });
}

export class PartitionWindows {
  private readonly store: WindowStore;
  private readonly watermark: Watermark;

  constructor(private readonly pipeline: Pick<Pipeline, 'time' | 'windows'>) {
    this.store = new WindowStore(pipeline.time.grace);
    this.watermark = new Watermark({
      maxOutOfOrdernessMs: pipeline.time.maxOutOfOrderness,
      idleTimeoutMs: pipeline.time.idleTimeout,
    });
  }

  get openWindows(): number {
    return this.store.size;
  }

  /** The watermark as of the last event (no idle advance). */
  currentWatermark(nowMs: number): number {
    return this.watermark.current(nowMs, false);
  }

  /**
   * Adds the event to each window definition's window; returns how many definitions found their
   * window already closed (the event is late for those).
   */
  absorb(event: WindowedEvent, offset: bigint, nowMs: number): number {
    const watermark = this.watermark.current(nowMs, false);
    let late = 0;
    for (const definition of this.pipeline.windows) {
      const window = tumblingWindowOf(event.eventTimeMs, definition.size);
      if (this.store.isClosed(window.end, watermark)) {
        late += 1;
        continue;
      }
      this.store.add(definition.name, window, groupKeyOf(event.value, definition.groupBy), offset);
    }
    this.watermark.observe(event.eventTimeMs, nowMs);
    return late;
  }

  /**
   * Removes and returns the windows that the watermark (idle-advanced when caught up) has closed, at
   * most `limit`.
   */
  closeDue(nowMs: number, caughtUp: boolean, limit?: number): WindowResult[] {
    return this.store.closeUpTo(this.watermark.current(nowMs, caughtUp), limit);
  }

  lowestOffsetHeld(): bigint | undefined {
    return this.store.lowestOffsetHeld();
  }
}
