// A transaction's records go in one request per leader (transaction-requests.ts). Held to a simple model:
// what a broker ends up with per partition is that partition's records, each once and in order, whatever
// the leaders and the chunking; and a request whose answer leaves a partition out (kafkajs 2.2.4 can
// resolve a send without writing a partition whose leader moved) has that partition sent again alone.
import fc from 'fast-check';
import type { RecordMetadata } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import type { OutgoingRecord } from '../../../src/source/outgoing-record.js';
import {
  MissedPartitionError,
  sendTransactionRequests,
  transactionRequests,
  type PartitionRecords,
} from '../../../src/source/transaction-requests.js';

const TOPICS = ['changelog', 'repartition', 'output'];

/** Batches of distinct (topic, partition), each record naming its batch and its place in it. */
const batchesArbitrary = fc
  .uniqueArray(
    fc.record({
      topic: fc.constantFrom(...TOPICS),
      partition: fc.integer({ min: 0, max: 7 }),
      count: fc.integer({ min: 0, max: 1_200 }),
      size: fc.constantFrom(10, 2_000),
    }),
    { selector: (b) => `${b.topic}/${b.partition}`, maxLength: 10 },
  )
  .map((specs) =>
    specs.map(({ topic, partition, count, size }): PartitionRecords => ({
      topic,
      partition,
      records: Array.from({ length: count }, (_, i) => ({
        key: `${topic}/${partition}/${i}`,
        value: 'v'.repeat(size),
        partition,
      })),
    })),
  );

/** Leaders by (topic, partition): one of three brokers, or not known. */
const leadersArbitrary = fc.func(fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }));

/**
 * A transaction that writes what it is sent, but leaves out of a multi-partition request's write and
 * answer the partitions `drops` picks (kafkajs' loss); a lone partition `lost` names is never written.
 */
function fakeTransaction(drops: (topic: string, partition: number) => boolean, lost = new Set<string>()) {
  const written = new Map<string, OutgoingRecord[]>();
  const write = (topic: string, messages: OutgoingRecord[]): RecordMetadata[] => {
    const byPartition = new Map<number, OutgoingRecord[]>();
    for (const m of messages) byPartition.set(m.partition!, [...(byPartition.get(m.partition!) ?? []), m]);
    const answers: RecordMetadata[] = [];
    for (const [partition, records] of byPartition) {
      const key = `${topic}/${partition}`;
      written.set(key, [...(written.get(key) ?? []), ...records]);
      answers.push({ topicName: topic, partition, errorCode: 0 });
    }
    return answers;
  };
  const transaction = {
    sendBatch: ({
      topicMessages = [],
    }: {
      topicMessages?: { topic: string; messages: OutgoingRecord[] }[];
    }) => {
      const partitions = new Set(
        topicMessages.flatMap((t) => t.messages.map((m) => `${t.topic}/${m.partition}`)),
      );
      const answers: RecordMetadata[] = [];
      for (const { topic, messages } of topicMessages) {
        const kept = messages.filter((m) => partitions.size === 1 || !drops(topic, m.partition!));
        answers.push(...write(topic, kept));
      }
      return Promise.resolve(answers);
    },
    send: ({ topic, messages }: { topic: string; messages: OutgoingRecord[] }) =>
      Promise.resolve(lost.has(`${topic}/${messages[0]!.partition}`) ? [] : write(topic, messages)),
  };
  return { transaction: transaction as never, written };
}

describe('transaction requests', () => {
  it('groups partitions by leader, one chunk of each a request, every record once and in order', () => {
    fc.assert(
      fc.property(batchesArbitrary, leadersArbitrary, (batches, leaders) => {
        const leaderOf = (topic: string, partition: number) => leaders(topic, partition);
        const requests = transactionRequests(batches, leaderOf);
        for (const request of requests) {
          const keys = request.partitions.map((p) => `${p.topic}/${p.partition}`);
          expect(new Set(keys).size).toBe(keys.length);
          const owners = new Set(request.partitions.map((p) => leaderOf(p.topic, p.partition)));
          expect(owners.size).toBe(1);
          if (owners.has(undefined)) expect(request.partitions).toHaveLength(1);
          for (const p of request.partitions) {
            expect(p.records.length).toBeGreaterThan(0);
            expect(p.records.length).toBeLessThanOrEqual(500);
          }
        }
        for (const batch of batches) {
          const sent = requests.flatMap((r) =>
            r.partitions.filter((p) => p.topic === batch.topic && p.partition === batch.partition),
          );
          expect(sent.flatMap((p) => p.records)).toEqual(batch.records);
        }
      }),
      { numRuns: 60 },
    );
  });

  it('sends a partition that a request left out again alone, so each partition has its records once, in order', async () => {
    await fc.assert(
      fc.asyncProperty(
        batchesArbitrary,
        leadersArbitrary,
        fc.func(fc.boolean()),
        async (batches, leaders, drops) => {
          const requests = transactionRequests(batches, (t, p) => leaders(t, p));
          const { transaction, written } = fakeTransaction((t, p) => drops(t, p));
          const outcome = await sendTransactionRequests(transaction, requests);
          expect(outcome.requests).toBe(requests.length);
          for (const batch of batches.filter((b) => b.records.length > 0))
            expect(
              written.get(`${batch.topic}/${batch.partition}`),
              `${batch.topic}/${batch.partition}`,
            ).toEqual(batch.records);
          expect([...written.keys()].sort()).toEqual(
            batches
              .filter((b) => b.records.length > 0)
              .map((b) => `${b.topic}/${b.partition}`)
              .sort(),
          );
        },
      ),
      { numRuns: 60 },
    );
  });

  it('counts the partitions sent again, and fails when a lone partition is not acknowledged either', async () => {
    const records = (topic: string, partition: number) => ({
      topic,
      partition,
      records: [{ key: 'k', value: 'v', partition }],
    });
    const batches = [records('changelog', 0), records('repartition', 3), records('repartition', 5)];
    const requests = transactionRequests(batches, () => 1);
    expect(requests).toHaveLength(1);
    const dropping = fakeTransaction((topic, partition) => topic === 'repartition' && partition === 5);
    expect(await sendTransactionRequests(dropping.transaction, requests)).toEqual({ requests: 1, resent: 1 });
    const losing = fakeTransaction(
      (topic, partition) => topic === 'repartition' && partition === 5,
      new Set(['repartition/5']),
    );
    await expect(sendTransactionRequests(losing.transaction, requests)).rejects.toThrow(MissedPartitionError);
    await expect(sendTransactionRequests(losing.transaction, requests)).rejects.toThrow(
      /repartition partition 5/,
    );
  });
});
