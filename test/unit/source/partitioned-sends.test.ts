// Sends a partition at a time: the split keeps every record once, in order, with the partition kafkajs'
// own partitioner gives it, and a send settles only when every partition's has.
import fc from 'fast-check';
import { Partitioners } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import type { OutgoingRecord } from '../../../src/source/outgoing-record.js';
import { PartitionedSends, splitByPartition } from '../../../src/source/partitioned-sends.js';

const record = fc.record(
  {
    key: fc.option(fc.string({ maxLength: 12 }), { nil: null }),
    value: fc.string({ maxLength: 8 }),
    partition: fc.integer({ min: 0, max: 11 }),
  },
  { requiredKeys: ['key', 'value'] },
);

describe('splitByPartition', () => {
  it('keeps every record once, in its order within a partition, each with one partition of the topic', () => {
    fc.assert(
      fc.property(fc.array(record, { maxLength: 60 }), fc.integer({ min: 1, max: 12 }), (records, n) => {
        // Each record's value is its index, so order and identity are plain to check.
        const input: OutgoingRecord[] = records.map((r, i) => ({
          ...r,
          value: String(i),
          ...(r.partition === undefined ? {} : { partition: r.partition % n }),
        }));
        const split = splitByPartition('t', input, n, Partitioners.DefaultPartitioner());
        const seen: number[] = [];
        for (const [partition, list] of split) {
          expect(partition).toBeGreaterThanOrEqual(0);
          expect(partition).toBeLessThan(n);
          const indices = list.map((r) => Number(r.value));
          expect(indices).toEqual([...indices].sort((a, b) => a - b));
          for (const r of list) {
            expect(r.partition).toBe(partition);
            const original = input[Number(r.value)]!;
            expect(r.key).toBe(original.key);
            if (original.partition !== undefined) expect(partition).toBe(original.partition);
          }
          seen.push(...indices);
        }
        expect(seen.sort((a, b) => a - b)).toEqual(input.map((_, i) => i));
      }),
    );
  });

  it('puts a keyed record where the client would have: the murmur2 partition over the topic', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 20 }), fc.integer({ min: 1, max: 64 }), (key, n) => {
        const split = splitByPartition('t', [{ key, value: 'v' }], n, Partitioners.DefaultPartitioner());
        const partition = [...split.keys()][0];
        const metadata = Array.from({ length: n }, (_, partitionId) => ({
          partitionId,
          leader: partitionId % 3,
          partitionErrorCode: 0,
          replicas: [0],
          isr: [0],
        }));
        const client = Partitioners.DefaultPartitioner()({
          topic: 't',
          partitionMetadata: metadata,
          message: { key, value: 'v' },
        });
        expect(partition).toBe(client);
      }),
    );
  });

  it('keeps an explicit partition, and spreads unkeyed records over every partition', () => {
    const split = splitByPartition(
      't',
      [
        { value: 'a', partition: 2 },
        ...Array.from({ length: 40 }, (_, i) => ({ key: null, value: String(i) })),
      ],
      4,
      Partitioners.DefaultPartitioner(),
    );
    expect(split.get(2)![0]).toEqual({ value: 'a', partition: 2 });
    expect([...split.keys()].sort()).toEqual([0, 1, 2, 3]);
  });
});

describe('PartitionedSends', () => {
  const records: OutgoingRecord[] = Array.from({ length: 30 }, (_, i) => ({
    key: `k${i}`,
    value: String(i),
  }));

  it('sends each partition apart and asks for the partition count once', async () => {
    let lookups = 0;
    const sends = new PartitionedSends(() => {
      lookups += 1;
      return Promise.resolve(5);
    });
    const sent: { partition: number; records: OutgoingRecord[] }[] = [];
    for (let i = 0; i < 3; i += 1)
      await sends.send('t', records, (_, partition, list) => {
        sent.push({ partition, records: list });
        return Promise.resolve();
      });
    expect(lookups).toBe(1);
    expect(sent.every((s) => s.records.every((r) => r.partition === s.partition))).toBe(true);
    expect(sent.reduce((n, s) => n + s.records.length, 0)).toBe(90);
  });

  it('needs no partition count when every record names its partition', async () => {
    const sends = new PartitionedSends(() => Promise.reject(new Error('no lookup expected')));
    const partitions: number[] = [];
    await sends.send(
      't',
      [
        { value: 'a', partition: 1 },
        { value: 'b', partition: 0 },
      ],
      (_, p) => {
        partitions.push(p);
        return Promise.resolve();
      },
    );
    expect(partitions.sort()).toEqual([0, 1]);
  });

  it('rejects with the failure only once every partition has settled, and asks for the count again', async () => {
    let lookups = 0;
    const sends = new PartitionedSends(() => {
      lookups += 1;
      return Promise.resolve(3);
    });
    const settled: number[] = [];
    const failure = new Error('leader gone');
    const attempt = sends.send('t', records, async (_, partition) => {
      if (partition === 0) throw failure;
      await new Promise((resolve) => setTimeout(resolve, 20));
      settled.push(partition);
    });
    await expect(attempt).rejects.toBe(failure);
    expect(settled.sort()).toEqual([1, 2]);
    await sends.send('t', records, () => Promise.resolve());
    expect(lookups).toBe(2);
  });

  it('says which topic is missing', async () => {
    const sends = new PartitionedSends(() => Promise.resolve(undefined));
    await expect(sends.send('gone', records, () => Promise.resolve())).rejects.toThrow(
      /topic gone: it does not exist/,
    );
  });

  it('keeps the leaders and counts it was told until forgetMetadata, and keeps no failed leader lookup', async () => {
    let counts = 0;
    const asked: string[][] = [];
    let failNext = false;
    const sends = new PartitionedSends(
      () => {
        counts += 1;
        return Promise.resolve(4);
      },
      () => 0,
      (topics) => {
        asked.push([...topics]);
        if (failNext) {
          failNext = false;
          return Promise.reject(new Error('metadata unavailable'));
        }
        return Promise.resolve(new Map(topics.map((t) => [t, new Map([[0, 7]])])));
      },
    );
    expect((await sends.leaderOf(['a']))('a', 0)).toBe(7);
    expect((await sends.leaderOf(['a']))('a', 1)).toBeUndefined();
    // A topic not asked before: asked with the ones known.
    expect((await sends.leaderOf(['b']))('b', 0)).toBe(7);
    expect(asked).toEqual([['a'], ['a', 'b']]);
    await sends.split('a', [{ key: 'k', value: 'v' }]);
    await sends.split('a', [{ key: 'k', value: 'v' }]);
    expect(counts).toBe(1);

    sends.forgetMetadata();
    failNext = true;
    expect((await sends.leaderOf(['a']))('a', 0)).toBeUndefined();
    expect((await sends.leaderOf(['a']))('a', 0)).toBe(7);
    expect(asked).toHaveLength(4);
    await sends.split('a', [{ key: 'k', value: 'v' }]);
    expect(counts).toBe(2);
  });
});
