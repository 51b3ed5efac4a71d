// The transaction outbox packs re-keyed events as they come: whatever the commits take and when, the
// re-keyed side reads out of each repartition partition, record for record and in order, what the
// source partition made for it (events by their key's partition, markers where they were sent), and
// every other topic's records go as they were added. Against a reference that keeps every record.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fetchedOf, readableOf } from '../../support/fetched-records.js';
import { SluiceBugError } from '../../../src/errors.js';
import { keyPartition } from '../../../src/source/key-partition.js';
import type { OutgoingRecord } from '../../../src/source/outgoing-record.js';
import { PACKED_HEADER, unpackRepartitionRecord } from '../../../src/source/repartition-packing.js';
import { repartitionRecords, watermarkMarkers } from '../../../src/source/repartition-records.js';
import { TransactionOutbox } from '../../../src/source/transaction-outbox.js';

const REPARTITION = 'repartition';
const DEAD_LETTERS = 'dead-letters';
const PARTITIONS = 3;

const groups = [
  { keyOf: (e: unknown) => [String((e as { user: unknown }).user)], windows: new Set(['counts']) },
  { keyOf: (e: unknown) => [String((e as { region: unknown }).region)], windows: new Set(['sums']) },
];

type Step =
  | { kind: 'event'; user: string; region: string; admitted: string[] }
  | { kind: 'marker'; watermark: number }
  | { kind: 'dead-letter'; text: string }
  | { kind: 'commit'; fails: boolean };

const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 12,
    arbitrary: fc.record({
      kind: fc.constant('event' as const),
      user: fc.string({ maxLength: 4 }),
      region: fc.constantFrom('eu', 'us', 'ap', 'ünï "côdé"'),
      admitted: fc.subarray(['counts', 'sums']),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 0, max: 1e12 }).map((watermark) => ({ kind: 'marker' as const, watermark })),
  },
  {
    weight: 1,
    arbitrary: fc.string({ maxLength: 8 }).map((text) => ({ kind: 'dead-letter' as const, text })),
  },
  { weight: 2, arbitrary: fc.boolean().map((fails) => ({ kind: 'commit' as const, fails })) },
);

const partitionOf = (record: OutgoingRecord) =>
  record.partition ?? keyPartition(record.key as string, PARTITIONS);

describe('transaction outbox', () => {
  it('carries every record once, each repartition partition in order, whenever the commits come', () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 120 }), fc.integer({ min: 1, max: 6 }), (steps, entries) => {
        const outbox = new TransactionOutbox({
          topic: REPARTITION,
          partitions: () => PARTITIONS,
          bounds: { entries, bytes: 400 },
        });
        // What a source partition made, and what its committed transactions carried, in order.
        let made: { topic: string; record: OutgoingRecord }[] = [];
        const carried: { topic: string; record: OutgoingRecord }[] = [];
        const committed: { topic: string; record: OutgoingRecord }[] = [];
        let offset = 0;
        const add = (topic: string, record: OutgoingRecord) => {
          made.push({ topic, record });
          outbox.add(7, topic, record);
        };
        const commit = (fails: boolean) => {
          const pending = outbox.pendingFor(7);
          const waiting = Object.values(outbox.sizes()).reduce((a, b) => a + b, 0);
          expect(waiting).toBe(made.length);
          if (fails) {
            // The partition goes back to its checkpoint: what it made since is made again, elsewhere.
            outbox.forget(7);
            made = [];
            return;
          }
          for (const batch of pending)
            for (const record of batch.messages) carried.push({ topic: batch.topic, record });
          committed.push(...made);
          made = [];
          outbox.published(7, pending.length);
        };
        for (const s of steps) {
          if (s.kind === 'event')
            for (const record of repartitionRecords(
              {
                value: { user: s.user, region: s.region },
                eventTimeMs: offset,
                sourcePartition: 7,
                sourceOffset: String(offset),
                watermark: offset - 1,
                admitted: s.admitted,
              },
              groups,
            ))
              add(REPARTITION, record);
          else if (s.kind === 'marker')
            for (const record of watermarkMarkers(7, s.watermark, false, PARTITIONS))
              add(REPARTITION, record);
          else if (s.kind === 'dead-letter') add(DEAD_LETTERS, { key: null, value: s.text });
          else commit(s.fails);
          offset += 1;
        }
        commit(false);
        expect(outbox.sizes()).toEqual({});

        for (let p = 0; p < PARTITIONS; p += 1) {
          const read = carried
            .filter((c) => c.topic === REPARTITION && partitionOf(c.record) === p)
            .flatMap(({ record }, o) => {
              const raw = fetchedOf(record, o);
              // Packs only hold as many events as their bounds allow.
              const events = unpackRepartitionRecord(raw);
              if (events) expect(events.length).toBeLessThanOrEqual(entries);
              return events ?? [raw];
            });
          const expected = committed.filter((c) => c.topic === REPARTITION && partitionOf(c.record) === p);
          expect(read.map(readableOf)).toEqual(expected.map((c) => readableOf(fetchedOf(c.record, 0))));
        }
        const others = (list: typeof carried) =>
          list.filter((c) => c.topic !== REPARTITION).map((c) => c.record);
        expect(others(carried)).toEqual(others(committed));
        // Every event travelled in a pack; markers as they were.
        expect(
          carried.every(
            (c) =>
              c.topic !== REPARTITION ||
              c.record.headers?.[PACKED_HEADER] !== undefined ||
              c.record.key === null,
          ),
        ).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('refuses a re-keyed event before the repartition topic has a partition count, as a bug', () => {
    const outbox = new TransactionOutbox({
      topic: REPARTITION,
      partitions: () => 0,
      bounds: { entries: 10, bytes: 400 },
    });
    const [event] = repartitionRecords(
      {
        value: { user: 'u', region: 'eu' },
        eventTimeMs: 1,
        sourcePartition: 7,
        sourceOffset: '1',
        watermark: 0,
        admitted: ['counts'],
      },
      groups,
    );
    expect(() => outbox.add(7, REPARTITION, event!)).toThrow(SluiceBugError);
    // A marker names its partition itself: it needs no count.
    outbox.add(7, REPARTITION, watermarkMarkers(7, 5, false, 1)[0]!);
    expect(outbox.sizes()).toEqual({ [REPARTITION]: 1 });
  });
});
