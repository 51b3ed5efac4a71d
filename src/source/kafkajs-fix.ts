// Installs the correct read_committed filter (aborted-transactions.ts) into kafkajs, whatever the
// order in which kafkajs and Sluice are loaded. kafkajs' Batch captures its own (wrong) filter when it
// loads, so the fix goes one step earlier: the fetch responses' decoders (v4 to v11, the versions that
// carry aborted transactions) are wrapped on their module objects, which kafkajs' connection reads at
// every request. In each decoded partition the records of aborted transactions are then flagged as
// control records, and the list of aborted transactions emptied, so kafkajs' own filter has nothing
// left to get wrong and hands on only committed records.
//
// Flagged, not removed: a fetch may hold nothing but records of one large aborted transaction (its abort
// marker further on than one fetch reaches, as a transaction of thousands of records leaves it). kafkajs
// moves past a fetch whose records it filtered out entirely (it resolves the batch's last offset); a
// fetch with no records at all it takes for the partition's end, and asks for the same offset again,
// forever. Seen as re-keyed windows that stopped after a crash mid-transaction.
import { createRequire } from 'node:module';
import { withoutAborted, type AbortedTransaction, type FetchedMessage } from './aborted-transactions.js';

const require = createRequire(import.meta.url);

interface DecodedPartition {
  abortedTransactions?: AbortedTransaction[];
  messages?: FetchedMessage[];
}

interface DecodedFetch {
  responses?: { partitions?: DecodedPartition[] }[];
}

interface ResponseModule {
  decode: (data: Buffer) => Promise<DecodedFetch>;
  [FIXED]?: true;
}

const FIXED = Symbol.for('sluice.readCommittedFixed');
/** Fetch versions whose responses list aborted transactions (read_committed exists from v4). */
const VERSIONS = [4, 5, 6, 7, 8, 9, 10, 11];

function filterDecoded(fetch: DecodedFetch): DecodedFetch {
  for (const response of fetch.responses ?? [])
    for (const partition of response.partitions ?? []) {
      const aborted = partition.abortedTransactions;
      if (!aborted || aborted.length === 0 || !partition.messages) continue;
      const kept = new Set(withoutAborted(partition.messages, aborted));
      for (const message of partition.messages) if (!kept.has(message)) message.isControlRecord = true;
      partition.abortedTransactions = [];
    }
  return fetch;
}

function install(): boolean {
  try {
    patchDecoders();
  } catch {
    // Another kafkajs than the one this was written for (its modules moved): not fixed, and said so.
    return false;
  }
  return VERSIONS.every(
    (version) =>
      (require(`kafkajs/src/protocol/requests/fetch/v${version}/response.js`) as ResponseModule)[FIXED] ===
      true,
  );
}

function patchDecoders(): void {
  for (const version of VERSIONS) {
    const module = require(`kafkajs/src/protocol/requests/fetch/v${version}/response.js`) as ResponseModule;
    if (module[FIXED]) continue;
    const decode = module.decode;
    module.decode = async (data) => filterDecoded(await decode(data));
    module[FIXED] = true;
  }
}

/** True once every fetch decoder kafkajs may use filters aborted transactions the right way. */
export const readCommittedFixed: boolean = install();
