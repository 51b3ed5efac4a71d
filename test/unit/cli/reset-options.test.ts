// `sluice reset` takes exactly one target, and says what it expected of a wrong one.
import { describe, expect, it } from 'vitest';
import { resetTargetOf } from '../../../src/cli/state.js';

describe('sluice reset options', () => {
  it('reads each target', () => {
    expect(resetTargetOf({ toEarliest: true })).toEqual({ kind: 'earliest' });
    expect(resetTargetOf({ toDatetime: '2026-11-30T08:00:00Z' })).toEqual({
      kind: 'datetime',
      ms: Date.UTC(2026, 10, 30, 8),
    });
    expect(resetTargetOf({ toOffsets: '0=1200, 3=0' })).toEqual({
      kind: 'offsets',
      offsets: new Map([
        [0, 1200n],
        [3, 0n],
      ]),
    });
  });

  it('refuses none, two, a bad time or bad offsets, and deleting rows by offsets, saying what it expected', () => {
    expect(() => resetTargetOf({})).toThrow(
      /invalid command-line option.*expected exactly one of --to-earliest, --to-datetime .*found "none"/s,
    );
    expect(() => resetTargetOf({ toEarliest: true, toOffsets: '0=1' })).toThrow(
      /found "--to-earliest and --to-offsets"/,
    );
    expect(() => resetTargetOf({ toDatetime: 'yesterday' })).toThrow(/--to-datetime.*ISO 8601.*yesterday/s);
    expect(() => resetTargetOf({ toOffsets: '0:12' })).toThrow(/partition=offset pairs.*0:12/s);
    expect(() => resetTargetOf({ toOffsets: '0=12', deleteResults: true })).toThrow(
      /--delete-results.*--to-earliest or --to-datetime/s,
    );
  });
});
