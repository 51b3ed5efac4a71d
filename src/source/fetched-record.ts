// A record as the consumer fetched it from the source topic: what the stages start from and what a
// dead letter keeps of it (its original bytes, key, headers, offset and timestamp).
import type { RecordHeaders } from './outgoing-record.js';

export interface FetchedRecord {
  /** Kafka's offset, as the string kafkajs gives (never a Number: 2^53). */
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  timestamp: string;
  headers?: RecordHeaders;
}
