// A rewrite for the Kafka fault proxy that splits transactions as Kafka itself can: each partition of
// the given topics in an AddPartitionsToTxn (v0-v2, what kafkajs sends) is moved to the next one, so the
// coordinator registers, and at the commit ends, other partitions than the ones the records went to.
// Those records stay open (orphaned) while the rest of the transaction commits. Kafka does the same when
// its coordinator finds a partition without a leader as it writes a commit's markers (after a broker
// crash); the broker's own check (transaction.partition.verification.enable) must be off, as it is
// before Kafka 3.6.
import { API_KEYS, type KafkaRequest } from './kafka-fault-proxy.js';

/** Skips a v0-v2 request string (int16 length, then the bytes); returns where the next field starts. */
function skipString(frame: Buffer, at: number): number {
  const length = frame.readInt16BE(at);
  return at + 2 + Math.max(0, length);
}

/**
 * AddPartitionsToTxn with each partition of `topics` (of `partitions` each) moved to the next one:
 * header, transactional_id, producer_id, producer_epoch, then [topic name, [partition]].
 */
export function shiftTransactionPartitions(topics: readonly string[], partitions: number) {
  return (request: KafkaRequest, frame: Buffer): Buffer => {
    if (request.apiKey !== API_KEYS.AddPartitionsToTxn || request.apiVersion > 2) return frame;
    const out = Buffer.from(frame);
    let at = skipString(out, 12); // client id
    at = skipString(out, at) + 8 + 2; // transactional id, producer id, producer epoch
    const topicCount = out.readInt32BE(at);
    at += 4;
    for (let t = 0; t < topicCount; t += 1) {
      const nameLength = out.readInt16BE(at);
      const name = out.toString('utf8', at + 2, at + 2 + nameLength);
      at += 2 + nameLength;
      const partitionCount = out.readInt32BE(at);
      at += 4;
      for (let p = 0; p < partitionCount; p += 1, at += 4)
        if (topics.includes(name)) out.writeInt32BE((out.readInt32BE(at) + 1) % partitions, at);
    }
    return out;
  };
}
