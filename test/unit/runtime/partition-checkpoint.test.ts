// The commit protocol of one partition on its own: a real PartitionWorker, the sinks and the commit
// in memory. Checks its invariants: a snapshot waits for records in flight and for every row the
// sinks owe, an offset is never committed ahead of its rows, a failed commit is carried by the next
// one, and a partition this member no longer owns is never committed.
import { describe, expect, it } from 'vitest';
import type { StageRecord } from '../../../src/config/user-functions.js';
import { validatePipeline } from '../../../src/config/validate.js';
import { createLogger } from '../../../src/ops/logger.js';
import {
  PartitionCheckpoint,
  type CheckpointEffects,
  type CheckpointedWorker,
} from '../../../src/runtime/partition-checkpoint.js';
import { PartitionWorker, type FetchedRecord, type Snapshot } from '../../../src/runtime/partition-worker.js';
import type { WindowResult } from '../../../src/windows/window-result.js';
import { compiledForTest } from '../../support/compiled-pipeline.js';
import { durableEffects } from '../../support/worker-effects.js';

function record(offset: number, timestamp: number, url = '/a'): FetchedRecord {
  const value = JSON.stringify({ eventId: `e${offset}`, type: 'page_view', userId: 'u', url, timestamp });
  return { offset: String(offset), key: null, value: Buffer.from(value), timestamp: '0' };
}

/** A stage that holds every record until released, to have records in flight at a commit. */
function gate() {
  const waiting: (() => void)[] = [];
  let open = true;
  return {
    process: (r: StageRecord) =>
      open ? r.value : new Promise((resolve) => waiting.push(() => resolve(r.value))),
    close: () => (open = false),
    open: () => {
      open = true;
      waiting.splice(0).forEach((release) => release());
    },
  };
}

function setup(options: { gated?: ReturnType<typeof gate>; interval?: number } = {}) {
  const clock = { now: 0 };
  const pipeline = validatePipeline({
    name: 'p',
    time: { field: 'timestamp', maxOutOfOrderness: '0s', grace: '0s', idleTimeout: '1h' },
    stages: options.gated ? [{ name: 'gate', process: options.gated.process }] : [],
    windows: [{ name: 'w', type: 'tumbling', size: '1m', groupBy: ['url'] }],
  });
  const worker = new PartitionWorker(
    't',
    0,
    compiledForTest(pipeline),
    createLogger('silent'),
    durableEffects(),
    () => clock.now,
  );
  const log: string[] = [];
  const sunk: WindowResult[] = [];
  const commits: Snapshot[] = [];
  const published: number[] = [];
  const state = { sinksOpen: true, commitFails: false, owned: true, lostDuringCommit: false };
  const effects: CheckpointEffects = {
    writeResults: (w: CheckpointedWorker, results: readonly WindowResult[]) => {
      log.push(`write ${results.length}`);
      if (!state.sinksOpen) return Promise.resolve(false);
      sunk.push(...results);
      w.sunk(results.length);
      return Promise.resolve(true);
    },
    outputs: () => [],
    commit: (_partition, snapshot) => {
      log.push(`commit ${snapshot.offset}`);
      if (state.commitFails) return Promise.reject(new Error('broker gone'));
      commits.push(snapshot);
      // Released meanwhile (a rebalance, an eviction, a recovery): another worker has the partition now.
      if (state.lostDuringCommit) state.owned = false;
      return Promise.resolve();
    },
    outputsPublished: (_partition, count) => published.push(count),
    owns: () => state.owned,
  };
  const checkpoint = new PartitionCheckpoint(worker, effects, options.interval ?? 1_000, () => clock.now);
  return { clock, worker, checkpoint, log, sunk, commits, published, state };
}

describe('PartitionCheckpoint', () => {
  it('commits once per interval, and at once when forced', async () => {
    const { clock, worker, checkpoint, commits } = setup();
    clock.now = 1_000;
    worker.accept([record(0, 1_000)], 1n);
    expect((await checkpoint.commitIfDue(false)).kind).toBe('committed');
    worker.accept([record(1, 2_000)], 2n);
    clock.now = 1_999;
    expect((await checkpoint.commitIfDue(false)).kind).toBe('not-due');
    clock.now = 2_000;
    expect((await checkpoint.commitIfDue(false)).kind).toBe('committed');
    worker.accept([record(2, 3_000)], 3n);
    expect((await checkpoint.commitIfDue(true)).kind).toBe('committed');
    expect(commits.map((c) => c.offset)).toEqual([1n, 2n, 3n]);
    expect(worker.committedOffset).toBe(3n);
  });

  it('waits for records in flight before taking the snapshot, so its offset covers them', async () => {
    const gated = gate();
    const { worker, checkpoint, commits } = setup({ gated });
    gated.close();
    worker.accept([record(0, 1_000), record(1, 2_000)], 2n);
    const committing = checkpoint.commitIfDue(true);
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(commits).toHaveLength(0);
    gated.open();
    expect((await committing).kind).toBe('committed');
    expect(commits[0]?.offset).toBe(2n);
  });

  it('hands the sinks every owed row before the snapshot, and commits nothing while they cannot take it', async () => {
    const { clock, worker, checkpoint, log, sunk, commits, state } = setup();
    // The second event moves the watermark past the first window; the tick hands its row to the
    // sinks, which have not acknowledged it: the next commit owes it.
    worker.accept([record(0, 1_000), record(1, 61_000)], 2n);
    await worker.drained();
    expect(worker.resultsToSink()).toHaveLength(1);
    state.sinksOpen = false;
    expect((await checkpoint.commitIfDue(true)).kind).toBe('skipped');
    expect(commits).toHaveLength(0);
    expect(worker.committedOffset).toBeUndefined();
    // Released after the failed write: records keep flowing through the chain.
    worker.accept([record(2, 62_000)], 3n);
    await worker.drained();
    expect(worker.counters.completed).toBe(3);
    state.sinksOpen = true;
    clock.now = 5_000;
    expect((await checkpoint.commitIfDue(false)).kind).toBe('committed');
    expect(log.slice(-2)).toEqual(['write 1', 'commit 3']);
    expect(sunk.map((r) => [r.window.start, r.count])).toEqual([[0, 1]]);
  });

  it('leaves a failed commit’s changelog records for the next commit to carry', async () => {
    const { worker, checkpoint, commits, state } = setup();
    worker.accept([record(0, 1_000, '/a')], 1n);
    state.commitFails = true;
    const failed = await checkpoint.commitIfDue(true);
    expect(failed.kind).toBe('failed');
    expect(worker.committedOffset).toBeUndefined();
    state.commitFails = false;
    worker.accept([record(1, 2_000, '/b')], 2n);
    expect((await checkpoint.commitIfDue(true)).kind).toBe('committed');
    const carried = commits[0]!;
    expect(carried.offset).toBe(2n);
    // Both windows' state (and the checkpoint record) are in the one successful commit.
    const failedKeys = failed.kind === 'failed' ? [...failed.snapshot.records.keys()] : [];
    for (const key of failedKeys) expect(carried.records.has(key)).toBe(true);
    expect(carried.records.size).toBeGreaterThan(failedKeys.length);
    expect(worker.committedOffset).toBe(2n);
  });

  it('never commits a partition this member no longer owns', async () => {
    const { worker, checkpoint, log, state } = setup();
    worker.accept([record(0, 1_000)], 1n);
    state.owned = false;
    expect((await checkpoint.commitIfDue(true)).kind).toBe('skipped');
    expect(log.filter((line) => line.startsWith('commit'))).toEqual([]);
    expect(worker.committedOffset).toBeUndefined();
  });

  it('hands no owed rows to the sinks when the worker was released while it quiesced', async () => {
    const gated = gate();
    const { worker, checkpoint, log, state } = setup({ gated });
    worker.accept([record(0, 1_000), record(1, 61_000)], 2n);
    await worker.drained();
    // The first window closed and went to the sinks, which have not acknowledged it: the barrier owes it.
    expect(worker.resultsToSink()).toHaveLength(1);
    gated.close();
    worker.accept([record(2, 62_000)], 3n);
    const committing = checkpoint.commitIfDue(true);
    await new Promise((resolve) => setTimeout(resolve, 10));
    // A rebalance releases the partition mid-barrier; closing the worker ends its quiesce.
    state.owned = false;
    worker.close();
    expect((await committing).kind).toBe('skipped');
    expect(log).toEqual([]);
  });

  it("leaves the outbox alone when the partition changed hands during the commit: it is the next worker's now", async () => {
    const { worker, checkpoint, published, state } = setup();
    worker.accept([record(0, 1_000)], 1n);
    expect((await checkpoint.commitIfDue(true)).kind).toBe('committed');
    expect(published).toEqual([0]);
    worker.accept([record(1, 2_000)], 2n);
    state.lostDuringCommit = true;
    expect((await checkpoint.commitIfDue(true)).kind).toBe('committed');
    expect(published).toEqual([0]);
  });
});
