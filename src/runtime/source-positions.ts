// How far a re-keyed partition has taken in each source partition's events, per group key: its guard
// against events that come a second time.
//
// A source partition writes its events to the repartition topic in the transaction that also holds its
// state and its offset, so a replay (after a crash, a rebalance, a failed commit) writes again only what
// no read_committed reader has seen. Except when Kafka splits a transaction: it can complete a commit
// without writing its markers in every partition (the broker-restart fault scenario; see
// orphaned-transactions.ts). The source partition's state is then swept as aborted and its events are
// sent again, while the repartition partitions whose markers did land hold them already.
//
// Within one repartition partition, each source partition's events for one group key come in
// source-offset order: one writer at a time per source partition, writing in offset order, and an event
// goes once per group key. So an event at or below the last offset taken from its source partition for
// its group key was taken before. The positions belong to the partition's state and are checkpointed
// with it, at a barrier, so they cover exactly the events the state holds. Pure.

/** A position's key: the source partition and the group key's id (its fields, sorted, as JSON). */
const keyOf = (sourcePartition: number, group: string) => `${sourcePartition}|${group}`;

export class SourcePositions {
  private readonly last = new Map<string, number>();

  /**
   * True, and the position moves to it, when the event comes after every event taken from its source
   * partition for its group key; false when one at or past its offset was taken already.
   */
  admit(sourcePartition: number, group: string, sourceOffset: number): boolean {
    const key = keyOf(sourcePartition, group);
    const last = this.last.get(key);
    if (last !== undefined && sourceOffset <= last) return false;
    this.last.set(key, sourceOffset);
    return true;
  }

  get size(): number {
    return this.last.size;
  }

  /** For the checkpoint: position key → last source offset taken. */
  snapshot(): Record<string, number> {
    return Object.fromEntries(this.last);
  }

  /** From a checkpoint (none in checkpoints written before positions were kept: nothing is dropped). */
  restore(saved: Readonly<Record<string, number>> | undefined): void {
    this.last.clear();
    for (const [key, offset] of Object.entries(saved ?? {}))
      if (Number.isSafeInteger(offset)) this.last.set(key, offset);
  }
}

/** A group key's id, as the positions name it: its fields, sorted, as JSON (as rekeying.ts groups them). */
export function groupIdOf(groupBy: readonly string[]): string {
  return JSON.stringify([...groupBy].sort());
}
