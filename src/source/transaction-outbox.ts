// Records that travel in a partition's next commit transaction (exactly-once): the Kafka sink's result
// rows and the records a partition sends aside (dead letters, late events, overflow). Kept per source
// partition until the transaction that carries them commits, so a read_committed reader sees them
// exactly when the state and offsets they derive from are durable, and an attempt that never commits
// leaves none of them behind.
//
// Re-keyed events are packed as they come (repartition-packing.ts), not when the commit sends them: a
// source partition reads ahead of its commits, and its events waited as a record object each (its
// headers, its value and its pack entry), about 2 KB apiece, so a backlog held hundreds of megabytes
// that the garbage collector copied on and on (a fifth of the full bench job's CPU). A closed pack
// waits as bytes, off the JavaScript heap.
import { SluiceBugError } from '../errors.js';
import { keyPartition } from './key-partition.js';
import type { OutgoingRecord, OutputBatch } from './outgoing-record.js';
import { PackBuilder, entryOf, type PackBounds } from './repartition-packing.js';

/** Where re-keyed events go, packed as they come. */
export interface OutboxPacking {
  topic: string;
  /** The repartition topic's partition count (known once the runner has looked at the topic). */
  partitions(): number;
  bounds: PackBounds;
}

export class TransactionOutbox {
  private readonly batches = new Map<number, OutputBatch[]>();
  /** Per source partition, the packs being filled, by repartition partition. */
  private readonly packs = new Map<number, Map<number, PackBuilder>>();
  /** The events each closed pack holds (what sizes() counts for it). */
  private readonly packedEvents = new WeakMap<OutgoingRecord, number>();

  constructor(private readonly packing?: OutboxPacking) {}

  add(partition: number, topic: string, record: OutgoingRecord): void {
    const batches = this.batchesOf(partition);
    if (this.packing?.topic === topic) {
      this.addRepartitioned(partition, batches, record);
      return;
    }
    batches.push({ topic, messages: [record] });
  }

  /** What the partition's next commit transaction must carry; kept until published(). */
  pendingFor(partition: number): OutputBatch[] {
    // Packs still filling close now: the commit carries every event made so far.
    for (const builder of this.packs.get(partition)?.values() ?? []) this.closePack(partition, builder);
    return [...(this.batches.get(partition) ?? [])];
  }

  /** The transaction with the first `count` batches committed. */
  published(partition: number, count: number): void {
    this.batches.get(partition)?.splice(0, count);
  }

  /** The partition left this member, or went back to its checkpoint: its records are made again. */
  forget(partition: number): void {
    this.batches.delete(partition);
    this.packs.delete(partition);
  }

  /** Records waiting, per topic (a pack counts as the events it holds). */
  sizes(): Record<string, number> {
    const sizes: Record<string, number> = {};
    for (const batches of this.batches.values())
      for (const batch of batches)
        for (const record of batch.messages)
          sizes[batch.topic] = (sizes[batch.topic] ?? 0) + (this.packedEvents.get(record) ?? 1);
    if (this.packing)
      for (const builders of this.packs.values())
        for (const builder of builders.values())
          if (builder.size > 0) sizes[this.packing.topic] = (sizes[this.packing.topic] ?? 0) + builder.size;
    return sizes;
  }

  clear(): void {
    this.batches.clear();
    this.packs.clear();
  }

  private batchesOf(partition: number): OutputBatch[] {
    let batches = this.batches.get(partition);
    if (!batches) this.batches.set(partition, (batches = []));
    return batches;
  }

  /**
   * A re-keyed event joins the pack filling for its repartition partition (its key's, as the commit's
   * split would pick); anything else for that topic (a watermark marker) closes that partition's pack
   * first and goes after it, so each repartition partition gets its records in the order they came.
   */
  private addRepartitioned(partition: number, batches: OutputBatch[], record: OutgoingRecord): void {
    const packing = this.packing!;
    const entry =
      record.partition === undefined && typeof record.key === 'string' ? entryOf(record) : undefined;
    const partitions = packing.partitions();
    if (entry && !(partitions >= 1))
      throw new SluiceBugError(`a re-keyed event before the repartition topic's partitions were known`);
    const target = entry ? keyPartition(record.key as string, partitions) : record.partition;
    let builders = this.packs.get(partition);
    if (!builders) this.packs.set(partition, (builders = new Map<number, PackBuilder>()));
    const builder = target === undefined ? undefined : builders.get(target);
    if (!entry || target === undefined) {
      // Not an event of its own key: as it is, after what came before it in its partition.
      if (builder) this.closePack(partition, builder);
      batches.push({ topic: packing.topic, messages: [record] });
      return;
    }
    let filling = builder;
    if (!filling) builders.set(target, (filling = new PackBuilder(target, packing.bounds)));
    // A pack closes only when it holds events: those it held before this one came.
    const held = filling.size;
    const closed = filling.add(entry);
    if (closed) this.keepPack(batches, closed, held);
  }

  private closePack(partition: number, builder: PackBuilder): void {
    const events = builder.size;
    const pack = builder.close();
    if (pack) this.keepPack(this.batchesOf(partition), pack, events);
  }

  private keepPack(batches: OutputBatch[], pack: OutgoingRecord, events: number): void {
    this.packedEvents.set(pack, events);
    batches.push({ topic: this.packing!.topic, messages: [pack] });
  }
}
