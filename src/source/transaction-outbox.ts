// Records that travel in a partition's next commit transaction (exactly-once): the Kafka sink's result
// rows and the records a partition sends aside (dead letters, late events, overflow). Kept per source
// partition until the transaction that carries them commits, so a read_committed reader sees them
// exactly when the state and offsets they derive from are durable, and an attempt that never commits
// leaves none of them behind.
import type { OutgoingRecord, OutputBatch } from './outgoing-record.js';

export class TransactionOutbox {
  private readonly batches = new Map<number, OutputBatch[]>();

  add(partition: number, topic: string, record: OutgoingRecord): void {
    const batches = this.batches.get(partition) ?? [];
    batches.push({ topic, messages: [record] });
    this.batches.set(partition, batches);
  }

  /** What the partition's next commit transaction must carry; kept until published(). */
  pendingFor(partition: number): OutputBatch[] {
    return [...(this.batches.get(partition) ?? [])];
  }

  /** The transaction with the first `count` batches committed. */
  published(partition: number, count: number): void {
    this.batches.get(partition)?.splice(0, count);
  }

  /** The partition left this member, or went back to its checkpoint: its records are made again. */
  forget(partition: number): void {
    this.batches.delete(partition);
  }

  /** Records waiting, per topic. */
  sizes(): Record<string, number> {
    const sizes: Record<string, number> = {};
    for (const batches of this.batches.values())
      for (const batch of batches) sizes[batch.topic] = (sizes[batch.topic] ?? 0) + batch.messages.length;
    return sizes;
  }

  clear(): void {
    this.batches.clear();
  }
}
