// The event-time watermark of a partition that computes re-keyed windows (rekeying.ts): its events
// come from every source partition, interleaved as the source partitions happened to be processed, so
// no order of arrival says how far event time has come. Each source partition says it instead, in
// each event it sends (its watermark just before the event) and in markers at each of its commits;
// this partition's watermark is the lowest of them (as Flink combines its input channels). A source
// partition not heard from yet holds it back; one that has never held an event, once it has been
// quiet for the idle timeout, is left out until it does (its events may then be late, as after any
// idle close). An event late at its source never arrives (it went to the late-events topic there), and as
// the lowest is never above any source's own watermark, an event on time at its source is on time
// here: lateness is decided exactly as per source partition, whatever the interleaving.
// Idleness is each source partition's own (its markers carry its idle-advanced watermark). Pure.
import type { WatermarkClock, WatermarkSnapshot } from './watermark.js';

export class SourceWatermarks implements WatermarkClock {
  /** Each source partition's watermark, as last heard. */
  private readonly heard = new Map<number, number>();
  /** Source partitions whose last word was that they have never held an event. */
  private readonly empty = new Set<number>();
  private value = Number.NEGATIVE_INFINITY;

  constructor(
    /** The source topic's partitions: each must be heard from (or be empty) before windows close. */
    private readonly sources: number,
    private readonly maxOutOfOrdernessMs: number,
  ) {}

  /** A source partition's watermark (a marker's, or an event's before it). */
  hear(source: number, watermark: number, empty = false): void {
    if (empty) {
      if (!this.heard.has(source)) this.empty.add(source);
    } else {
      this.empty.delete(source);
      const was = this.heard.get(source) ?? Number.NEGATIVE_INFINITY;
      if (watermark > was || !this.heard.has(source)) this.heard.set(source, Math.max(was, watermark));
    }
    this.recompute();
  }

  /** An event from `source` whose watermark before it was `before`: past it, the source is at least there. */
  observe(eventTimeMs: number, _nowMs: number, source?: { partition: number; watermark: number }): void {
    if (!source) return;
    this.hear(source.partition, Math.max(source.watermark, eventTimeMs - this.maxOutOfOrdernessMs));
  }

  get eventWatermark(): number {
    return this.value;
  }

  advanceTo(candidate: number): void {
    if (candidate > this.value) this.value = candidate;
  }

  current(): number {
    return this.value;
  }

  /** Idleness is the source partitions' to say. */
  restartIdleClock(): void {}

  snapshot(): WatermarkSnapshot {
    return {
      value: this.value,
      fromEvents: this.value,
      sources: Object.fromEntries(
        [...this.heard].map(([s, w]) => [String(s), Number.isFinite(w) ? w : null]),
      ),
    };
  }

  restore(state: WatermarkSnapshot): void {
    this.value = state.value;
    this.heard.clear();
    this.empty.clear();
    for (const [source, watermark] of Object.entries(state.sources ?? {}))
      this.heard.set(Number(source), watermark ?? Number.NEGATIVE_INFINITY);
  }

  private recompute(): void {
    let lowest = Number.POSITIVE_INFINITY;
    let counted = 0;
    for (let source = 0; source < this.sources; source += 1) {
      if (this.empty.has(source)) continue;
      counted += 1;
      const watermark = this.heard.get(source);
      if (watermark === undefined) return;
      if (watermark < lowest) lowest = watermark;
    }
    if (counted > 0 && lowest > this.value) this.value = lowest;
  }
}
