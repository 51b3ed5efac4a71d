// How one transaction's records go to Kafka: as few Produce requests as can be sent safely. Every
// partition a kafkajs send names costs an AddPartitionsToTxn round trip to the coordinator before its
// Produce, and sends of one producer to one broker wait for each other (kafkajs holds a lock per broker),
// so a commit that sent each partition apart took two round trips per partition: a source partition's
// commit, its changelog and eight repartition partitions, took some 200 ms on a loaded machine, most
// of the latency from produce to queryable. Here the partitions one broker leads go in one request (one
// AddPartitionsToTxn, one Produce), the leaders one after the other (their AddPartitionsToTxn would race
// at the coordinator, which answers CONCURRENT_TRANSACTIONS).
//
// A request of several partitions is what kafkajs 2.2.4 can lose records of (partitioned-sends.ts): if
// a partition's leader moves onto a broker that already answered for others of the same send, kafkajs
// never sends it and the send resolves anyway. So every request's answer is checked for every partition
// it carried, and a partition missing from it is sent again alone (a send of one partition retries
// where the partition is). Its records were not written (kafkajs did not send them, or undid their
// sequence numbers when the request failed), so nothing is written twice; a partition's later records
// wait until it is sent, so its order holds.
import type { RecordMetadata, Transaction } from 'kafkajs';
import { SluiceError } from '../errors.js';
import type { OutgoingRecord } from './outgoing-record.js';
import { chunks } from './record-chunks.js';

/** One partition's records in a transaction, in order, each with its partition set. */
export interface PartitionRecords {
  topic: string;
  partition: number;
  records: OutgoingRecord[];
}

/** One Produce request of a transaction: partitions (of one leader, when known) and a chunk of each. */
export interface TransactionRequest {
  partitions: PartitionRecords[];
}

/** Which broker leads a partition; undefined when not known (its records then go alone). */
export type LeaderOf = (topic: string, partition: number) => number | undefined;

/**
 * The requests for `batches`, in the order they must go: each partition's records in chunks a request
 * can carry (record-chunks.ts); the first chunk of every partition first, then the second, and so on;
 * within one round, one request per leader (a partition of unknown leader alone).
 */
export function transactionRequests(
  batches: readonly PartitionRecords[],
  leaderOf: LeaderOf,
): TransactionRequest[] {
  const chunked = batches
    .filter((b) => b.records.length > 0)
    .map((b) => ({ topic: b.topic, partition: b.partition, chunks: chunks(b.records) }));
  const rounds = Math.max(0, ...chunked.map((b) => b.chunks.length));
  const requests: TransactionRequest[] = [];
  for (let round = 0; round < rounds; round += 1) {
    const byLeader = new Map<number, PartitionRecords[]>();
    for (const { topic, partition, chunks: list } of chunked) {
      const records = list[round];
      if (!records) continue;
      const leader = leaderOf(topic, partition);
      const part = { topic, partition, records };
      if (leader === undefined) {
        requests.push({ partitions: [part] });
        continue;
      }
      const group = byLeader.get(leader);
      if (group) group.push(part);
      else byLeader.set(leader, [part]);
    }
    for (const partitions of byLeader.values()) requests.push({ partitions });
  }
  return requests;
}

/** The partitions of `request` that the broker's answers do not name: not written. */
export function unanswered(
  request: TransactionRequest,
  answers: readonly Pick<RecordMetadata, 'topicName' | 'partition'>[],
): PartitionRecords[] {
  const answered = new Set(answers.map((a) => `${a.partition} ${a.topicName}`));
  return request.partitions.filter((p) => !answered.has(`${p.partition} ${p.topic}`));
}

/** What sending a transaction's records took: requests, and partitions sent again alone. */
export interface TransactionSendOutcome {
  requests: number;
  resent: number;
}

/** Sends the requests in order inside `transaction`, each partition a request missed again alone. */
export async function sendTransactionRequests(
  transaction: Pick<Transaction, 'send' | 'sendBatch'>,
  requests: readonly TransactionRequest[],
): Promise<TransactionSendOutcome> {
  let resent = 0;
  for (const request of requests) {
    const answers = await transaction.sendBatch({ acks: -1, topicMessages: topicMessagesOf(request) });
    for (const missed of unanswered(request, answers)) {
      resent += 1;
      const again = await transaction.send({ topic: missed.topic, acks: -1, messages: missed.records });
      if (unanswered({ partitions: [missed] }, again).length > 0)
        throw new MissedPartitionError(missed.topic, missed.partition);
    }
  }
  return { requests: requests.length, resent };
}

function topicMessagesOf(request: TransactionRequest) {
  const byTopic = new Map<string, OutgoingRecord[]>();
  for (const { topic, records } of request.partitions) {
    const list = byTopic.get(topic);
    if (list) list.push(...records);
    else byTopic.set(topic, [...records]);
  }
  return [...byTopic].map(([topic, messages]) => ({ topic, messages }));
}

/** A send of one partition resolved without the broker naming it: the transaction must not commit. */
export class MissedPartitionError extends SluiceError {
  constructor(topic: string, partition: number) {
    super(
      `Kafka did not acknowledge the records sent to ${topic} partition ${partition} in a transaction; ` +
        'the transaction is aborted and the partition goes back to its checkpoint',
      { code: 'SLUICE_KAFKA_UNAVAILABLE', retriable: true },
    );
  }
}
