// The group-less reader the changelog restore uses (src/source/partition-fetch.ts), on a real broker:
// two transactional writers interleave committed and aborted transactions in two partitions; reading
// the partitions' whole ranges gives exactly the committed records, each partition in the order they
// were sent, the aborted ones apart, and no consumer group is made. A range that starts and ends inside transactions gives
// exactly the committed records whose offsets fall in it. Batches a producer gzip-compressed, kept so
// by the broker, read back the same.
import { CompressionTypes, type Kafka } from 'kafkajs';
import { beforeAll, describe, expect, it } from 'vitest';
import { readPartitionRanges, type OffsetRange } from '../../../src/source/partition-fetch.js';
import { seededRandom } from '../../../src/tools/produce/sample-events.js';
import { createTopic, uniqueName } from '../support/fixtures.js';
import { interleavedTransactions } from '../support/interleaved-transactions.js';
import { useTestServices } from '../support/services.js';

const PARTITIONS = 2;
const WRITERS = 2;

interface Read {
  offset: number;
  value: string;
}

/** Two writers on the topic; returns each partition's committed values in the order sent. */
async function writeTransactions(
  kafka: Kafka,
  topic: string,
  records: number,
  compression?: CompressionTypes,
) {
  // Values record-1, record-2, … in the order sent, each to a partition drawn at random; a send holds
  // 1 to 30; 75 % of the steps send, and of the transactions ended before the records run out, 60 %
  // commit.
  const draw = seededRandom(98);
  const items = Array.from({ length: records }, (_, i) => ({
    partition: Math.floor(draw() * PARTITIONS),
    value: `record-${i + 1}`,
  }));
  const { committed, aborted } = await interleavedTransactions(kafka, topic, items, {
    writers: WRITERS,
    seed: 99,
    maxPerSend: 30,
    sendShare: 0.75,
    commitShare: 0.6,
    message: (r) => ({ partition: r.partition, key: `k${r.value}`, value: r.value }),
    ...(compression === undefined ? {} : { compression }),
  });
  // Committed in the order the transactions ended; sent (record-N, N counting up) in offset order.
  const sentAt = (value: string) => Number(value.slice('record-'.length));
  const byPartition = Array.from({ length: PARTITIONS }, () => [] as string[]);
  for (const r of committed) byPartition[r.partition]!.push(r.value);
  for (const values of byPartition) values.sort((a, b) => sentAt(a) - sentAt(b));
  return { committed: byPartition, aborted };
}

async function read(kafka: Kafka, topic: string, ranges: Map<number, OffsetRange>) {
  const seen = Array.from({ length: PARTITIONS }, () => [] as Read[]);
  let aborted = 0;
  await readPartitionRanges(kafka, topic, ranges, (partition, fetched) => {
    for (const r of fetched.records)
      seen[partition]!.push({ offset: Number(r.offset), value: r.value!.toString() });
    aborted += fetched.aborted.length;
  });
  return Object.assign(seen, { aborted });
}

describe('reading partitions without a consumer group', () => {
  const services = useTestServices();
  let kafka: Kafka;
  beforeAll(() => ({ kafka } = services));

  it('gives exactly the committed records of a range, in offset order, and joins no group', async () => {
    const topic = uniqueName('partition_fetch');
    await createTopic(kafka, topic, PARTITIONS);
    const { committed, aborted } = await writeTransactions(kafka, topic, 3_000);
    expect(aborted, 'the writers aborted some transactions').toBeGreaterThan(0);

    const admin = kafka.admin();
    await admin.connect();
    try {
      const groupsBefore = (await admin.listGroups()).groups.map((g) => g.groupId);
      const offsets = await admin.fetchTopicOffsets(topic);
      const whole = new Map(
        offsets.map((o) => [o.partition, { from: BigInt(o.low), to: BigInt(o.high) }] as const),
      );
      const all = await read(kafka, topic, whole);
      // The records of aborted transactions come apart from the data, every one of them.
      expect(all.aborted).toBe(aborted);
      for (let p = 0; p < PARTITIONS; p += 1) {
        expect(
          all[p]!.map((r) => r.value),
          `partition ${p}`,
        ).toEqual(committed[p]);
        const offsetsRead = all[p]!.map((r) => r.offset);
        expect(offsetsRead, `partition ${p} in offset order`).toEqual([...offsetsRead].sort((a, b) => a - b));
      }
      expect((await admin.listGroups()).groups.map((g) => g.groupId)).toEqual(groupsBefore);

      // A range from inside one transaction to inside another: the committed records within it.
      const middle = new Map(
        offsets.map((o) => {
          const high = Number(o.high);
          return [
            o.partition,
            { from: BigInt(Math.floor(high / 3)), to: BigInt(Math.floor((2 * high) / 3)) },
          ];
        }),
      );
      const part = await read(kafka, topic, middle);
      for (let p = 0; p < PARTITIONS; p += 1) {
        const { from, to } = middle.get(p)!;
        const expected = all[p]!.filter((r) => r.offset >= Number(from) && r.offset < Number(to));
        expect(expected.length, `partition ${p} has records in the middle third`).toBeGreaterThan(0);
        expect(part[p], `partition ${p}, offsets ${from} to ${to}`).toEqual(expected);
      }
      // An empty range reads nothing and returns at once.
      expect([...(await read(kafka, topic, new Map([[0, { from: 5n, to: 5n }]])))]).toEqual([[], []]);
    } finally {
      await admin.disconnect();
    }
  });

  it('inflates batches the broker keeps gzip-compressed, aborted ones apart as well', async () => {
    const topic = uniqueName('partition_fetch_gzip');
    await createTopic(kafka, topic, PARTITIONS);
    const { committed, aborted } = await writeTransactions(kafka, topic, 1_000, CompressionTypes.GZIP);
    expect(aborted, 'the writers aborted some transactions').toBeGreaterThan(0);
    const admin = kafka.admin();
    await admin.connect();
    try {
      const offsets = await admin.fetchTopicOffsets(topic);
      const whole = new Map(
        offsets.map((o) => [o.partition, { from: BigInt(o.low), to: BigInt(o.high) }] as const),
      );
      const all = await read(kafka, topic, whole);
      expect(all.aborted).toBe(aborted);
      for (let p = 0; p < PARTITIONS; p += 1)
        expect(
          all[p]!.map((r) => r.value),
          `partition ${p}`,
        ).toEqual(committed[p]);
    } finally {
      await admin.disconnect();
    }
  });
});
