// Fault scenario: a replay that computes something else than the attempt that crashed. Rows reach
// ClickHouse before their interval's transaction commits; here the first worker rarely commits (a
// commit interval of an hour) and is killed once rows have landed, then the replay differs:
// - a lookup table the windows group by changed between the attempts (plan free → pro): without
//   withdrawal, the crashed attempt's `free` rows stay beside the replay's `pro` rows;
// - a stage times out on the replay only (its records are dead-lettered): without withdrawal, the
//   crashed attempt's fuller rows outrank the replay's.
// The verdict: ClickHouse as users read it (the windows' views) holds exactly the replay's results,
// and the first attempt's for what it did commit: a rebalance forces a commit whatever the interval
// (a loaded machine makes one now and then), so the truth takes each partition's committed offset from
// the group after the kill: records below it count as the first attempt saw them.
// The windows are computed where their events are (every groupBy holds userId, declared the topic's
// key): a re-keyed window's rows come only from events its source partition committed to the
// repartition topic, so a replay there reads the very events the crashed attempt read.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import type { ClickHouseClient } from '@clickhouse/client';
import type { Kafka } from 'kafkajs';
import { createTopic, queryRows, uniqueName, waitFor } from '../integration/support/fixtures.js';
import { committedOffsets, type Produced } from '../integration/support/pipeline-truth.js';
import { useTestServices } from '../integration/support/services.js';
import { writeConfig } from '../integration/support/sluice-process.js';
import type { ReferenceDefinition } from '../support/window-reference.js';
import {
  DEFINITIONS,
  MemoryWatch,
  PARTITIONS,
  expectExact,
  faultPipeline,
  startProduction,
  verdict,
} from './fault-scenario.js';
import { FULL } from './scenario-report.js';

const SLICES = FULL ? 60 : 25;
const BY_PLAN: ReferenceDefinition = {
  name: 'by_plan_10s',
  type: 'tumbling',
  size: 10_000,
  groupBy: ['userId', 'plan'],
};

/** The scenarios' windows, each also grouped by userId: computed per source partition under keyedBy [userId]. */
const PER_USER: ReferenceDefinition[] = DEFINITIONS.map((d) =>
  d.groupBy.includes('userId') ? d : { ...d, groupBy: ['userId', ...d.groupBy] },
);

/** The last lines of a process's output. */
function tailOf(output: string, lines = 40): string {
  return output.trimEnd().split('\n').slice(-lines).join('\n');
}

describe('fault scenario: a replay that differs from the crashed attempt', () => {
  const services = useTestServices();
  let kafka: Kafka;
  let clickhouse: ClickHouseClient;
  beforeAll(() => ({ kafka, clickhouse } = services));

  /** A scenario's topic with the whole stream in it, its database, and a pipeline config maker. */
  async function setUp(prefix: string, seed: number) {
    const name = uniqueName(prefix);
    const topic = uniqueName(`${prefix}_events`);
    const database = uniqueName(prefix);
    await createTopic(kafka, topic, PARTITIONS);
    const production = startProduction(kafka, topic, { slices: SLICES, seed, intervalMs: 0 });
    await production.done;
    const config = (commitInterval: string, extra: Record<string, unknown>) => {
      const pipeline = faultPipeline({
        name,
        topic,
        database,
        brokers: inject('kafkaBrokers'),
        clickhouseUrl: inject('clickhouseUrl'),
      });
      const perUser = pipeline.windows.map((w) =>
        w.groupBy.includes('userId') ? w : { ...w, groupBy: ['userId', ...w.groupBy] },
      );
      return writeConfig({
        ...pipeline,
        source: { ...pipeline.source, keyedBy: ['userId'] },
        processing: { ...pipeline.processing, commitInterval },
        ...extra,
        windows: [...perUser, ...((extra.windows as object[] | undefined) ?? [])],
      });
    };
    return { name, topic, database, groupId: `sluice-${name}`, produced: production.state.produced, config };
  }

  /**
   * Runs the first attempt until `landed` holds in ClickHouse, then kills it. Returns a test of whether
   * it committed a record (below its partition's committed offset after the kill): such rows stay.
   */
  async function crashedAttempt(
    scenario: { topic: string; groupId: string },
    config: string,
    landed: () => Promise<boolean>,
    memory: MemoryWatch,
  ): Promise<(record: Produced) => boolean> {
    const first = services.start(['run', '--config', config]);
    memory.watch(first.child.pid);
    await waitFor('rows of the first attempt in ClickHouse', landed, (yes) => yes, 120_000);
    await first.stop('SIGKILL');
    const committed = await committedOffsets(kafka, scenario.groupId, scenario.topic);
    return (record) => record.offset < BigInt(committed[record.partition] ?? '-1');
  }

  /** How many records each partition had committed by the first attempt (the report's note). */
  const committedByFirst = (produced: readonly Produced[], committed: (record: Produced) => boolean) =>
    Array.from(
      { length: PARTITIONS },
      (_, p) => produced.filter((r) => r.partition === p && committed(r)).length,
    ).join(' / ');

  it('withdraws the crashed attempt’s rows when a lookup the windows group by changed', async () => {
    const scenario = await setUp('replay_lookup', 4711);
    const users = [...new Set(scenario.produced.map((p) => p.event!.userId))];
    const plans = `${scenario.database}.plans`;
    const fillPlans = async (plan: string) => {
      await clickhouse.command({ query: `CREATE DATABASE IF NOT EXISTS ${scenario.database}` });
      await clickhouse.command({ query: `DROP TABLE IF EXISTS ${plans}` });
      await clickhouse.command({
        query: `CREATE TABLE ${plans} (userId String, plan String) ENGINE = MergeTree ORDER BY userId`,
      });
      await clickhouse.insert({
        table: plans,
        values: users.map((userId) => ({ userId, plan })),
        format: 'JSONEachRow',
      });
    };
    const extra = {
      stages: [
        {
          name: 'plans',
          type: 'lookup',
          key: 'userId',
          from: { clickhouse: { table: plans, column: 'userId' } },
        },
      ],
      windows: [
        {
          name: 'by_plan_10s',
          type: 'tumbling',
          size: '10s',
          groupBy: ['userId', 'plan'],
          aggregations: [{ fn: 'sum', field: 'value' }],
        },
      ],
    };
    const memory = new MemoryWatch();
    await fillPlans('free');
    const freeRows = () =>
      queryRows<{ n: string }>(
        clickhouse,
        `SELECT count() AS n FROM ${scenario.database}.by_plan_10s WHERE plan = 'free'`,
      ).then((rows) => Number(rows[0]?.n ?? 0));
    const committedFirst = await crashedAttempt(
      scenario,
      scenario.config('1h', extra),
      async () => (await freeRows().catch(() => 0)) >= 10,
      memory,
    );
    const orphans = await freeRows();
    expect(orphans).toBeGreaterThan(0);
    // Not every record committed: else nothing is left to withdraw and the scenario proves nothing.
    expect(scenario.produced.every(committedFirst)).toBe(false);

    await fillPlans('pro');
    const replay = services.start(['run', '--config', scenario.config('300ms', extra)]);
    memory.watch(replay.child.pid);
    const produced: Produced[] = scenario.produced.map((p) => ({
      ...p,
      event: { ...p.event!, plan: committedFirst(p) ? 'free' : 'pro' } as Produced['event'],
    }));
    const result = await verdict({
      scenario: 'replay differs: lookup changed',
      kafka,
      clickhouse,
      topic: scenario.topic,
      database: scenario.database,
      groupId: scenario.groupId,
      produced,
      memory,
      definitions: [...PER_USER, BY_PLAN],
      perKey: false,
      notes: {
        'rows of the crashed attempt': orphans,
        'records the crashed attempt committed (p0 / p1 / p2)': committedByFirst(
          scenario.produced,
          committedFirst,
        ),
      },
    });
    // When it fails, what the replay did is the first thing to read.
    expectExact(result, `the replay's last log lines:\n${tailOf(replay.output())}`);
    // What remains `free` is exactly what the first attempt committed (the verdict counts it).
    if (!scenario.produced.some(committedFirst)) expect(await freeRows()).toBe(0);
    expect(replay.output()).toMatch(/"msg":"withdrew rows of commit intervals that never committed"/);
  });

  it('withdraws the crashed attempt’s fuller rows when a stage times out on the replay only', async () => {
    const scenario = await setUp('replay_timeout', 4712);
    // Two users' records never get through the stage on the replay: they are dead-lettered there.
    const slowUsers = [...new Set(scenario.produced.map((p) => p.event!.userId))].slice(0, 2);
    const dir = mkdtempSync(join(tmpdir(), 'sluice-replay-'));
    const stage = join(dir, 'flaky.mjs');
    writeFileSync(
      stage,
      [
        "const slow = new Set((process.env.SLUICE_TEST_SLOW_USERS ?? '').split(',').filter(Boolean));",
        'export default (record) => (slow.has(record.value.userId) ? new Promise(() => {}) : record.value);',
      ].join('\n'),
    );
    const extra = {
      stages: [{ name: 'flaky', module: stage, timeout: '100ms', retry: { max: 0 }, onError: 'dead-letter' }],
    };
    const memory = new MemoryWatch();
    const sessions = () =>
      queryRows<{ n: string }>(clickhouse, `SELECT count() AS n FROM ${scenario.database}.by_type_10s`)
        .then((rows) => Number(rows[0]?.n ?? 0))
        .catch(() => 0);
    const committedFirst = await crashedAttempt(
      scenario,
      scenario.config('1h', extra),
      async () => (await sessions()) >= 10,
      memory,
    );
    expect(scenario.produced.every(committedFirst)).toBe(false);

    const replay = services.start(['run', '--config', scenario.config('300ms', extra)], {
      SLUICE_TEST_SLOW_USERS: slowUsers.join(','),
    });
    memory.watch(replay.child.pid);
    // The slow users' records the first attempt committed stay counted; the rest are dead-lettered.
    const kept = scenario.produced.filter((p) => committedFirst(p) || !slowUsers.includes(p.event!.userId));
    const result = await verdict({
      scenario: 'replay differs: a stage times out on the replay',
      kafka,
      clickhouse,
      topic: scenario.topic,
      database: scenario.database,
      groupId: scenario.groupId,
      produced: kept,
      memory,
      deadLetters: scenario.produced.length - kept.length,
      definitions: PER_USER,
      perKey: false,
      notes: {
        'records timed out on the replay': scenario.produced.length - kept.length,
        'records the crashed attempt committed (p0 / p1 / p2)': committedByFirst(
          scenario.produced,
          committedFirst,
        ),
      },
    });
    // When it fails, what the replay did is the first thing to read.
    expectExact(result, `the replay's last log lines:\n${tailOf(replay.output())}`);
    expect(result.report.deadLetters).toBe(scenario.produced.length - kept.length);
    expect(replay.output()).toMatch(/"msg":"withdrew rows of commit intervals that never committed"/);
  });
});
