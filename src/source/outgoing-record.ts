// A record Sluice writes to Kafka (a changelog entry, a dead letter, a late event, a result row), and
// a batch of them for one topic: the shape every writer in source/ takes, so nothing above source/
// needs the Kafka client's types.

/** Kafka record headers as the client reads and writes them (a header may repeat). */
export type RecordHeaders = Record<string, Buffer | string | (Buffer | string)[] | undefined>;

export interface OutgoingRecord {
  key?: Buffer | string | null;
  value: Buffer | string | null;
  /** The partition to write to; the client's partitioner picks one (by key) when absent. */
  partition?: number;
  headers?: RecordHeaders;
  /** Epoch milliseconds as a string; the producer's clock when absent. */
  timestamp?: string;
  /**
   * A re-keyed event's entry in a pack (repartition-packing.ts), made with the record: the same event
   * as the record, so a packer need not read it back out of the headers.
   */
  packEntry?: PackEntry;
}

/** A re-keyed event in a pack: its source partition, and its entry as JSON text. */
export interface PackEntry {
  source: string;
  text: string;
}

export interface OutputBatch {
  topic: string;
  messages: OutgoingRecord[];
}
