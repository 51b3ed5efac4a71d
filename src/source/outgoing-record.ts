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
}

export interface OutputBatch {
  topic: string;
  messages: OutgoingRecord[];
}
