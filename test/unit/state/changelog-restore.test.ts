// A partition's windows written to the changelog (as compaction leaves it: the last record per key,
// tombstones dropped) and read back by a new process carry on exactly as if nothing had happened: the
// same rows with the same values, offsets and versions, for every window type, over random streams;
// from the binary records written now and from the JSON ones earlier versions wrote.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { PipelineInput } from '../../../src/config/schema.js';
import { validatePipeline } from '../../../src/config/validate.js';
import {
  CHECKPOINT_KEY,
  decodeCheckpoint,
  encodeCheckpoint,
  readWindowRecord,
} from '../../../src/state/changelog-codec.js';
import type { PartitionWindows } from '../../../src/windows/partition-windows.js';
import type { WindowResult } from '../../../src/windows/window-result.js';
import { partitionWindowsOf } from '../../support/partition-windows.js';

const aggregations = [
  { fn: 'sum' as const, field: 'value' },
  { fn: 'max' as const, field: 'value' },
  { fn: 'count_distinct' as const, field: 'user', exactUpTo: 2 },
];

function pipelineWith(aggregations: PipelineInput['windows'][number]['aggregations']) {
  return validatePipeline({
    name: 'p',
    time: { maxOutOfOrderness: 2_000, grace: 1_000, idleTimeout: '1h' },
    windows: [
      { name: 'tumbling', type: 'tumbling', size: '10s', groupBy: ['key'], aggregations, maxKeys: 2 },
      {
        name: 'sliding',
        type: 'sliding',
        size: '10s',
        advance: '5s',
        groupBy: ['key'],
        aggregations,
        maxKeys: 2,
        onKeyCap: 'other',
      },
      { name: 'session', type: 'session', gap: 3_000, groupBy: ['key'], aggregations },
    ],
  } satisfies PipelineInput);
}

const pipeline = pipelineWith(aggregations);
/** Without count_distinct, whose state alone grows: the store restores such windows in place. */
const fixedSizePipeline = pipelineWith(aggregations.slice(0, 2));

interface Ev {
  t: number;
  key: string;
  value: number;
  user: string;
}

const evArb: fc.Arbitrary<Ev> = fc.record({
  t: fc.integer({ min: 0, max: 120 }).map((n) => n * 500),
  key: fc.constantFrom('a', 'b', 'c'),
  value: fc.integer({ min: -50, max: 50 }),
  user: fc.constantFrom('u1', 'u2', 'u3'),
});

/** Feeds events from `offset` on, closing what is due after each; returns every row handed out. */
function feed(windows: PartitionWindows<Buffer>, events: readonly Ev[], offset: number): WindowResult[] {
  const rows: WindowResult[] = [];
  events.forEach((ev, i) => {
    windows.absorb({ value: ev, eventTimeMs: ev.t }, BigInt(offset + i), 0);
    rows.push(...windows.closeDue(0, false));
  });
  return rows;
}

/** Rows in a canonical order: by definition, window, key and version. */
function inRowOrder(rows: readonly WindowResult[]): WindowResult[] {
  const id = (r: WindowResult) =>
    [
      r.definition,
      String(r.window.end).padStart(16, '0'),
      String(r.window.start).padStart(16, '0'),
      r.key.join('\u0000'),
      String(r.version).padStart(12, '0'),
    ].join('|');
  return [...rows].sort((a, b) => (id(a) < id(b) ? -1 : id(a) > id(b) ? 1 : 0));
}

function jsonV1(record: ReturnType<typeof readWindowRecord>): string {
  const { firstOffset, lastOffset, ...rest } = record;
  return JSON.stringify({ v: 1, ...rest, firstOffset: String(firstOffset), lastOffset: String(lastOffset) });
}

describe('the changelog round trip', () => {
  it.each([
    ['with count_distinct', pipeline],
    ['without count_distinct', fixedSizePipeline],
  ])('restores every open window so that the rest of the stream gives the same rows (%s)', (_, pipeline) => {
    fc.assert(
      fc.property(
        fc.array(evArb, { maxLength: 60 }),
        fc.array(evArb, { maxLength: 60 }),
        fc.integer({ min: 1, max: 4 }),
        fc.boolean(),
        (before, after, snapshots, legacy) => {
          const original = partitionWindowsOf(pipeline);
          // The compacted topic: the last record per key, a tombstone removing its key. And the log as
          // written, before compaction: every record, tombstones too, in order.
          const topic = new Map<string, Buffer | string>();
          const log: [string, Buffer | null][] = [];
          const write = () => {
            for (const [key, value] of original.takeChangelog()) {
              log.push([key, value]);
              if (value === null) topic.delete(key);
              else topic.set(key, value);
            }
          };
          // Snapshots at a few points, as commits would take them.
          const chunk = Math.max(1, Math.ceil(before.length / snapshots));
          for (let i = 0; i < before.length; i += chunk) {
            feed(original, before.slice(i, i + chunk), i);
            original.takePending();
            write();
          }
          const checkpoint = decodeCheckpoint(
            encodeCheckpoint({
              offset: BigInt(before.length),
              watermark: original.watermark.snapshot(),
              interval: 1,
            }),
          );
          topic.set(CHECKPOINT_KEY, 'unused here');
          // As version 1 wrote them: JSON, offsets as strings.
          if (legacy)
            for (const [key, value] of topic)
              if (key !== CHECKPOINT_KEY) topic.set(key, jsonV1(readWindowRecord(value)));

          const restored = partitionWindowsOf(pipeline);
          expect(restored.restore(topic, checkpoint, 0)).toEqual([]);
          // Rebuilt as a restore reads the log: each record replacing its key's window, tombstones
          // removing it. The same windows as from the compacted topic.
          const fromLog = partitionWindowsOf(pipeline);
          const rebuild = fromLog.rebuilding();
          for (const [key, value] of log)
            if (value === null) rebuild.remove(key);
            else rebuild.put(key, legacy ? jsonV1(readWindowRecord(value)) : value);
          fromLog.resume(checkpoint, 0);
          expect(rebuild.problems(new Set())).toEqual([]);
          for (const windows of [restored, fromLog]) {
            expect(windows.openWindows).toBe(original.openWindows);
            expect(windows.stateBytes).toBe(original.stateBytes);
            // Nothing restored counts as changed: the next snapshot writes only what changes next.
            expect(windows.takeChangelog().size).toBe(0);
          }

          const expected = feed(original, after, before.length).concat(original.closeDue(0, true));
          // The same rows; windows that close together may come in another order (seed 661427749:
          // two sessions ending at once), which no sink depends on.
          for (const windows of [restored, fromLog]) {
            const got = feed(windows, after, before.length).concat(windows.closeDue(0, true));
            expect(inRowOrder(got)).toEqual(inRowOrder(expected));
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('names the windows it cannot restore: a definition gone, or its aggregations changed', () => {
    const original = partitionWindowsOf(pipeline);
    feed(original, [{ t: 0, key: 'a', value: 1, user: 'u1' }], 0);
    const topic = new Map(
      [...original.takeChangelog()].filter((entry): entry is [string, Buffer] => entry[1] !== null),
    );
    // The same pipeline after an edit: `sliding` removed, `tumbling` with one aggregation fewer.
    const edited = validatePipeline({
      name: 'p',
      time: { maxOutOfOrderness: 2_000, grace: 1_000, idleTimeout: '1h' },
      windows: [
        {
          name: 'tumbling',
          type: 'tumbling',
          size: '10s',
          groupBy: ['key'],
          aggregations: aggregations.slice(1),
        },
        { name: 'session', type: 'session', gap: 3_000, groupBy: ['key'], aggregations },
      ],
    });
    const restored = partitionWindowsOf(edited);
    const problems = restored.restore(topic, undefined, 0);
    expect(problems.filter((p) => p === 'window definition sliding no longer exists')).toHaveLength(2);
    expect(
      problems.filter((p) => p.startsWith('window definition tumbling changed its aggregations')),
    ).toHaveLength(1);
    expect(problems).toHaveLength(3);
    // What still fits comes back.
    expect(restored.openWindows).toBe(1);
  });

  it('forgets a window it could not restore once a later tombstone removes it, as compaction would', () => {
    const original = partitionWindowsOf(pipeline);
    feed(original, [{ t: 0, key: 'a', value: 1, user: 'u1' }], 0);
    const written = [...original.takeChangelog()].filter(
      (entry): entry is [string, Buffer] => entry[1] !== null,
    );
    const withoutSliding = validatePipeline({
      name: 'p',
      time: { maxOutOfOrderness: 2_000, grace: 1_000, idleTimeout: '1h' },
      windows: pipeline.windows.filter((w) => w.name !== 'sliding'),
    });
    const restored = partitionWindowsOf(withoutSliding);
    const rebuild = restored.rebuilding();
    for (const [key, value] of written) rebuild.put(key, value);
    expect(rebuild.problems(new Set())).toEqual([
      'window definition sliding no longer exists',
      'window definition sliding no longer exists',
    ]);
    // The sliding windows' tombstones, and the tumbling one's: gone from the problems and the store.
    for (const [key] of written) if (key.includes('sliding') || key.includes('tumbling')) rebuild.remove(key);
    expect(rebuild.problems(new Set())).toEqual([]);
    expect(restored.openWindows).toBe(1);
  });

  it('leaves out the windows of retired definitions quietly', () => {
    const original = partitionWindowsOf(pipeline);
    feed(original, [{ t: 0, key: 'a', value: 1, user: 'u1' }], 0);
    const topic = new Map(
      [...original.takeChangelog()].filter((entry): entry is [string, Buffer] => entry[1] !== null),
    );
    const withoutSliding = validatePipeline({
      name: 'p',
      time: { maxOutOfOrderness: 2_000, grace: 1_000, idleTimeout: '1h' },
      windows: pipeline.windows.filter((w) => w.name !== 'sliding'),
    });
    const restored = partitionWindowsOf(withoutSliding);
    expect(restored.restore(topic, undefined, 0, new Set(['sliding']))).toEqual([]);
    expect(restored.openWindows).toBe(2);
  });

  it('keeps the definitions, group and source positions a checkpoint names, and reads checkpoints without them', () => {
    const checkpoint = {
      offset: 42n,
      watermark: { value: 1_000, fromEvents: 900 },
      interval: 3,
      definitions: { tumbling: '["tumbling",10000,10000,0,["key"],[["sum","value"]],"final"]' },
      group: 'sluice-p',
      sourcePositions: { '0|["url"]': 17, '3|["type","url"]': 2 ** 40 },
    };
    expect(decodeCheckpoint(encodeCheckpoint(checkpoint))).toEqual(checkpoint);
    const older = decodeCheckpoint(JSON.stringify({ v: 1, offset: '7', watermark: null, fromEvents: null }));
    expect(older.definitions).toBeUndefined();
    expect(older.group).toBeUndefined();
    expect(older.sourcePositions).toBeUndefined();
    expect(older.interval).toBe(0);
  });
});
