// Fault scenario: a replicated ClickHouse cluster (sinks.clickhouse.cluster). Two ClickHouse 18.16
// replicas of one shard, coordinated by ZooKeeper; Sluice talks to r1 and makes its tables ON CLUSTER
// (replicated storage under Distributed tables). Mid-stream, replica r2 is stopped; while it is down,
// Sluice is SIGKILLed and started again, so its restore withdraws the killed attempt's uncommitted rows
// with one replica out of reach; then r2 starts again on its data and catches up from the replication
// log. Every window must be exact read from r1's views and from r2's, against the independent truth.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client';
import type { Kafka } from 'kafkajs';
import { startClickHouse, type ClickHouseStartOptions } from '../../src/tools/stack/clickhouse-server.js';
import type { ClickHouseState } from '../../src/tools/stack/stack-state.js';
import { STACK_CLUSTER, planClickHouseServers } from '../../src/tools/stack/local-stack.js';
import { freePorts } from '../../src/tools/stack/ports.js';
import { stopProcess } from '../../src/tools/stack/processes.js';
import { startZooKeeper } from '../../src/tools/stack/zookeeper-server.js';
import { queryRows, uniqueName, waitFor } from '../integration/support/fixtures.js';
import { runSluice, writeConfig } from '../integration/support/sluice-process.js';
import { useTestServices } from '../integration/support/services.js';
import {
  MemoryWatch,
  PARTITIONS,
  expectExact,
  faultPipeline,
  scenarioPipeline,
  startProduction,
  verdict,
} from './fault-scenario.js';
import { FULL } from './scenario-report.js';
import { windowStatus } from './worker-status.js';

const DOWN_MS = FULL ? 30_000 : 15_000;
/** The stream runs 8 s before r2 stops, through its outage, and 10 s after. */
const SLICES = Math.ceil((DOWN_MS + 18_000) / 200);

describe('fault scenario: a replicated ClickHouse cluster', () => {
  const services = useTestServices();
  let kafka: Kafka;
  const cleanups: (() => Promise<unknown>)[] = [];
  let plans: ClickHouseStartOptions[];
  let servers: ClickHouseState[];
  let r1: ClickHouseClient;
  let r2: ClickHouseClient;
  beforeAll(async () => {
    ({ kafka } = services);
    const dir = await mkdtemp(join(tmpdir(), 'sluice-ch-cluster-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const [zookeeperPort] = (await freePorts(1)) as [number];
    const zookeeper = await startZooKeeper({ dir: join(dir, 'zookeeper'), port: zookeeperPort });
    cleanups.push(() => stopProcess(zookeeper.pid, 5_000));
    plans = await planClickHouseServers({ dir, count: 2, zookeeperPort });
    servers = await Promise.all(plans.map((plan) => startClickHouse(plan)));
    cleanups.push(() => Promise.all(servers.map((server) => stopProcess(server.pid, 5_000))));
    [r1, r2] = servers.map((server) => {
      const client = createClient({ url: server.url, log: { level: ClickHouseLogLevel.OFF } });
      cleanups.push(() => client.close());
      return client;
    }) as [ClickHouseClient, ClickHouseClient];
  }, 180_000);
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  });

  it('migrates ON CLUSTER, applies {on_cluster} migrations once, and refuses what does not fit', async () => {
    const database = uniqueName('cluster_migrate');
    const migrations = await mkdtemp(join(tmpdir(), 'sluice-cluster-migrations-'));
    cleanups.push(() => rm(migrations, { recursive: true, force: true }));
    await writeFile(
      join(migrations, '001_regions.sql'),
      'CREATE TABLE {database}.regions_local {on_cluster} (country String, region String)\n' +
        "ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/regions_local', '{replica}')\n" +
        'ORDER BY country;\n',
    );
    const pipeline = (clickhouse: Record<string, unknown>, db = database) =>
      writeConfig(
        faultPipeline({
          name: db,
          topic: `${db}_events`,
          database: db,
          brokers: inject('kafkaBrokers'),
          clickhouseUrl: servers[0]!.url,
          clickhouse,
        }),
      );
    const onCluster = pipeline({ cluster: STACK_CLUSTER, migrations });
    const first = await runSluice(['migrate', '--config', onCluster]);
    expect(first.code, first.output).toBe(0);
    expect(first.output).toContain(`tables ON CLUSTER ${STACK_CLUSTER}`);
    expect(first.output).toContain('applied 001_regions.sql');
    const tables = (client: ClickHouseClient) =>
      queryRows<{ name: string; engine: string }>(
        client,
        `SELECT name, engine FROM system.tables WHERE database = '${database}' ORDER BY name`,
      ).then((rows) => Object.fromEntries(rows.map((r) => [r.name, r.engine])));
    const made = await tables(r1);
    expect(made).toMatchObject({
      sessions: 'View',
      sessions_rows: 'Distributed',
      sessions_rows_local: 'ReplicatedReplacingMergeTree',
      sluice_windows: 'Distributed',
      sluice_windows_local: 'ReplicatedReplacingMergeTree',
      sluice_migrations: 'Distributed',
      sluice_migrations_local: 'ReplicatedMergeTree',
      regions_local: 'ReplicatedMergeTree',
    });
    expect(await tables(r2)).toEqual(made);
    const again = await runSluice(['migrate', '--config', onCluster]);
    expect(again.output).toContain('is up to date');

    // A cluster the servers do not know: refused, naming the field and the clusters there are.
    const unknown = await runSluice(['migrate', '--config', pipeline({ cluster: 'elsewhere' })]);
    expect(unknown.code).not.toBe(0);
    expect(unknown.output).toContain(
      `sinks.clickhouse.cluster: expected a cluster of the server's remote_servers, found "elsewhere"`,
    );
    expect(unknown.output).toContain(`knows ${STACK_CLUSTER}`);
    // Tables made for the cluster, written without it: refused rather than queued unacknowledged.
    const alone = await runSluice(['migrate', '--config', pipeline({})]);
    expect(alone.code).not.toBe(0);
    expect(alone.output).toContain(
      `ClickHouse table ${database}.by_type_10s_rows (window by_type_10s) is a Distributed table, made for a cluster: set sinks.clickhouse.cluster`,
    );
    // And the other way round: a database made on one server, then written with the cluster.
    const single = uniqueName('single');
    const alone1 = await runSluice(['migrate', '--config', pipeline({}, single)]);
    expect(alone1.code, alone1.output).toBe(0);
    const refused = await runSluice(['migrate', '--config', pipeline({ cluster: STACK_CLUSTER }, single)]);
    expect(refused.code).not.toBe(0);
    expect(refused.output).toContain(
      `ClickHouse table ${single}.by_type_10s_rows (window by_type_10s) is a ReplacingMergeTree table on this server alone`,
    );
  });

  it(
    `is exact on either replica when one is down for ${DOWN_MS / 1000} s and Sluice crashes meanwhile`,
    async () => {
      const [statusPort] = (await freePorts(1)) as [number];
      const { topic, database, groupId, config } = await scenarioPipeline(kafka, 'cluster', {
        brokers: inject('kafkaBrokers'),
        clickhouseUrl: servers[0]!.url,
        httpPort: statusPort,
        clickhouse: { cluster: STACK_CLUSTER },
        // Intervals of 5 s: the sink's rows (flushed within 1 s) stay uncommitted for seconds, so a crash
        // mid-interval leaves rows for the next attempt to withdraw.
        extra: { processing: { guarantee: 'exactly-once', commitInterval: '5s' } },
      });
      const memory = new MemoryWatch();
      let sluice = services.start(['run', '--config', config], { SLUICE_LOG_LEVEL: 'debug' });
      memory.watch(sluice.child.pid);
      await waitFor(
        'the worker to own every partition',
        () => windowStatus(statusPort),
        (s) => s.length === PARTITIONS,
      );
      // The tables are replicated under Distributed ones, on both servers.
      const engines = (client: ClickHouseClient) =>
        queryRows<{ name: string; engine: string }>(
          client,
          `SELECT name, engine FROM system.tables WHERE database = '${database}' AND name LIKE 'sessions%'`,
        ).then((rows) => Object.fromEntries(rows.map((r) => [r.name, r.engine])));
      const expected = {
        sessions: 'View',
        sessions_rows: 'Distributed',
        sessions_rows_local: 'ReplicatedReplacingMergeTree',
      };
      expect(await engines(r1)).toEqual(expected);
      expect(await engines(r2)).toEqual(expected);

      const production = startProduction(kafka, topic, { slices: SLICES, seed: 5150 });
      await sleep(8_000);
      await stopProcess(servers[1]!.pid, 5_000);
      const downAt = Date.now();
      // A crash while r2 is down, mid-interval (rows of it in ClickHouse, its transaction not committed):
      // the next attempt withdraws them with r2 out of reach. Again, until one does.
      let withdrawals = 0;
      for (let kill = 1; kill <= 4 && withdrawals === 0; kill += 1) {
        await sluice.next(/"msg":"committed"/);
        await sleep(2_500);
        await sluice.stop('SIGKILL');
        sluice = services.start(['run', '--config', config], { SLUICE_LOG_LEVEL: 'debug' });
        memory.watch(sluice.child.pid);
        const restarted = sluice;
        // The windows' partitions show once restored, and a restore withdraws before it ends.
        await waitFor(
          'the restarted worker to restore every partition',
          () => windowStatus(statusPort).catch(() => []),
          (s) => s.length === PARTITIONS,
          120_000,
        );
        withdrawals =
          restarted.output().match(/"msg":"withdrew rows of commit intervals that never committed"/g)
            ?.length ?? 0;
      }
      expect(withdrawals, 'a restart that withdrew rows while r2 was down').toBeGreaterThan(0);
      while (Date.now() - downAt < DOWN_MS) await sleep(250);
      servers[1] = await startClickHouse(plans[1]!);
      await production.done;

      const notes = { 'r2 down s': DOWN_MS / 1000, 'withdrawals while r2 was down': withdrawals };
      const common = { kafka, topic, database, groupId, produced: production.state.produced, memory, notes };
      const onR1 = await verdict({
        ...common,
        scenario: 'replicated ClickHouse, read on r1',
        clickhouse: r1,
      });
      expectExact(onR1, sluice.output());
      const onR2 = await verdict({
        ...common,
        scenario: 'replicated ClickHouse, read on r2',
        clickhouse: r2,
      });
      expectExact(onR2, sluice.output());
      expect(await sluice.stop('SIGTERM')).toBe(0);
    },
    FULL ? 600_000 : 300_000,
  );
});
