// The late replay's decisions without Kafka or ClickHouse (rows in a map): a late record merged into
// the windows its refs name, once per late-topic offset; and each way a record is not merged, reported
// by window and reason: no refs, a session, an event the stages now filter out, fan out or fail.
import { describe, expect, it } from 'vitest';
import type { StageRecord } from '../../../src/config/user-functions.js';
import { validatePipeline } from '../../../src/config/validate.js';
import {
  LateReplay,
  LATE_REASONS,
  type LateRecord,
  type LateRowStore,
} from '../../../src/runtime/late-replay.js';
import type { ReplacementRow, StoredRow, WindowRowIdentity } from '../../../src/sinks/late-window-rows.js';
import { compiledForTest } from '../../support/compiled-pipeline.js';

const MINUTE = 60_000;

const pipeline = validatePipeline({
  name: 'p',
  source: { topic: 'events' },
  time: { field: 'timestamp' },
  stages: [
    { name: 'no_gone', type: 'filter', field: 'type', in: ['view', 'multi', 'bad'] },
    {
      name: 'split',
      process: (r: StageRecord) => {
        const value = r.value as { type: string };
        if (value.type === 'bad') throw new Error('cannot split');
        return value.type === 'multi' ? [value, value] : value;
      },
      onError: 'skip',
    },
  ],
  windows: [
    {
      name: 'amounts',
      type: 'tumbling',
      size: '1m',
      groupBy: ['type'],
      aggregations: [{ fn: 'sum', field: 'value' }],
    },
    { name: 'sessions', type: 'session', gap: '1m', groupBy: ['userId'] },
  ],
});

class MapRows implements LateRowStore {
  readonly rows = new Map<string, StoredRow>();
  writes = 0;
  // One row per window and key: the windows here are re-keyed (no source.keyedBy), found whatever partition.
  private id(identity: WindowRowIdentity): string {
    return JSON.stringify([identity.window.name, identity.start, identity.key]);
  }
  current(identity: WindowRowIdentity): Promise<StoredRow | undefined> {
    return Promise.resolve(this.rows.get(this.id(identity)));
  }
  write(identity: WindowRowIdentity, row: ReplacementRow): Promise<void> {
    this.writes += 1;
    this.rows.set(this.id(identity), { ...row, sourcePartition: identity.sourcePartition ?? 0 });
    return Promise.resolve();
  }
}

function lateRecord(offset: number, event: Record<string, unknown>, refs: string | undefined): LateRecord {
  return {
    partition: 1,
    offset: String(offset),
    key: null,
    value: Buffer.from(
      JSON.stringify({ eventId: `e${offset}`, userId: 'u1', timestamp: 90_000, value: 5, ...event }),
    ),
    timestamp: '0',
    headers: {
      'sluice.pipeline': 'p',
      'sluice.source.topic': 'events',
      'sluice.source.partition': '0',
      'sluice.source.offset': String(100 + offset),
      'sluice.late.windows': 'amounts,sessions',
      ...(refs === undefined ? {} : { 'sluice.late.window.refs': refs }),
    },
  };
}

function replayOf(rows: MapRows, dryRun = false) {
  return new LateReplay(pipeline, compiledForTest(pipeline), rows, { dryRun });
}

describe('late replay', () => {
  it('merges a late event into the window its refs name, once per late-topic offset', async () => {
    const rows = new MapRows();
    const replay = replayOf(rows);
    await replay.replay(lateRecord(7, { type: 'view' }, `amounts@${MINUTE}`));
    await replay.replay(lateRecord(7, { type: 'view' }, `amounts@${MINUTE}`));
    await replay.replay(lateRecord(8, { type: 'view', value: 2 }, `amounts@${MINUTE}`));
    expect([...rows.rows.values()]).toEqual([
      {
        values: { count: 2, sum_value: 7 },
        lateApplied: '1:8',
        sourcePartition: 0,
        version: 2,
        commitInterval: 0,
      },
    ]);
    expect(replay.applied).toEqual(new Map([['amounts', 2]]));
    expect(replay.alreadyApplied).toBe(1);
    // Sessions are named, never merged.
    expect(replay.notApplied).toEqual(
      new Map([['sessions: a session window: a late event would have to extend or merge sessions', 3]]),
    );
  });

  it('writes nothing in a dry run', async () => {
    const rows = new MapRows();
    const replay = replayOf(rows, true);
    await replay.replay(lateRecord(7, { type: 'view' }, `amounts@${MINUTE}`));
    expect(rows.writes).toBe(0);
    expect(replay.applied).toEqual(new Map([['amounts', 1]]));
  });

  it('reports, and writes nothing for, what it cannot merge', async () => {
    const rows = new MapRows();
    const replay = replayOf(rows);
    await replay.replay(lateRecord(1, { type: 'view' }, undefined));
    await replay.replay(lateRecord(2, { type: 'gone' }, `amounts@${MINUTE}`));
    await replay.replay(lateRecord(3, { type: 'multi' }, `amounts@${MINUTE}`));
    await replay.replay(lateRecord(4, { type: 'bad' }, `amounts@${MINUTE}`));
    await replay.replay(lateRecord(5, { type: 'view' }, `amounts@${5 * MINUTE}`));
    expect(rows.writes).toBe(0);
    const amounts = [...replay.notApplied].filter(([id]) => id.startsWith('amounts: '));
    expect(amounts).toEqual([
      [`amounts: ${LATE_REASONS.noRefs}`, 1],
      [`amounts: ${LATE_REASONS.filtered}`, 1],
      [`amounts: ${LATE_REASONS.fanOut}`, 1],
      [`amounts: ${LATE_REASONS.failed} (split)`, 1],
      [`amounts: ${LATE_REASONS.otherTime}`, 1],
    ]);
  });
});
