// `sluice stack` on its own folder: up is idempotent, status tells the truth, down leaves no process,
// a taken port is refused with a message that names it, and `--clickhouse-replicas 2` runs a
// replicated ClickHouse cluster.
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stackDown, stackStatus, stackUp } from '../../../../src/tools/stack/local-stack.js';
import { isAlive } from '../../../../src/tools/stack/processes.js';
import { runSluice } from '../../support/sluice-process.js';

describe('local stack', () => {
  const dirs: string[] = [];

  afterAll(async () => {
    for (const dir of dirs) {
      await stackDown({ dir });
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('starts once, reports itself running, and stops every process it started', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sluice-stack-'));
    dirs.push(dir);
    const first = await stackUp({ dir });
    const again = await stackUp({ dir });
    expect(again.kafka.pid).toBe(first.kafka.pid);
    expect(again.clickhouse.pid).toBe(first.clickhouse.pid);

    const status = await runSluice(['stack', 'status', '--dir', dir]);
    expect(status.code).toBe(0);
    expect(status.output).toContain('stack: running');
    expect(status.output).toContain(first.kafka.brokers);
    expect(status.output).toContain(first.clickhouse.url);

    const down = await runSluice(['stack', 'down', '--dir', dir]);
    expect(down.output).toContain('stack stopped');
    expect(isAlive(first.kafka.pid)).toBe(false);
    expect(isAlive(first.clickhouse.pid)).toBe(false);
    expect((await stackStatus(dir)).health).toBe('stopped');
  });

  it('runs two ClickHouse replicas of the cluster sluice with a ZooKeeper: DDL on the cluster, rows on both', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sluice-stack-'));
    dirs.push(dir);
    const up = await runSluice(['stack', 'up', '--dir', dir, '--clickhouse-replicas', '2']);
    expect(up.code, up.output).toBe(0);
    const state = (await stackStatus(dir)).state!;
    const [r1, r2] = state.clickhouseReplicas!;
    expect([r1?.replica, r2?.replica]).toEqual(['r1', 'r2']);
    expect(state.clickhouse.url).toBe(r1!.url);
    const status = await runSluice(['stack', 'status', '--dir', dir]);
    expect(status.output).toContain('stack: running');
    for (const server of [r1!, r2!]) expect(status.output).toContain(`${server.url}  (ClickHouse`);
    expect(status.output).toMatch(/zookeeper {3}127\.0\.0\.1:\d+ {2}\(Apache ZooKeeper /);
    // Another replica count on the running stack is refused, naming both.
    const other = await runSluice(['stack', 'up', '--dir', dir, '--clickhouse-replicas', '1']);
    expect(other.code).toBe(1);
    expect(other.output).toContain('with 2 ClickHouse server(s), not Kafka');

    const sql = async (url: string, query: string) => {
      const response = await fetch(`${url}/`, { method: 'POST', body: query });
      const text = await response.text();
      if (!response.ok) throw new Error(`${query}: ${text}`);
      return text.trim();
    };
    // ON CLUSTER reaches both servers (through ZooKeeper's DDL queue); a row on one replicates.
    await sql(r1!.url, 'CREATE DATABASE IF NOT EXISTS stack_check ON CLUSTER sluice');
    await sql(
      r1!.url,
      "CREATE TABLE stack_check.t ON CLUSTER sluice (a UInt64) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/stack_check/t', '{replica}') ORDER BY a",
    );
    await sql(r1!.url, 'INSERT INTO stack_check.t VALUES (1), (2), (3)');
    const deadline = Date.now() + 30_000;
    while ((await sql(r2!.url, 'SELECT count() FROM stack_check.t')) !== '3' && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await sql(r2!.url, 'SELECT count() FROM stack_check.t')).toBe('3');

    await stackDown({ dir });
    for (const pid of [state.kafka.pid, r1!.pid, r2!.pid, state.zookeeper!.pid])
      expect(isAlive(pid)).toBe(false);
  });

  it('refuses a replica count it cannot run, naming the option, before starting anything', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sluice-stack-'));
    dirs.push(dir);
    const result = await runSluice(['stack', 'up', '--dir', dir, '--clickhouse-replicas', '5']);
    expect(result.code).toBe(1);
    expect(result.output).toContain('--clickhouse-replicas: expected 1, 2 or 3, found 5');
    expect((await stackStatus(dir)).health).toBe('stopped');
  });

  it('refuses a requested port that another process holds, naming it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sluice-stack-'));
    dirs.push(dir);
    const holder: Server = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const port = (holder.address() as { port: number }).port;
    try {
      const result = await runSluice(['stack', 'up', '--dir', dir], { SLUICE_KAFKA_PORT: String(port) });
      expect(result.code).toBe(1);
      expect(result.output).toContain(`SLUICE_KAFKA_PORT=${port}: that port is taken by another process`);
    } finally {
      holder.close();
    }
  });
});
