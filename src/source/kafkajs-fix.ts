// Installs the correct read_committed filter (aborted-transactions.ts) into kafkajs, whose consumer
// captures its own filter when it is first loaded: so this module must be evaluated before kafkajs is.
// The package entry points (src/index.ts, src/cli/main.ts) import it first; the test setup too. If
// kafkajs was loaded earlier (an application importing kafkajs before sluice), the fix cannot apply,
// and `readCommittedFixed` says so: the runner then warns that aborted records may be read.
import Module, { createRequire } from 'node:module';
import { withoutAborted, type AbortedTransaction, type FetchedMessage } from './aborted-transactions.js';

const require = createRequire(import.meta.url);

function install(): boolean {
  const filterPath = require.resolve('kafkajs/src/consumer/filterAbortedMessages.js');
  const batchPath = require.resolve('kafkajs/src/consumer/batch.js');
  if (require.cache[batchPath]) return require.cache[filterPath]?.exports === filter;
  const module = new Module(filterPath);
  module.filename = filterPath;
  module.loaded = true;
  module.exports = filter;
  require.cache[filterPath] = module;
  return true;
}

function filter({
  messages,
  abortedTransactions,
}: {
  messages: FetchedMessage[];
  abortedTransactions?: AbortedTransaction[];
}): FetchedMessage[] {
  return withoutAborted(messages, abortedTransactions);
}

export const readCommittedFixed: boolean = install();
