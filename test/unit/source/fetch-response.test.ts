// The Fetch response decoder of whole-partition reads (fetch-response.ts) against a reference model:
// random partition logs of several producers (plain and transactional batches, commit and abort
// markers, gzip-compressed batches, null keys and values), written as a broker would answer a
// read_committed fetch (versions 4 to 11, the aborted transactions listed in any order, the last batch
// maybe cut short), decode to exactly the committed records in offset order, the aborted ones apart.
import { createRequire } from 'node:module';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeFetchResponse, type RawRecord } from '../../../src/source/fetch-response.js';

const require = createRequire(import.meta.url);

interface KafkaEncoder {
  writeInt8(v: number): KafkaEncoder;
  writeInt16(v: number): KafkaEncoder;
  writeInt32(v: number): KafkaEncoder;
  writeInt64(v: number | string): KafkaEncoder;
  writeString(v: string): KafkaEncoder;
  writeBuffer(v: Buffer): KafkaEncoder;
  buffer: Buffer;
}
const Encoder = require('kafkajs/src/protocol/encoder.js') as new () => KafkaEncoder;
const Record = require('kafkajs/src/protocol/recordBatch/record/v0/index.js') as (record: {
  offsetDelta: number;
  key: Buffer | null;
  value: Buffer | null;
  headers?: Record<string, string>;
}) => KafkaEncoder;
const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0/index.js') as {
  RecordBatch: (batch: {
    compression: number;
    firstOffset: string;
    lastOffsetDelta: number;
    transactional: boolean;
    producerId: string;
    records: KafkaEncoder[];
  }) => Promise<KafkaEncoder>;
};
const GZIP = 1;
/** A batch's attributes: after base offset, length, leader epoch, magic and CRC. */
const ATTRIBUTES_AT = 21;

type Step =
  | { kind: 'data'; producer: number; transactional: boolean; gzip: boolean; records: Entry[] }
  | { kind: 'marker'; producer: number; commit: boolean };
interface Entry {
  key: string | null;
  value: string | null;
  header: boolean;
}

const entry = fc.record({
  key: fc.option(fc.string({ maxLength: 12 }), { nil: null }),
  value: fc.option(fc.string({ maxLength: 40 }), { nil: null }),
  header: fc.boolean(),
});
const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('data' as const),
      producer: fc.integer({ min: 1, max: 3 }),
      transactional: fc.boolean(),
      gzip: fc.boolean(),
      records: fc.array(entry, { minLength: 1, maxLength: 5 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('marker' as const),
      producer: fc.integer({ min: 1, max: 3 }),
      commit: fc.boolean(),
    }),
  },
);

const bytes = (text: string | null) => (text === null ? null : Buffer.from(text));

/** The log as a broker stores it, and what a read_committed reader must get of it. */
async function partitionLog(steps: Step[]) {
  const batches: Buffer[] = [];
  const committed: RawRecord[] = [];
  const aborted: RawRecord[] = [];
  const abortedTransactions: { producerId: number; firstOffset: number }[] = [];
  /** Each producer's open transaction: where it began and its records so far. */
  const open = new Map<number, { first: number; records: RawRecord[] }>();
  let offset = 0;
  const marker = async (producer: number, commit: boolean) => {
    const encoded = await RecordBatch({
      compression: 0,
      firstOffset: String(offset),
      lastOffsetDelta: 0,
      transactional: true,
      producerId: String(producer),
      records: [
        Record({ offsetDelta: 0, key: Buffer.from([0, 0, 0, commit ? 1 : 0]), value: Buffer.alloc(6) }),
      ],
    });
    const batch = Buffer.from(encoded.buffer);
    batch.writeInt16BE(batch.readInt16BE(ATTRIBUTES_AT) | 0x20, ATTRIBUTES_AT);
    batches.push(batch);
    const txn = open.get(producer);
    if (txn) {
      (commit ? committed : aborted).push(...txn.records);
      if (!commit) abortedTransactions.push({ producerId: producer, firstOffset: txn.first });
      open.delete(producer);
    }
    offset += 1;
  };
  for (const s of steps) {
    if (s.kind === 'marker') {
      await marker(s.producer, s.commit);
      continue;
    }
    const records = s.records.map((r, i) => ({
      offset: offset + i,
      key: bytes(r.key),
      value: bytes(r.value),
    }));
    const encoded = await RecordBatch({
      compression: s.gzip ? GZIP : 0,
      firstOffset: String(offset),
      lastOffsetDelta: records.length - 1,
      transactional: s.transactional,
      producerId: String(s.producer),
      records: s.records.map((r, i) =>
        Record({
          offsetDelta: i,
          key: bytes(r.key),
          value: bytes(r.value),
          ...(r.header ? { headers: { 'sluice.h': 'x' } } : {}),
        }),
      ),
    });
    batches.push(Buffer.from(encoded.buffer));
    if (s.transactional) {
      const txn = open.get(s.producer) ?? { first: offset, records: [] };
      txn.records.push(...records);
      open.set(s.producer, txn);
    } else committed.push(...records);
    offset += records.length;
  }
  // What is still open ends, one way or the other: a read_committed fetch stops at the stable end.
  for (const producer of [...open.keys()]) await marker(producer, producer % 2 === 0);
  const byOffset = (a: RawRecord, b: RawRecord) => a.offset - b.offset;
  return {
    batches,
    end: offset,
    committed: committed.sort(byOffset),
    aborted: aborted.sort(byOffset),
    abortedTransactions,
  };
}

/** A Fetch response of `version` holding one partition of the log. */
function fetchResponse(
  version: number,
  log: Awaited<ReturnType<typeof partitionLog>>,
  records: Buffer,
  listed: { producerId: number; firstOffset: number }[],
): Buffer {
  const out = new Encoder().writeInt32(0);
  if (version >= 7) out.writeInt16(0).writeInt32(0);
  out.writeInt32(1).writeString('changelog').writeInt32(1);
  out.writeInt32(0).writeInt16(0).writeInt64(log.end).writeInt64(log.end);
  if (version >= 5) out.writeInt64(0);
  out.writeInt32(listed.length);
  for (const t of listed) out.writeInt64(t.producerId).writeInt64(t.firstOffset);
  if (version >= 11) out.writeInt32(-1);
  out.writeInt32(records.length).writeBuffer(records);
  return out.buffer;
}

const plain = (records: Iterable<RawRecord>) =>
  [...records].map((r) => ({
    offset: r.offset,
    key: r.key?.toString() ?? null,
    value: r.value?.toString() ?? null,
  }));

describe('decodeFetchResponse', () => {
  it('gives the committed records in offset order and the aborted ones apart, as a read_committed reader must', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(step, { minLength: 1, maxLength: 40 }),
        fc.constantFrom(4, 5, 7, 11),
        fc.integer({ min: 0, max: 1_000 }),
        async (steps, version, seed) => {
          const log = await partitionLog(steps);
          // The broker lists the aborted transactions in no promised order.
          const listed = [...log.abortedTransactions].sort(
            (a, b) => ((a.firstOffset * 7919 + seed) % 13) - ((b.firstOffset * 7919 + seed) % 13),
          );
          const decoded = await decodeFetchResponse(
            fetchResponse(version, log, Buffer.concat(log.batches), listed),
            version,
          );
          const [partition] = decoded.topics[0]!.partitions;
          expect(plain(partition!.records)).toEqual(plain(log.committed));
          expect(plain(partition!.aborted)).toEqual(plain(log.aborted));
          expect(partition!.lastOffset).toBe(log.end - 1);
          expect([partition!.highWatermark, partition!.lastStableOffset]).toEqual([log.end, log.end]);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('leaves out a last batch cut short by the size limit, ending at the batch before it', async () => {
    const log = await partitionLog([
      {
        kind: 'data',
        producer: 1,
        transactional: false,
        gzip: false,
        records: [{ key: 'a', value: '1', header: false }],
      },
      {
        kind: 'data',
        producer: 1,
        transactional: false,
        gzip: true,
        records: [{ key: 'b', value: '2', header: true }],
      },
    ]);
    const cut = Buffer.concat(log.batches).subarray(0, log.batches[0]!.length + 20);
    const [partition] = (await decodeFetchResponse(fetchResponse(11, log, cut, []), 11)).topics[0]!
      .partitions;
    expect(plain(partition!.records)).toEqual([{ offset: 0, key: 'a', value: '1' }]);
    expect(partition!.lastOffset).toBe(0);
  });

  it('refuses a whole batch too short for its header, naming its offset, rather than ending there', async () => {
    const log = await partitionLog([
      {
        kind: 'data',
        producer: 1,
        transactional: false,
        gzip: false,
        records: [{ key: 'a', value: '1', header: false }],
      },
    ]);
    // A second batch at offset 1 whose length (20) covers only part of a header, and whose bytes are all
    // there: a damaged response, where a cut one would end short of the length.
    const damaged = Buffer.alloc(12 + 20);
    damaged.writeBigInt64BE(1n, 0);
    damaged.writeInt32BE(20, 8);
    const bytes = Buffer.concat([...log.batches, damaged]);
    await expect(decodeFetchResponse(fetchResponse(11, log, bytes, []), 11)).rejects.toThrow(
      /batch at offset 1 of partition 0 is 20 bytes long, shorter than a batch header/,
    );
  });
});
