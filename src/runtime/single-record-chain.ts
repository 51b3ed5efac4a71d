// Runs one source record through a pipeline's chain (parse, quality, stages) outside a partition
// worker, for tools that need the events a record gives today: `sluice late replay`. The same chain and
// policies as a running pipeline (retries, timeouts, error actions), without windows or side outputs.
import type { FetchedRecord } from '../source/fetched-record.js';
import type { StageRecord } from '../config/user-functions.js';
import { StageChain, type ChainDefinition } from './stage-chain.js';

export type ChainOutcome =
  /** The events the record gives (more than one when a stage fanned it out), in order. */
  | { kind: 'events'; events: StageRecord[] }
  /** A stage (or the filter) left nothing. */
  | { kind: 'filtered' }
  /** Parse, quality or a stage failed for good. */
  | { kind: 'failed'; stage: string; error: unknown };

export function runThroughChain(
  chain: ChainDefinition,
  topic: string,
  partition: number,
  raw: FetchedRecord,
  signal: AbortSignal = new AbortController().signal,
): Promise<ChainOutcome> {
  return new Promise((resolve) => {
    const events: StageRecord[] = [];
    let failure: { stage: string; error: unknown } | undefined;
    const origin = {
      offset: BigInt(raw.offset),
      raw,
      bytes: raw.value?.length ?? 0,
      pending: 1,
    };
    const itemDone = () => {
      origin.pending -= 1;
      if (origin.pending > 0) return;
      if (failure) resolve({ kind: 'failed', ...failure });
      else resolve(events.length === 0 ? { kind: 'filtered' } : { kind: 'events', events });
    };
    const stages = new StageChain(chain, topic, partition, signal, {
      absorb: (item) => {
        events.push(item.record);
        itemDone();
      },
      dropped: () => itemDone(),
      failed: (f) => {
        failure ??= { stage: f.stage, error: f.error };
        itemDone();
      },
    });
    stages.push(origin);
  });
}
