// Installs the correct read_committed filter (aborted-transactions.ts) into kafkajs, whatever the
// order in which kafkajs and Sluice are loaded. kafkajs' Batch captures its own (wrong) filter when it
// loads, so the fix goes one step earlier: the fetch responses' decoders (v4 to v11, the versions that
// carry aborted transactions) are wrapped on their module objects, which kafkajs' connection reads at
// every request. Each decoded partition then holds only committed records (control records kept) and
// an empty list of aborted transactions, so kafkajs' own filter has nothing left to get wrong.
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
      partition.messages = withoutAborted(partition.messages, aborted);
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
