// Which offset a partition may commit. Records are tracked in fetch (offset) order and completed in
// any order (concurrent stages, dead-letter writes, filters). Kafka's committed offset is the next one
// to read, so it is the lowest offset not yet complete; with nothing pending, one past the last tracked
// record (open windows need not hold it back: a snapshot puts them in the changelog with the offset).
// The committed offset never moves back. Pure: offsets in, offsets out.
import { SluiceBugError } from '../errors.js';

export class OffsetTracker {
  /** Tracked offsets in increasing order, with whether each is complete; the front is the oldest. */
  private readonly pending: { offset: bigint; complete: boolean }[] = [];
  private head = 0;
  private readonly indexOf = new Map<bigint, number>();
  private nextOffset: bigint | undefined;
  private committedOffset: bigint | undefined;
  /** Where this tracker began: the restored checkpoint, else the first record it tracked. */
  private startOffset: bigint | undefined;

  /**
   * Starts a restored partition at `offset`: the records below it are already in the restored state,
   * so they count as seen, and the first commit is at least there.
   */
  startAt(offset: bigint): void {
    if (this.nextOffset !== undefined) throw new SluiceBugError('startAt after records were tracked');
    this.nextOffset = offset;
    this.startOffset = offset;
  }

  /** Where this partition began on this member: the restored checkpoint or its first record. */
  get start(): bigint | undefined {
    return this.startOffset;
  }

  /** The next offset to read: one past the last tracked record (or the restored checkpoint). */
  get next(): bigint | undefined {
    return this.nextOffset;
  }

  /** Whether `offset` was already tracked (a retained partition is re-fetched after a rebalance). */
  isSeen(offset: bigint): boolean {
    return this.nextOffset !== undefined && offset < this.nextOffset;
  }

  /** Starts tracking a fetched record; offsets must arrive in increasing order. */
  track(offset: bigint): void {
    if (this.isSeen(offset)) throw new SluiceBugError(`offset ${offset} tracked twice or out of order`);
    this.startOffset ??= offset;
    this.pending.push({ offset, complete: false });
    this.indexOf.set(offset, this.pending.length - 1);
    this.nextOffset = offset + 1n;
  }

  /** Marks a tracked record as done with every stage: dropped, dead-lettered, or absorbed into state. */
  complete(offset: bigint): void {
    const index = this.indexOf.get(offset);
    if (index === undefined) return;
    (this.pending[index] as { complete: boolean }).complete = true;
    this.indexOf.delete(offset);
    while (this.head < this.pending.length && (this.pending[this.head] as { complete: boolean }).complete) {
      this.head += 1;
    }
    // Compact now and then, so the array does not grow with the partition's lifetime.
    if (this.head > 1024 && this.head * 2 > this.pending.length) {
      this.pending.splice(0, this.head);
      this.head = 0;
      this.indexOf.clear();
      this.pending.forEach((p, i) => {
        if (!p.complete) this.indexOf.set(p.offset, i);
      });
    }
  }

  /** How many tracked records are not yet complete. */
  get inFlight(): number {
    return this.indexOf.size;
  }

  /** The lowest tracked offset that is not complete. */
  lowestIncomplete(): bigint | undefined {
    return this.head < this.pending.length
      ? (this.pending[this.head] as { offset: bigint }).offset
      : undefined;
  }

  get committedOffsetValue(): bigint | undefined {
    return this.committedOffset;
  }

  /** Where the partition stands: the lowest incomplete offset, or one past the last tracked record. */
  position(): bigint | undefined {
    return this.lowestIncomplete() ?? this.nextOffset;
  }

  /** Records that `offset` is durable in the group coordinator. */
  committed(offset: bigint): void {
    if (this.committedOffset === undefined || offset > this.committedOffset) this.committedOffset = offset;
  }
}
