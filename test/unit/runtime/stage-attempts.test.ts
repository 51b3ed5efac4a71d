// One record through one stage: synchronous results stay synchronous, and the signal a stage may watch
// is aborted when its attempt times out or its partition is revoked (it is made only when read).
import { describe, expect, it } from 'vitest';
import { runStage, StageTimeoutError, type StagePolicy } from '../../../src/runtime/stage-attempts.js';
import type { Processor, StageRecord } from '../../../src/config/user-functions.js';

const record: StageRecord = {
  topic: 't',
  partition: 0,
  offset: '7',
  key: null,
  value: { n: 1 },
  timestamp: '0',
} as StageRecord;

function policy(process: Processor, timeout = 1_000): StagePolicy {
  return {
    name: 's',
    process,
    timeout,
    retry: { max: 0, backoff: 'exponential', baseDelay: 1, maxDelay: 1, jitter: false },
    onError: 'dead-letter',
  };
}

describe('runStage', () => {
  it('returns a synchronous stage’s values synchronously', () => {
    const outcome = runStage(
      policy((r) => r.value),
      record,
      undefined,
      new AbortController().signal,
    );
    expect(outcome).toEqual({ kind: 'out', values: [{ n: 1 }] });
  });

  it('aborts the signal of an attempt that times out, and fails it with a timeout', async () => {
    let aborted = false;
    const waits: Processor = (_r, ctx) =>
      new Promise((resolve) => ctx.signal.addEventListener('abort', () => ((aborted = true), resolve(null))));
    const outcome = await runStage(policy(waits, 20), record, undefined, new AbortController().signal);
    expect(aborted).toBe(true);
    expect(outcome).toMatchObject({ kind: 'failed', action: 'dead-letter' });
    expect((outcome as { error: unknown }).error).toBeInstanceOf(StageTimeoutError);
  });

  it('aborts the signal when the partition is revoked', async () => {
    const revoke = new AbortController();
    let reason = '';
    const waits: Processor = (_r, ctx) =>
      new Promise((resolve) =>
        ctx.signal.addEventListener('abort', () => ((reason = 'revoked'), resolve(null))),
      );
    const outcome = runStage(policy(waits), record, undefined, revoke.signal);
    revoke.abort();
    await outcome;
    expect(reason).toBe('revoked');
  });
});
