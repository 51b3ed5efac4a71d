// The read_committed filter against a model of a partition's log: several transactional producers
// interleave records and end their transactions with commit or abort markers, a non-transactional
// producer writes in between. A fetch starting anywhere, with the broker's aborted-transaction list in
// any order, must yield exactly the records that are not in an aborted transaction.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { withoutAborted, type FetchedMessage } from '../../../src/source/aborted-transactions.js';

type Op = { producer: number; action: 'send' | 'commit' | 'abort' };

interface LogRecord extends FetchedMessage {
  value: string;
  /** The model's answer: in a transaction that was aborted. */
  abortedByModel: boolean;
}

const marker = (type: 0 | 1) => Buffer.from([0, 0, 0, type]);

/** Builds the log, the model's answers and the broker's aborted-transaction list. */
function buildLog(ops: readonly Op[]) {
  const log: LogRecord[] = [];
  const open = new Map<number, { first: number; records: LogRecord[] }>();
  const aborted: { producerId: string; firstOffset: string; lastOffset: number }[] = [];
  for (const { producer, action } of ops) {
    const offset = log.length;
    const producerId = String(1000 + producer);
    if (producer === 3) {
      // Producer 3 is not transactional: its records are always read.
      if (action === 'send')
        log.push({
          offset: String(offset),
          value: `plain-${offset}`,
          batchContext: { producerId: '-1', inTransaction: false },
          abortedByModel: false,
        });
      continue;
    }
    const txn = open.get(producer);
    if (action === 'send') {
      const record: LogRecord = {
        offset: String(offset),
        value: `p${producer}-${offset}`,
        batchContext: { producerId, inTransaction: true },
        abortedByModel: false,
      };
      log.push(record);
      if (txn) txn.records.push(record);
      else open.set(producer, { first: offset, records: [record] });
    } else if (txn) {
      log.push({
        offset: String(offset),
        value: `marker-${offset}`,
        key: marker(action === 'commit' ? 1 : 0),
        isControlRecord: true,
        batchContext: { producerId, inTransaction: true },
        abortedByModel: false,
      });
      if (action === 'abort') {
        for (const r of txn.records) r.abortedByModel = true;
        aborted.push({ producerId, firstOffset: String(txn.first), lastOffset: offset });
      }
      open.delete(producer);
    }
  }
  // read_committed reads only up to the last stable offset: before the first still-open transaction.
  const stable = Math.min(log.length, ...[...open.values()].map((t) => t.first));
  return { log: log.slice(0, stable), aborted };
}

describe('withoutAborted', () => {
  it('drops exactly the records of aborted transactions, from any fetch offset, list in any order', () => {
    const opArb = fc.record({
      producer: fc.nat(3),
      action: fc.constantFrom<Op['action']>('send', 'send', 'send', 'commit', 'abort'),
    });
    fc.assert(
      fc.property(
        fc.array(opArb, { maxLength: 200 }),
        fc.nat(),
        fc.nat(),
        fc.integer(),
        (ops, fetchPick, lengthPick, shuffleSeed) => {
          const { log, aborted } = buildLog(ops);
          if (log.length === 0) return;
          const from = fetchPick % log.length;
          const to = from + 1 + (lengthPick % (log.length - from));
          const fetched = log.slice(from, to);
          // The broker lists the aborted transactions overlapping the fetch, in an order of its own.
          const overlapping = aborted
            .filter((t) => t.lastOffset >= from && Number(t.firstOffset) < to)
            .map(({ producerId, firstOffset }) => ({ producerId, firstOffset }));
          const shuffled = fc.sample(fc.shuffledSubarray(overlapping, { minLength: overlapping.length }), {
            numRuns: 1,
            seed: shuffleSeed,
          })[0]!;
          const kept = withoutAborted(fetched, shuffled).filter((m) => !m.isControlRecord);
          const expected = fetched.filter((m) => !m.isControlRecord && !m.abortedByModel);
          expect(kept.map((m) => m.value)).toEqual(expected.map((m) => m.value));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('keeps everything when nothing was aborted', () => {
    const messages = [{ offset: '0', batchContext: { producerId: '7', inTransaction: true } }];
    expect(withoutAborted(messages, [])).toEqual(messages);
    expect(withoutAborted(messages, undefined)).toEqual(messages);
  });
});
