// A brute-force reference for windowing, shared by the property tests and the crash tests: it keeps
// every accepted event in a list and recomputes windows (and session unions) from scratch. Lateness
// follows the documented rules: a tumbling or sliding window takes no more events once watermark ≥ end
// + grace + its allowed lateness (what ClickHouse ends up holding, after the late rows); a
// session event is late when it is older than watermark − grace; the watermark is the max event time
// seen minus the allowed out-of-orderness. Pure and slow on purpose.
import { fieldPath } from '../../src/aggregations/field-path.js';
import { groupKeyOf } from '../../src/windows/partition-windows.js';
import { slidingWindowsOf } from '../../src/windows/sliding.js';
import { tumblingWindowOf } from '../../src/windows/tumbling.js';
import type { Window } from '../../src/windows/window.js';

export type ReferenceDefinition =
  | { name: string; type: 'tumbling'; size: number; groupBy: string[]; allowedLateness?: number }
  | {
      name: string;
      type: 'sliding';
      size: number;
      advance: number;
      groupBy: string[];
      allowedLateness?: number;
    }
  | { name: string; type: 'session'; gap: number; groupBy: string[] };

export interface ReferenceEvent {
  t: number;
  value: Record<string, unknown>;
}

export interface ExpectedWindow {
  definition: string;
  window: Window;
  key: string[];
  events: ReferenceEvent[];
}

export class WindowReference {
  watermark = Number.NEGATIVE_INFINITY;
  readonly late: Record<string, number> = {};
  /** The windows the last event offered missed, `name@start` (tumbling and sliding only). */
  lastMissed: string[] = [];
  private readonly accepted = new Map<string, { ev: ReferenceEvent; window?: Window }[]>();

  constructor(
    private readonly definitions: readonly ReferenceDefinition[],
    private readonly time: { grace: number; outOfOrderness: number },
  ) {
    for (const d of definitions) {
      this.late[d.name] = 0;
      this.accepted.set(d.name, []);
    }
  }

  /** Offers an event in processing order; returns the definitions it was late for. */
  add(ev: ReferenceEvent): string[] {
    const lateFor: string[] = [];
    this.lastMissed = [];
    for (const d of this.definitions) {
      // A window takes events until the watermark passes its end + grace + allowed lateness.
      const closed = (w: Window) =>
        w.end + this.time.grace + (d.type === 'session' ? 0 : (d.allowedLateness ?? 0)) <= this.watermark;
      const accepted = this.accepted.get(d.name)!;
      if (d.type === 'session') {
        if (ev.t < this.watermark - this.time.grace) lateFor.push(d.name);
        else accepted.push({ ev });
        continue;
      }
      const windows =
        d.type === 'tumbling' ? [tumblingWindowOf(ev.t, d.size)] : slidingWindowsOf(ev.t, d.size, d.advance);
      let missed = false;
      for (const w of windows) {
        if (closed(w)) {
          missed = true;
          this.lastMissed.push(`${d.name}@${w.start}`);
        } else accepted.push({ ev, window: w });
      }
      if (missed) lateFor.push(d.name);
    }
    for (const name of lateFor) this.late[name]! += 1;
    this.watermark = Math.max(this.watermark, ev.t - this.time.outOfOrderness);
    return lateFor;
  }

  /**
   * The windows of the events every reference accepted, together: re-keyed windows, whose events are
   * judged late per source partition (one reference each) and then meet by key.
   */
  static together(references: readonly WindowReference[]): ExpectedWindow[] {
    const first = references[0];
    if (!first) return [];
    const union = new WindowReference(first.definitions, first.time);
    for (const reference of references)
      for (const [name, accepted] of reference.accepted) union.accepted.get(name)!.push(...accepted);
    return union.windows();
  }

  windows(): ExpectedWindow[] {
    const out: ExpectedWindow[] = [];
    for (const d of this.definitions) {
      const accepted = this.accepted.get(d.name)!;
      if (d.type !== 'session') {
        const byId = new Map<string, ExpectedWindow>();
        for (const { ev, window } of accepted) {
          const key = groupKeyOf(ev.value, d.groupBy.map(fieldPath));
          const id = `${window!.start}|${key.join('\u0000')}`;
          const entry = byId.get(id) ?? { definition: d.name, window: window!, key, events: [] };
          entry.events.push(ev);
          byId.set(id, entry);
        }
        out.push(...byId.values());
        continue;
      }
      // Sessions: per key, the union of [t, t + gap) spans, by sorting and sweeping.
      const byKey = new Map<string, ReferenceEvent[]>();
      for (const { ev } of accepted) {
        const id = groupKeyOf(ev.value, d.groupBy.map(fieldPath)).join('\u0000');
        byKey.set(id, [...(byKey.get(id) ?? []), ev]);
      }
      for (const events of byKey.values()) {
        const key = groupKeyOf(events[0]!.value, d.groupBy.map(fieldPath));
        let current: ExpectedWindow | undefined;
        for (const ev of [...events].sort((a, b) => a.t - b.t)) {
          if (current && ev.t < current.window.end) {
            current.window = { start: current.window.start, end: Math.max(current.window.end, ev.t + d.gap) };
            current.events.push(ev);
          } else {
            if (current) out.push(current);
            current = { definition: d.name, window: { start: ev.t, end: ev.t + d.gap }, key, events: [ev] };
          }
        }
        if (current) out.push(current);
      }
    }
    return out;
  }
}
