// Why each partition is paused. A partition is paused while any reason holds (its buffer is full, the
// sink fails, its state is being restored, the user paused it) and resumed when the last one clears;
// pauses are counted per reason for status.
import type { Logger } from '../ops/logger.js';

export type PauseReason = 'backpressure' | 'sink' | 'restore' | 'user';

export type PauseCounts = Record<PauseReason, number>;

function noPauses(): PauseCounts {
  return { backpressure: 0, sink: 0, restore: 0, user: 0 };
}

/** Stops and restarts fetching a partition (the group consumer). */
export interface Pausable {
  pause(partition: number): void;
  resume(partition: number): void;
}

export class PartitionPauses {
  private readonly reasons = new Map<number, Set<PauseReason>>();
  private readonly counts = new Map<number, PauseCounts>();

  constructor(
    private readonly consumer: Pausable,
    private readonly logger: Logger,
  ) {}

  add(partition: number, reason: PauseReason): void {
    let reasons = this.reasons.get(partition);
    if (!reasons) this.reasons.set(partition, (reasons = new Set()));
    if (reasons.has(reason)) return;
    reasons.add(reason);
    const counts = this.counts.get(partition) ?? noPauses();
    counts[reason] += 1;
    this.counts.set(partition, counts);
    if (reasons.size === 1) {
      this.consumer.pause(partition);
      this.logger.info({ partition, reason }, 'partition paused');
    }
  }

  remove(partition: number, reason: PauseReason): void {
    const reasons = this.reasons.get(partition);
    if (!reasons?.delete(reason)) return;
    if (reasons.size === 0) {
      this.consumer.resume(partition);
      this.logger.info({ partition, reason }, 'partition resumed');
    }
  }

  /**
   * Pauses again every partition that has a reason to be: after kafkajs restarted its consumer, its
   * own pause state starts empty.
   */
  reapply(): void {
    for (const [partition, reasons] of this.reasons) if (reasons.size > 0) this.consumer.pause(partition);
  }

  of(partition: number): PauseReason[] {
    return [...(this.reasons.get(partition) ?? [])];
  }

  countsOf(partition: number): PauseCounts {
    return { ...noPauses(), ...this.counts.get(partition) };
  }

  /** The partition left this member: forget it (kafkajs forgets its pause state on reassignment too). */
  forget(partition: number): void {
    this.reasons.delete(partition);
    this.counts.delete(partition);
  }
}
