// Records an earlier transaction of a partition's producer left without a marker, aborted before the
// partition's state is read back.
//
// Kafka can complete a transaction without ending it in every partition it wrote: a coordinator that
// sends the commit (or abort) markers while a partition has no leader takes the partition for deleted
// and skips it (TransactionMarkerChannelManager: "Couldn't find leader endpoint ... can be skipped"),
// then records the transaction as complete. Partitions are leaderless for a moment whenever a broker
// comes back from a crash or a long freeze, which is exactly when a commit's outcome was unknown to its
// producer. The records left behind belong to no finished transaction: under read_committed they wait,
// and the producer id's next marker in that partition decides them. Seen in the fault suite: a commit
// cut by a broker kill was completed by the coordinator with its markers skipped; the member, told the
// commit failed, restored the previous checkpoint and replayed, and its next commit's marker committed
// the orphaned repartition records too: every event of that interval reached the re-keyed windows twice.
//
// So after fencing (which every restore does first), one transaction probes the partition's changelog,
// which only this producer writes and every commit touches. If the changelog's stable end is behind the
// probe, an earlier transaction of this producer is still open in it: the transaction then also touches
// every partition of every topic this producer writes in its transactions, and aborts. Its abort markers
// end the orphaned records wherever they are, so the attempt they belong to leaves nothing behind, and
// the restore reads the state as it was before that attempt. Without an orphan the probe is aborted
// alone: one small transaction per restore.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Kafka, Producer } from 'kafkajs';
import { SluiceError } from '../errors.js';
import type { Logger } from '../ops/logger.js';
import { partitionBoundsOf, partitionCountOf } from './topic-admin.js';

/** The key of the probe and sweep records (aborted, so no read_committed reader ever sees one). */
export const SWEEP_KEY = 'sluice-sweep';

/** How long the sweep's abort markers may take to reach the changelog before the restore is retried. */
const MARKERS_WAIT_MS = 30_000;

export interface OrphanSweepOptions {
  changelogTopic: string;
  partition: number;
  /** Every topic other than the changelog this producer writes in its transactions (missing ones skipped). */
  topics: readonly string[];
}

export interface OrphanSweepResult {
  /** Where the orphaned records begin in the changelog partition; undefined when there were none. */
  orphanedFrom?: bigint;
  /** The topics swept (every partition of each) when there were. */
  swept: string[];
}

export class OrphanedTransactionError extends SluiceError {
  constructor(options: OrphanSweepOptions, from: bigint) {
    super(
      `partition ${options.partition} of changelog ${options.changelogTopic} still holds an unfinished ` +
        `transaction from offset ${from} after Sluice aborted its own; no marker ended it within ` +
        `${MARKERS_WAIT_MS / 1000} s. Either the topic's partitions have no leader yet (the restore is ` +
        'retried), or another producer id left it (a transactional id that expired, a tool writing to the ' +
        'changelog): find it with `kafka-transactions.sh --bootstrap-server <broker> find-hanging ' +
        '--broker-id <leader>` and end it with `kafka-transactions.sh ... abort`.',
      { code: 'SLUICE_KAFKA_UNAVAILABLE', retriable: true },
    );
  }
}

/** The partition's stable end (read_committed: the first offset of its oldest unfinished transaction). */
async function stableEnd(kafka: Kafka, topic: string, partition: number): Promise<bigint> {
  return (await partitionBoundsOf(kafka, topic)).get(partition)?.high ?? 0n;
}

/**
 * With `producer` just initialised (fenced), aborts whatever an earlier transaction of its transactional
 * id left open (see the header). Rejects when that cannot be done now; the caller retries with a new
 * producer.
 */
export async function sweepOrphanedTransactions(
  kafka: Kafka,
  producer: Producer,
  options: OrphanSweepOptions,
  logger: Logger,
): Promise<OrphanSweepResult> {
  const { changelogTopic, partition } = options;
  const transaction = await producer.transaction();
  let probe: bigint;
  let orphanedFrom: bigint | undefined;
  const swept: string[] = [];
  try {
    const [written] = await transaction.send({
      topic: changelogTopic,
      acks: -1,
      messages: [{ key: SWEEP_KEY, value: null, partition }],
    });
    probe = BigInt(written?.baseOffset ?? -1);
    const stable = await stableEnd(kafka, changelogTopic, partition);
    if (probe >= 0n && stable < probe) {
      orphanedFrom = stable;
      for (const topic of options.topics) {
        const partitions = await partitionCountOf(kafka, topic);
        if (partitions === undefined) continue;
        // One send per partition: kafkajs mishandles a send spanning leaders (partitioned-sends.ts).
        for (let p = 0; p < partitions; p += 1)
          await transaction.send({
            topic,
            acks: -1,
            messages: [{ key: SWEEP_KEY, value: null, partition: p }],
          });
        swept.push(topic);
      }
    }
  } catch (error) {
    if (transaction.isActive()) await transaction.abort().catch(() => undefined);
    throw error;
  }
  await transaction.abort();
  if (orphanedFrom === undefined) return { swept };
  logger.warn(
    { partition, changelog: changelogTopic, orphanedFrom: orphanedFrom.toString(), swept },
    'aborted the records of an earlier transaction Kafka completed without ending them in every ' +
      'partition (its coordinator found partitions without a leader); the partition restores from before it',
  );
  // The abort's markers are written after the coordinator answers: wait until they end the orphan.
  const deadline = Date.now() + MARKERS_WAIT_MS;
  while ((await stableEnd(kafka, changelogTopic, partition)) <= probe) {
    if (Date.now() > deadline) throw new OrphanedTransactionError(options, orphanedFrom);
    await sleep(200);
  }
  return { orphanedFrom, swept };
}
