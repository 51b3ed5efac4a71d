// A transaction Kafka completes without ending it in every partition it wrote: its coordinator skips the
// markers of a partition it finds without a leader (as after a broker crash) and records it complete.
// The records left there wait for the producer id's next marker. When the member was told the commit
// failed, it restores the checkpoint before it and replays; its next commit would then commit the
// orphaned records as well, and everything of that interval would count twice (the fault suite's broker
// killed on a commit found it in the re-keyed windows). The restore must abort them first.
//
// The orphan is made on purpose, on a broker of this test's own: the Kafka fault proxy rewrites the
// partitions of the commit's AddPartitionsToTxn (support/txn-partition-shift.ts), so the coordinator
// registers, and later ends, other partitions than the ones the records go to.
import { Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import type { Kafka } from 'kafkajs';
import { createLogger } from '../../../src/ops/logger.js';
import { checkRestoredState } from '../../../src/runtime/restored-state-check.js';
import { readChangelog } from '../../../src/source/changelog-reader.js';
import { CHECKPOINT_KEY, encodeCheckpoint } from '../../../src/state/changelog-codec.js';
import { PartitionTransactions } from '../../../src/source/partition-transactions.js';
import { partitionBoundsOf } from '../../../src/source/topic-admin.js';
import { shiftTransactionPartitions } from '../support/txn-partition-shift.js';
import { startOwnBroker } from '../support/own-broker.js';
import { createTopic, readTopic, uniqueName } from '../support/fixtures.js';

const PARTITIONS = 3;

async function stableEnd(kafka: Kafka, topic: string, partition: number): Promise<bigint | undefined> {
  return (await partitionBoundsOf(kafka, topic)).get(partition)?.high;
}

describe('orphaned transaction records', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  });

  it('are aborted when the partition is restored, so the replay commits its records alone', async () => {
    const { kafka, proxy } = await startOwnBroker('orphans', cleanups, {
      proxy: true,
      extraProperties: { 'transaction.partition.verification.enable': 'false' },
    });
    const [source, changelog, output] = ['events', 'changelog', 'output'].map((t) => uniqueName(t));
    for (const topic of [source!, changelog!, output!]) await createTopic(kafka, topic, PARTITIONS);

    let log = '';
    const logger = createLogger(
      'info',
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          log += chunk.toString();
          done();
        },
      }),
    );
    // One pipeline: the attempt and the replay share the partition's transactional id.
    const options = {
      pipeline: uniqueName('orphans'),
      sourceTopic: source!,
      changelogTopic: changelog!,
      groupId: uniqueName('group'),
      exactlyOnce: true,
      sweepTopics: [output!],
    };
    const committer = () => new PartitionTransactions(kafka, options, () => Promise.resolve(), logger);
    const row = (value: string) => [{ topic: output!, messages: [{ key: 'k', value, partition: 1 }] }];
    // A window's record and the checkpoint, as a worker's snapshot has them.
    const snapshot = (offset: bigint) => ({
      records: new Map([
        ['window', `counted to ${offset}`],
        [
          CHECKPOINT_KEY,
          encodeCheckpoint({ offset, watermark: { value: 0, fromEvents: 0 }, interval: Number(offset) }),
        ],
      ]),
      offset,
    });

    // The attempt: one commit as usual, then one whose partitions the coordinator never hears of.
    const attempt = committer();
    cleanups.push(() => attempt.closeAll());
    expect(await attempt.open(0)).toBe(true);
    await attempt.commit(0, snapshot(10n), row('first'));
    proxy!.rewrite(shiftTransactionPartitions([changelog!, output!], PARTITIONS));
    await attempt.commit(0, snapshot(20n), row('orphan'));
    proxy!.rewrite(undefined);
    await attempt.closeAll();

    // An orphan indeed: committed as far as the coordinator knows, yet nothing ended it where it is.
    // The changelog holds the first restore's probe and its abort marker, the first commit's record and
    // marker, then the orphaned record; the output partition the same without the probe.
    expect(await stableEnd(kafka, changelog!, 0)).toBe(5n);
    expect(await stableEnd(kafka, output!, 1)).toBe(2n);

    // The replay: a new member's restore fences the attempt and reads the state back, then commits.
    const replay = committer();
    cleanups.push(() => replay.closeAll());
    expect(await replay.open(0)).toBe(true);
    const restored = await readChangelog(kafka, changelog!, [0], { sourceTopic: source! });
    expect(restored.get(0)?.records.get('window')?.toString()).toBe('counted to 10');
    expect(restored.get(0)?.checkpoint?.offset).toBe(10n);

    // The orphan's offset commit did land (its group's partition was registered as usual): the group is
    // at 20 while the state is at 10. Followed, the records from 10 to 20 would be in no state; the
    // aborted checkpoint says where 20 came from, and the partition resumes at 10.
    const admin = kafka.admin();
    await admin.connect();
    const [committed] = await admin.fetchOffsets({ groupId: options.groupId, topics: [source!] });
    await admin.disconnect();
    expect(committed?.partitions.find((p) => p.partition === 0)?.offset).toBe('20');
    expect([...(restored.get(0)?.abortedCheckpoints ?? [])]).toContain(20n);
    const check = checkRestoredState(restored, {
      pipeline: options.pipeline,
      changelogTopic: changelog!,
      groupId: options.groupId,
      windows: [],
      exactlyOnce: true,
      committed: new Map([[0, 20n]]),
    });
    expect(check.refusal).toBeUndefined();
    expect(check.resumeAtCheckpoint.get(0)).toEqual({ committed: 20n, checkpoint: 10n });
    await replay.commit(0, snapshot(20n), row('replayed'));

    // What a read_committed reader sees: the first attempt's committed row and the replay's, once each.
    const rows = await readTopic(kafka, output!, 2);
    expect(rows.map((r) => r.value?.toString())).toEqual(['first', 'replayed']);
    expect(log).toContain('aborted the records of an earlier transaction');
    const state = await readChangelog(kafka, changelog!, [0], { sourceTopic: source! });
    expect(state.get(0)?.records.get('window')?.toString()).toBe('counted to 20');
    await replay.closeAll();
  }, 180_000);
});
