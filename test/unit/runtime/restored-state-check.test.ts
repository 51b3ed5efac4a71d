// Restored state is refused when its windows changed meaning, another group wrote it, or the group's
// offset was moved behind its checkpoint (exactly-once); removed windows are reported; an offset ahead of
// the checkpoint is followed unless an aborted attempt of the changelog was checkpointing it.
import { describe, expect, it } from 'vitest';
import {
  ChangelogOfAnotherGroupError,
  OffsetBehindCheckpointError,
  WindowDefinitionChangedError,
  checkRestoredState,
  type StateCheckContext,
} from '../../../src/runtime/restored-state-check.js';
import type { Checkpoint, RestoredPartition } from '../../../src/state/changelog-codec.js';

const fingerprint = (size: number) =>
  JSON.stringify(['tumbling', size, size, 0, ['type'], [['sum', 'value']], 'final']);
const context = (overrides: Partial<StateCheckContext> = {}): StateCheckContext => ({
  pipeline: 'p',
  changelogTopic: 'p.changelog',
  groupId: 'sluice-p',
  windows: [{ name: 'by_type', fingerprint: fingerprint(10_000) }],
  exactlyOnce: true,
  committed: new Map([[0, 500n]]),
  ...overrides,
});
const state = (checkpoint: Partial<Checkpoint>): Map<number, RestoredPartition> =>
  new Map([
    [
      0,
      {
        records: new Map(),
        highWatermark: 900n,
        checkpoint: {
          offset: 500n,
          watermark: { value: 0, fromEvents: 0 },
          interval: 7,
          definitions: { by_type: fingerprint(10_000) },
          group: 'sluice-p',
          ...checkpoint,
        },
      },
    ],
  ]);

describe('checkRestoredState', () => {
  it('accepts state written under the same definitions by the same group at the committed offset', () => {
    expect(checkRestoredState(state({}), context())).toEqual({
      removed: new Map(),
      resumeAtCheckpoint: new Map(),
    });
  });

  it('accepts a partition without state, and a checkpoint from before definitions were stored', () => {
    expect(checkRestoredState(new Map([[0, undefined]]), context()).refusal).toBeUndefined();
    const old = state({ definitions: undefined, group: undefined });
    expect(checkRestoredState(old, context()).refusal).toBeUndefined();
  });

  it('refuses a window that changed meaning, naming it with was and now and the ways forward', () => {
    const { refusal } = checkRestoredState(
      state({}),
      context({ windows: [{ name: 'by_type', fingerprint: fingerprint(30_000) }] }),
    );
    expect(refusal).toBeInstanceOf(WindowDefinitionChangedError);
    expect(refusal!.message).toContain('Window by_type: size: 10s → 30s');
    expect(refusal!.message).toContain('new name');
    expect(refusal!.message).toContain('sluice reset');
    expect(refusal!.retriable).toBe(false);
  });

  it('reports removed windows with their partitions, without refusing', () => {
    const check = checkRestoredState(
      state({ definitions: { by_type: fingerprint(10_000), old: fingerprint(5_000) } }),
      context(),
    );
    expect(check.refusal).toBeUndefined();
    expect(check.removed).toEqual(new Map([['old', [0]]]));
  });

  it('refuses a changelog another consumer group wrote (two deployments under one name)', () => {
    const { refusal } = checkRestoredState(state({ group: 'sluice-p-blue' }), context());
    expect(refusal).toBeInstanceOf(ChangelogOfAnotherGroupError);
    expect(refusal!.message).toMatch(/group sluice-p-blue wrote it, and this member is in group sluice-p/);
  });

  it('refuses a committed offset moved behind the checkpoint under exactly-once only', () => {
    const moved = context({ committed: new Map([[0, 100n]]) });
    const { refusal } = checkRestoredState(state({}), moved);
    expect(refusal).toBeInstanceOf(OffsetBehindCheckpointError);
    expect(refusal!.message).toContain("offset 100 committed, behind the state's checkpoint at 500");
    expect(checkRestoredState(state({}), { ...moved, exactlyOnce: false }).refusal).toBeUndefined();
    // Ahead (skipped forward on purpose) or none committed: not refused.
    expect(
      checkRestoredState(state({}), context({ committed: new Map([[0, 700n]]) })).refusal,
    ).toBeUndefined();
    expect(checkRestoredState(state({}), context({ committed: new Map() })).refusal).toBeUndefined();
  });

  it('resumes at the checkpoint when the committed offset ahead of it is one an aborted attempt checkpointed', () => {
    const withAborted = (aborted: bigint[]) => {
      const restored = state({});
      restored.set(0, { ...restored.get(0)!, abortedCheckpoints: new Set(aborted) });
      return restored;
    };
    const ahead = context({ committed: new Map([[0, 700n]]) });
    // An attempt that checkpointed 700 never landed in the changelog, yet its offset commit did.
    const orphaned = checkRestoredState(withAborted([600n, 700n]), ahead);
    expect(orphaned.refusal).toBeUndefined();
    expect(orphaned.resumeAtCheckpoint).toEqual(new Map([[0, { committed: 700n, checkpoint: 500n }]]));
    // Under at-least-once too: the records from 500 on are in no state either way.
    const atLeastOnce = checkRestoredState(withAborted([700n]), { ...ahead, exactlyOnce: false });
    expect(atLeastOnce.resumeAtCheckpoint.get(0)?.checkpoint).toBe(500n);
    // Moved ahead by another tool (no attempt checkpointed it), at the checkpoint, or read without
    // looking at aborted records: followed.
    expect(checkRestoredState(withAborted([600n]), ahead).resumeAtCheckpoint.size).toBe(0);
    expect(checkRestoredState(withAborted([500n]), context()).resumeAtCheckpoint.size).toBe(0);
    expect(checkRestoredState(state({}), ahead).resumeAtCheckpoint.size).toBe(0);
  });
});
