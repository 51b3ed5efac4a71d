// The event-time watermark of one partition: max event time seen − allowed out-of-orderness. It never
// moves back. A partition that has caught up with its log and then stays quiet for `idleTimeoutMs` of
// wall time lets its watermark follow the wall clock (now − idleTimeoutMs), so a quiet topic still
// closes its windows, while a partition that is merely behind (catching up on history) never does.
// Time is passed in.

export interface WatermarkSettings {
  maxOutOfOrdernessMs: number;
  idleTimeoutMs: number;
}

/** A watermark's state as a checkpoint keeps it; `sources` only for re-keyed windows (source-watermarks.ts). */
export interface WatermarkSnapshot {
  value: number;
  fromEvents: number;
  /** Per source partition, its watermark as last heard (null: none yet). */
  sources?: Readonly<Record<string, number | null>>;
}

/** What the window engine asks of a watermark: this partition's own, or its source partitions' lowest. */
export interface WatermarkClock {
  observe(eventTimeMs: number, nowMs: number, source?: { partition: number; watermark: number }): void;
  readonly eventWatermark: number;
  advanceTo(candidate: number): void;
  snapshot(): WatermarkSnapshot;
  restore(state: WatermarkSnapshot, nowMs: number): void;
  restartIdleClock(nowMs: number): void;
  current(nowMs: number, caughtUp: boolean): number;
}

export class Watermark implements WatermarkClock {
  private value = Number.NEGATIVE_INFINITY;
  /** The part earned by events alone (max event time − out-of-orderness), to tell why a window closed. */
  private fromEvents = Number.NEGATIVE_INFINITY;
  private lastRecordAtMs: number | undefined;

  constructor(private readonly settings: WatermarkSettings) {}

  /** Records an event; `nowMs` is the wall-clock time it was received. */
  observe(eventTimeMs: number, nowMs: number): void {
    this.lastRecordAtMs = nowMs;
    const candidate = eventTimeMs - this.settings.maxOutOfOrdernessMs;
    if (candidate > this.fromEvents) this.fromEvents = candidate;
    this.raiseTo(candidate);
  }

  /** The watermark that events alone justify; below `current` when idleness or the budget advanced it. */
  get eventWatermark(): number {
    return this.fromEvents;
  }

  /** Moves the watermark forward for another reason (the state budget closing windows early). */
  advanceTo(candidate: number): void {
    this.raiseTo(candidate);
  }

  /** The values to snapshot, and to restore after a restart, so lateness is decided as before. */
  snapshot(): WatermarkSnapshot {
    return { value: this.value, fromEvents: this.fromEvents };
  }

  /**
   * Restores a snapshot taken before a restart or a move; `nowMs` counts as the last record's arrival,
   * so a partition that gets no new records still goes idle and closes its restored windows.
   */
  restore(state: WatermarkSnapshot, nowMs: number): void {
    this.value = state.value;
    this.fromEvents = state.fromEvents;
    this.lastRecordAtMs = nowMs;
  }

  /**
   * Silence no longer counts from before `nowMs`: the consumer could not fetch (a broker down, say), so
   * the quiet so far says nothing about the log. Idleness may start again `idleTimeoutMs` after this.
   */
  restartIdleClock(nowMs: number): void {
    if (this.lastRecordAtMs !== undefined && nowMs > this.lastRecordAtMs) this.lastRecordAtMs = nowMs;
  }

  /**
   * The watermark at wall-clock time `nowMs`. `caughtUp` says the partition has no backlog: only then
   * can silence mean idleness rather than a consumer that is busy elsewhere.
   */
  current(nowMs: number, caughtUp: boolean): number {
    const quietSince = this.lastRecordAtMs;
    if (caughtUp && quietSince !== undefined && nowMs - quietSince >= this.settings.idleTimeoutMs) {
      this.raiseTo(nowMs - this.settings.idleTimeoutMs);
    }
    return this.value;
  }

  private raiseTo(candidate: number): void {
    if (candidate > this.value) this.value = candidate;
  }
}
