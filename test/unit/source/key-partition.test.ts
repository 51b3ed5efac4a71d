// The partition of a keyed record (key-partition.ts) is the one Kafka's Java producer and kafkajs'
// default partitioner give it: murmur2 against the Java client's own test vectors, and the partition
// against kafkajs' partitioner for any string (any Unicode, lone surrogates included) or bytes, over any
// partition count, a key longer than the reused buffer too.
import fc from 'fast-check';
import { Partitioners } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { keyPartition, murmur2 } from '../../../src/source/key-partition.js';

/** kafkajs' pick for a keyed record over `n` partitions, every one led. */
function clientPartition(key: string | Buffer, n: number): number {
  const partitionMetadata = Array.from({ length: n }, (_, partitionId) => ({
    partitionId,
    leader: 0,
    partitionErrorCode: 0,
    replicas: [0],
    isr: [0],
  }));
  return Partitioners.DefaultPartitioner()({ topic: 't', partitionMetadata, message: { key, value: null } });
}

describe('keyPartition', () => {
  it("hashes as the Java client's murmur2 (its own test vectors)", () => {
    const vectors: [string, number][] = [
      ['21', -973932308],
      ['foobar', -790332482],
      ['a-little-bit-long-string', -985981536],
      ['a-little-bit-longer-string', -1486304829],
      ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
      ['abc', 479470107],
    ];
    for (const [text, hash] of vectors) expect(murmur2(Buffer.from(text)), text).toBe(hash);
  });

  it("puts any string or bytes key in kafkajs' partition, over any partition count", () => {
    const key = fc.oneof(
      fc.string({ maxLength: 40, unit: 'binary' }),
      fc.string({ maxLength: 40 }),
      fc.string({ minLength: 400, maxLength: 600, unit: 'binary' }),
      fc.uint8Array({ maxLength: 40 }).map((bytes) => Buffer.from(bytes)),
    );
    fc.assert(
      fc.property(key, fc.integer({ min: 1, max: 200 }), (k, n) => {
        expect(keyPartition(k, n)).toBe(clientPartition(k, n));
      }),
      { numRuns: 2_000 },
    );
  });
});
