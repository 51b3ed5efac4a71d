// Makes a partition's snapshot durable: its changelog records and its consumer offset (the write side
// of the changelog; changelog-reader.ts is the read side).
// Every snapshot goes to the changelog in one Kafka transaction, so a restore (read_committed) sees
// each snapshot whole or not at all, however many requests it takes: a crash halfway through writing
// one cannot leave state that is ahead of its checkpoint. kafkajs speaks the pre-KIP-447 protocol, so
// zombies are fenced per partition: each source partition has its own transactional producer,
// `sluice-<pipeline>-<topic>-<partition>`, initialised (fencing any older one and aborting its open
// transaction) before the partition's state is read back.
// Exactly-once: the offset goes in the same transaction (TxnOffsetCommit via sendOffsets), with the
// Kafka sink's rows. At-least-once: the offset is committed after the transaction; a crash in between
// leaves a checkpoint ahead of the commit, which the restore honours (no double counting).
import { setTimeout as sleep } from 'node:timers/promises';
import type { Kafka, Producer } from 'kafkajs';
import { SluiceBugError, messageOf } from '../errors.js';
import type { Logger } from '../ops/logger.js';
import { isTransactionBusy } from './kafka-errors.js';
import { OrphanedTransactionError, sweepOrphanedTransactions } from './orphaned-transactions.js';
import { defaultPartitioner, idempotentRetry } from './kafka-client.js';
import type { OutgoingRecord, OutputBatch } from './outgoing-record.js';
import { partitionedSends, type PartitionedSends } from './partitioned-sends.js';
import {
  sendTransactionRequests,
  transactionRequests,
  type PartitionRecords,
} from './transaction-requests.js';

/** What one commit makes durable: changelog records (a null value is a tombstone) and the offset. */
export interface ChangelogSnapshot {
  records: ReadonlyMap<string, Buffer | string | null>;
  offset: bigint;
}

export interface TransactionOptions {
  pipeline: string;
  sourceTopic: string;
  changelogTopic: string;
  groupId: string;
  exactlyOnce: boolean;
  /**
   * Every topic besides the changelog that this side's transactions write (side outputs, the Kafka
   * sink's topics, the repartition topic): swept when a restore finds an orphaned transaction.
   */
  sweepTopics?: readonly string[];
}

/** How long closing a producer may take before it is left behind (fenced by its successor). */
const CLOSE_WAIT_MS = 5_000;

function byTopic(outputs: readonly OutputBatch[]): Map<string, OutgoingRecord[]> {
  const topics = new Map<string, OutgoingRecord[]>();
  for (const { topic, messages } of outputs) {
    const list = topics.get(topic) ?? [];
    list.push(...messages);
    topics.set(topic, list);
  }
  return topics;
}

export class PartitionTransactions {
  private readonly producers = new Map<number, Producer>();
  /** Partitions whose producer is being opened, and those released meanwhile. */
  private readonly opening = new Set<number>();
  private readonly closing = new Set<number>();
  /** The outputs go one send per partition (partitioned-sends.ts); the changelog records name theirs. */
  private readonly sends: PartitionedSends;
  /** Bumped by closeAll, so an open() still in flight knows to let go. */
  private generation = 0;

  constructor(
    private readonly kafka: Kafka,
    private readonly options: TransactionOptions,
    /** Commits the group's offset outside a transaction (at-least-once). */
    private readonly commitOffset: (partition: number, offset: bigint) => Promise<void>,
    private readonly logger: Logger,
  ) {
    this.sends = partitionedSends(kafka);
  }

  /**
   * Prepares a partition for commits with a new producer, whatever it had: the new one's epoch fences
   * every earlier producer of the partition (a previous owner's, a zombie's, or this member's own after
   * a failed transaction) and aborts its open transaction. False when the partition was released (or
   * the committer closed) meanwhile.
   */
  async open(partition: number): Promise<boolean> {
    await this.close(partition);
    this.opening.add(partition);
    try {
      return await this.openTransactional(partition);
    } finally {
      this.opening.delete(partition);
      this.closing.delete(partition);
    }
  }

  private async openTransactional(partition: number): Promise<boolean> {
    const generation = this.generation;
    const producer = this.kafka.producer({
      transactionalId: `sluice-${this.options.pipeline}-${this.options.sourceTopic}-${partition}`,
      idempotent: true,
      retry: idempotentRetry,
      createPartitioner: defaultPartitioner,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
    });
    await this.withRetry(() => producer.connect());
    // InitProducerId with our transactional id bumps its epoch: the old owner is fenced, its open
    // transaction aborted. What Kafka completed without ending everywhere is aborted next, so the
    // changelog's end is stable, and nothing of an earlier attempt can be committed later, before we read.
    await this.withRetry(() =>
      sweepOrphanedTransactions(
        this.kafka,
        producer,
        {
          changelogTopic: this.options.changelogTopic,
          partition,
          topics: this.options.sweepTopics ?? [],
        },
        this.logger,
      ),
    );
    if (this.closing.has(partition) || generation !== this.generation) {
      // Revoked, or the committer closed, while this was opening: do not leave a connected producer behind.
      await producer.disconnect().catch(() => undefined);
      return false;
    }
    this.producers.set(partition, producer);
    return true;
  }

  /**
   * Makes the snapshot durable; under exactly-once `outputs` (the Kafka sink's rows) go in the same
   * transaction, so they are visible to read_committed consumers exactly when the state and offset are.
   */
  async commit(
    partition: number,
    snapshot: ChangelogSnapshot,
    outputs: readonly OutputBatch[] = [],
  ): Promise<void> {
    const messages: OutgoingRecord[] = [...snapshot.records].map(([key, value]) => ({
      key,
      value,
      partition,
    }));
    const offsets = [{ partition, offset: snapshot.offset.toString() }];
    const producer = this.producers.get(partition);
    if (!producer) throw new SluiceBugError(`partition ${partition} was not opened`);
    // Split before the transaction begins: nothing but requests while it is open. Re-keyed events come
    // packed already (the outbox packs them as they come).
    const batches: PartitionRecords[] = [
      { topic: this.options.changelogTopic, partition, records: messages },
    ];
    for (const [topic, output] of byTopic(outputs))
      for (const [p, records] of await this.sends.split(topic, output))
        batches.push({ topic, partition: p, records });
    const leaderOf = await this.sends.leaderOf([...new Set(batches.map((b) => b.topic))]);
    const requests = transactionRequests(batches, leaderOf);
    const transaction = await this.withRetry(() => producer.transaction());
    try {
      const sent = await sendTransactionRequests(transaction, requests);
      if (sent.resent > 0) {
        this.sends.forgetMetadata();
        this.logger.debug({ partition, resent: sent.resent }, 'partitions a request missed were sent alone');
      }
      if (this.options.exactlyOnce)
        await transaction.sendOffsets({
          consumerGroupId: this.options.groupId,
          topics: [{ topic: this.options.sourceTopic, partitions: offsets }],
        });
      await transaction.commit();
    } catch (error) {
      this.sends.forgetMetadata();
      if (transaction.isActive()) await transaction.abort().catch(() => undefined);
      throw error;
    }
    if (!this.options.exactlyOnce) await this.commitOffset(partition, snapshot.offset);
  }

  /** The partition was revoked (or lost): its producer goes, so a later owner's fencing is clean. */
  async close(partition: number): Promise<void> {
    const producer = this.producers.get(partition);
    if (!producer) {
      if (this.opening.has(partition)) this.closing.add(partition);
      return;
    }
    this.producers.delete(partition);
    // A producer whose broker froze may not answer its disconnect: the new one fences it anyway.
    await Promise.race([producer.disconnect().catch(() => undefined), sleep(CLOSE_WAIT_MS)]);
  }

  async closeAll(): Promise<void> {
    this.generation += 1;
    await Promise.all([...this.producers.keys()].map((p) => this.close(p)));
  }

  private async withRetry<T>(start: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await start();
      } catch (error) {
        // Busy right after a commit, or a broker still electing leaders (a fresh __transaction_state). An
        // orphan that outlived its sweep is the restore's to retry, with a new producer and a backoff.
        if (error instanceof OrphanedTransactionError) throw error;
        const retriable = isTransactionBusy(error) || (error as { retriable?: boolean }).retriable === true;
        if (!retriable || attempt >= 20) throw error;
        this.logger.debug({ attempt, err: messageOf(error) }, 'transaction busy; retrying');
        await sleep(50 * attempt);
      }
    }
  }
}
