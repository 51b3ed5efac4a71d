// Changing a running pipeline, against the real broker and ClickHouse, as an operator does it with the
// CLI: a window edited under its name (aggregation, size, groupBy) is refused at start-up, by the
// ClickHouse table it writes to and by its restored state, each saying what changed; a change that
// does not alter meaning starts; a removed window is warned about until `sluice state drop-window`;
// offsets moved behind the checkpoint by another tool and a second deployment under the same name are
// refused; `sluice reset` refuses while a member runs, and after it a restart recomputes every window
// exactly, under a changed definition too.
import type { ClickHouseClient } from '@clickhouse/client';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Kafka } from 'kafkajs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { PipelineInput } from '../../../src/config/schema.js';
import { definePipeline, run } from '../../../src/index.js';
import { createTopic, queryRows, uniqueName, waitFor } from '../support/fixtures.js';
import { captureLog } from '../support/log-capture.js';
import { tumblingWindowOf } from '../../../src/windows/tumbling.js';
import {
  countKey,
  countingPipeline,
  countsIn,
  groundTruth,
  produceEvents,
  waitForCommits,
  withProducer,
  type Produced,
} from '../support/pipeline-truth.js';
import { useTestServices } from '../support/services.js';
import { runSluice, startSluice, writeConfig } from '../support/sluice-process.js';
import { setGroupOffsets } from '../../../src/source/topic-admin.js';

const PARTITIONS = 2;
const BASE = Date.UTC(2026, 4, 1, 10);
const MINUTE = 60_000;

type Window = Record<string, unknown>;

/** The counting pipeline with the window(s) given; `views` (1 m by type and url, min of value) by default. */
function pipelineOf(
  base: { name: string; topic: string; database: string; idleTimeout: string },
  windows: Window[] = [views()],
  extra: Record<string, unknown> = {},
): PipelineInput {
  return { ...countingPipeline(base), windows, ...extra } as PipelineInput;
}

function views(overrides: Window = {}): Window {
  return {
    name: 'views',
    type: 'tumbling',
    size: '1m',
    groupBy: ['type', 'url'],
    aggregations: [{ fn: 'min', field: 'value' }],
    ...overrides,
  };
}

/** `sluice run` until it exits by itself (a refusal), or fails the test after the timeout. */
async function refusedRun(config: unknown, timeoutMs = 60_000): Promise<string> {
  const process = startSluice(['run', '--config', writeConfig(config)]);
  const timer = setTimeout(() => void process.stop('SIGKILL'), timeoutMs);
  const code = await new Promise<number | null>((resolve) => process.child.once('exit', resolve));
  clearTimeout(timer);
  expect(code, process.output()).toBe(1);
  return process.output();
}

describe('changing a pipeline', () => {
  const services = useTestServices();
  let kafka: Kafka;
  let clickhouse: ClickHouseClient;
  beforeAll(() => ({ kafka, clickhouse } = services));

  /**
   * Every window here groups by more than the topic's key: their state is the re-keyed side's, which
   * commits on its own, after the source side. It has committed all it read once every partition has
   * read to its end and its committed offset stays put over two commit intervals (a partition that
   * read past its last commit commits every interval).
   */
  async function rekeyedSideCommitted(pipeline: Awaited<ReturnType<typeof run>>): Promise<void> {
    const committed = () =>
      (pipeline.pipelineStatus().rekeyed?.partitions ?? []).map((p) =>
        p.lag === 0 ? p.committedOffset : null,
      );
    await waitFor(
      'the re-keyed side to commit all it read',
      async () => {
        const before = committed();
        await sleep(2_500);
        return { before, after: committed() };
      },
      ({ before, after }) =>
        after.length === PARTITIONS &&
        after.every((offset) => offset !== null) &&
        JSON.stringify(before) === JSON.stringify(after),
      60_000,
    );
  }

  /**
   * A topic with events whose windows stay open (idle timeout an hour), read and committed by `views`
   * on both sides (the source's offsets, the re-keyed windows' state).
   */
  async function withOpenState(prefix: string, windows: Window[] = [views()]) {
    const base = {
      name: uniqueName(prefix),
      topic: uniqueName(`${prefix}_events`),
      database: uniqueName(prefix),
      idleTimeout: '1h',
    };
    await createTopic(kafka, base.topic, PARTITIONS);
    const produced = await withProducer(kafka, (producer) =>
      produceEvents(producer, base.topic, {
        partitions: PARTITIONS,
        perPartition: 150,
        base: BASE,
        span: 10 * MINUTE,
        seed: 19,
      }),
    );
    const first = await run(definePipeline(pipelineOf(base, windows)), { logger: captureLog().logger });
    await waitForCommits(kafka, `sluice-${base.name}`, base.topic, produced);
    await rekeyedSideCommitted(first);
    await first.stop();
    return { base, produced };
  }

  it('refuses a window changed in meaning, by its table and by its state, and starts on a change that alters none', async () => {
    const { base } = await withOpenState('changed');
    const changes: [Window, string][] = [
      [views({ aggregations: [{ fn: 'max', field: 'value' }] }), 'aggregations: [min(value)] → [max(value)]'],
      [views({ size: '2m' }), 'size: 60s → 120s'],
      [views({ groupBy: ['type'] }), 'groupBy: [type, url] → [type]'],
    ];
    for (const [window, difference] of changes) {
      // The table the rows went to knows what they mean.
      const byTable = await refusedRun(pipelineOf(base, [window]));
      expect(byTable).toContain(`ClickHouse table ${base.database}.views holds rows of window views`);
      expect(byTable).toContain(difference);
      expect(byTable).toContain('new name');
      // A fresh database has no such table: the restored state refuses in its turn, before any processing.
      const byState = await refusedRun(pipelineOf({ ...base, database: uniqueName('fresh') }, [window]));
      expect(byState).toMatch(/refusing to restore partition \d from changelog/);
      expect(byState).toContain(`Window views: ${difference}`);
      expect(byState).toContain('sluice reset');
    }
    // A larger key cap, another update cadence and other batching change no row's meaning.
    const log = captureLog();
    const same = await run(
      definePipeline(
        pipelineOf(base, [views({ maxKeys: 50_000 })], {
          sinks: {
            clickhouse: {
              url: countingPipeline(base).sinks.clickhouse.url,
              database: base.database,
              batch: { maxSize: 77 },
            },
          },
        }),
      ),
      { logger: log.logger },
    );
    await waitFor('the restore', () => Promise.resolve(same.isReady()), Boolean, 30_000);
    await same.stop();
    expect(log.lines().filter((l) => /refusing|changed meaning/.test(String(l.msg)))).toEqual([]);
  });

  it('warns about a removed window at every start until its state is dropped, which a running member prevents', async () => {
    const byType = {
      name: 'by_type',
      type: 'tumbling',
      size: '1m',
      groupBy: ['type'],
      aggregations: [{ fn: 'sum', field: 'value' }],
    };
    const { base } = await withOpenState('removed', [views(), byType]);
    const removedWarning = /window by_type was removed from the pipeline.*sluice state drop-window by_type/;
    const start = async () => {
      const log = captureLog();
      const pipeline = await run(definePipeline(pipelineOf(base, [views()])), { logger: log.logger });
      // Ready with every partition restored: the previous member may still hold a place in the group,
      // so a first assignment can come without partitions (ready at once, nothing restored yet).
      await waitFor(
        'the restore of every partition',
        () => Promise.resolve(pipeline.isReady() && pipeline.status().length === PARTITIONS),
        Boolean,
        60_000,
      );
      return {
        pipeline,
        warnings: () => log.lines().filter((l) => removedWarning.test(String(l.msg))),
        // What the start did, when a warning is missing.
        tail: () => log.tail(40),
      };
    };
    const config = writeConfig(pipelineOf(base, [views()]));

    const first = await start();
    expect(first.warnings(), first.tail()).toHaveLength(1);
    // Not while a member runs: it would write over the state that member holds.
    const busy = await runSluice(['state', 'drop-window', 'by_type', '--config', config]);
    expect(busy.code).toBe(1);
    expect(busy.output).toMatch(/consumer group sluice-removed_\w+ has 1 member\(s\) running: \S+ on /);
    await first.pipeline.stop();

    const second = await start();
    expect(second.warnings(), second.tail()).toHaveLength(1);
    await second.pipeline.stop();

    const still = await runSluice(['state', 'drop-window', 'views', '--config', config]);
    expect(still.output).toContain('window views is still defined in the pipeline');
    const drop = await runSluice(['state', 'drop-window', 'by_type', '--config', config]);
    expect(drop.code, drop.output).toBe(0);
    expect(drop.output).toMatch(/dropped \d+ open window\(s\) of by_type from 2 partition\(s\)/);

    const third = await start();
    expect(third.warnings()).toEqual([]);
    await third.pipeline.stop();
  });

  it('refuses offsets moved behind the checkpoint by another tool, and a second deployment under the same name', async () => {
    const { base } = await withOpenState('moved');
    // What kafka-consumer-groups --reset-offsets does: the group's offset moved, the state left alone.
    await setGroupOffsets(kafka, `sluice-${base.name}`, base.topic, new Map([[0, 0n]]));
    const moved = await refusedRun(pipelineOf(base));
    expect(moved).toMatch(
      /refusing to restore partition 0: group sluice-moved_\w+ has offset 0 committed, behind the state's checkpoint at \d+/,
    );
    expect(moved).toContain('sluice reset');

    const other = countingPipeline(base);
    const blue = await refusedRun({
      ...pipelineOf(base),
      source: { ...other.source, groupId: `${other.source.groupId}-blue` },
    });
    expect(blue).toMatch(
      /consumer group sluice-moved_\w+ wrote it, and this member is in group sluice-moved_\w+-blue/,
    );
  });

  it('resets to reprocess: refused while a member runs; then every window recomputed exactly, under a changed size too', async () => {
    const base = {
      name: uniqueName('reset'),
      topic: uniqueName('reset_events'),
      database: uniqueName('reset'),
      // Short: every window closes once the stream is read, so the first run lands final rows.
      idleTimeout: '2s',
    };
    await createTopic(kafka, base.topic, PARTITIONS);
    const produced: Produced[] = await withProducer(kafka, (producer) =>
      produceEvents(producer, base.topic, {
        partitions: PARTITIONS,
        perPartition: 200,
        base: BASE,
        span: 10 * MINUTE,
        seed: 23,
      }),
    );
    const oneMinute = groundTruth(produced);
    const twoMinutes = groundTruth(produced, () => true, 2 * MINUTE);
    const countedAll = (expected: Record<string, number>) =>
      waitFor(
        'every window in ClickHouse',
        () => countsIn(clickhouse, base.database),
        (counts) => JSON.stringify(sorted(counts)) === JSON.stringify(sorted(expected)),
        90_000,
      ).catch(() => countsIn(clickhouse, base.database));

    const first = await run(definePipeline(pipelineOf(base)), { logger: captureLog().logger });
    expect(await countedAll(oneMinute)).toEqual(sorted(oneMinute));
    const config = writeConfig(pipelineOf(base, [views({ size: '2m' })]));
    const busy = await runSluice(['reset', '--config', config, '--to-earliest']);
    expect(busy.code).toBe(1);
    expect(busy.output).toContain('has 1 member(s) running');
    await first.stop();

    // The size changed: refused until reset, then recomputed from the start with the new meaning.
    expect(await refusedRun(pipelineOf(base, [views({ size: '2m' })]))).toContain('size: 60s → 120s');
    const reset = await runSluice(['reset', '--config', config, '--to-earliest', '--delete-results']);
    expect(reset.code, reset.output).toBe(0);
    expect(reset.output).toMatch(/partition 0: offset 200 -> 0, \d+ open window\(s\) dropped/);
    expect(reset.output).toMatch(/deleted \d+ row\(s\) from \w+\.views/);
    const again = await run(definePipeline(pipelineOf(base, [views({ size: '2m' })])), {
      logger: captureLog().logger,
    });
    try {
      expect(await countedAll(twoMinutes)).toEqual(sorted(twoMinutes));
      const sizes = await queryRows<{ seconds: string }>(
        clickhouse,
        `SELECT DISTINCT toString(window_end - window_start) AS seconds FROM ${base.database}.views`,
      );
      expect(sizes).toEqual([{ seconds: '120' }]);
    } finally {
      await again.stop();
    }

    // A reprocess of part of the topic whose rows differ (a stage now filters by country; no window
    // changed), from offset 100 of each partition, rows kept: a window with records from there on is
    // recomputed from them alone and its new row replaces the old one (it has a higher version though
    // its count is lower); every other row stays as it was.
    const CUT = 100n;
    const kept = ['US', 'DE', 'JP'];
    const filtered = pipelineOf(base, [views({ size: '2m' })], {
      stages: [{ name: 'some_countries', type: 'filter', field: 'country', in: kept }],
    });
    const perRow = new Map<string, { key: string; all: number; after: number; keptAfter: number }>();
    for (const p of produced) {
      const e = p.event!;
      const key = countKey(tumblingWindowOf(e.timestamp, 2 * MINUTE).start, e.type, e.url);
      // The window is re-keyed (no source.keyedBy): one row per window and key, over both partitions.
      const row = perRow.get(key) ?? { key, all: 0, after: 0, keptAfter: 0 };
      row.all += 1;
      if (p.offset >= CUT) row.after += 1;
      if (p.offset >= CUT && kept.includes(e.country)) row.keptAfter += 1;
      perRow.set(key, row);
    }
    const partly: Record<string, number> = {};
    for (const row of perRow.values())
      partly[row.key] = (partly[row.key] ?? 0) + (row.keptAfter > 0 ? row.keptAfter : row.all);
    expect(partly).not.toEqual(twoMinutes);
    const second = await runSluice([
      'reset',
      '--config',
      writeConfig(filtered),
      '--to-offsets',
      '0=100,1=100',
    ]);
    expect(second.code, second.output).toBe(0);
    expect(second.output).toContain('partition 1: offset 200 -> 100');
    const third = await run(definePipeline(filtered), { logger: captureLog().logger });
    try {
      expect(await countedAll(partly)).toEqual(sorted(partly));
    } finally {
      await third.stop();
    }
  });
});

function sorted(counts: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(counts).sort(([a], [b]) => a.localeCompare(b)));
}
