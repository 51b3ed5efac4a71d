// Which offset a partition may commit. Kafka's committed offset is the next one to read, so it is the
// lowest offset still held (by an open window or an unacknowledged sink write), or one past the last
// processed record when nothing is held. It never moves back. Pure: offsets in, offsets out.

export class OffsetTracker {
  private nextOffset: bigint | undefined;
  private committedOffset: bigint | undefined;

  /** Whether `offset` was already processed (a retained partition is re-fetched after a rebalance). */
  isProcessed(offset: bigint): boolean {
    return this.nextOffset !== undefined && offset < this.nextOffset;
  }

  /** Marks `offset` as processed by every stage: dropped, or absorbed into state that holds it. */
  processed(offset: bigint): void {
    if (this.nextOffset === undefined || offset >= this.nextOffset) this.nextOffset = offset + 1n;
  }

  /**
   * The offset to commit now, given the lowest offset still held, or undefined when there is
   * nothing new to commit.
   */
  committable(lowestHeld: bigint | undefined): bigint | undefined {
    if (this.nextOffset === undefined) return undefined;
    const candidate = lowestHeld !== undefined && lowestHeld < this.nextOffset ? lowestHeld : this.nextOffset;
    if (this.committedOffset !== undefined && candidate <= this.committedOffset) return undefined;
    return candidate;
  }

  /** Records that `offset` is durable in the group coordinator. */
  committed(offset: bigint): void {
    if (this.committedOffset === undefined || offset > this.committedOffset) this.committedOffset = offset;
  }
}
