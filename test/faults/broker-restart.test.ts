// Fault scenario: the Kafka broker restarts. The worker's broker (one of the test's own) is stopped
// mid-stream, stays down for 5 s (20 s in the full form) and starts again on its data, while the
// producer keeps trying and the worker keeps running: its fetches, heartbeats and transactions fail
// for a while, and when the broker is back it carries on by itself from what was committed, with
// every window exact. The second case times it on a commit: the broker is killed (SIGKILL, a crash)
// the moment a transaction's commit (EndTxn) goes out to it, seen by the Kafka fault proxy in front, so
// the worker cannot know whether that commit happened; after the restart every window must still be
// exact and every partition committed to the topic's end, on the same worker process.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { startKafka, restartKafka } from '../../src/tools/stack/kafka-server.js';
import { freePorts } from '../../src/tools/stack/ports.js';
import { isAlive, stopProcess } from '../../src/tools/stack/processes.js';
import { testClickHouse, testKafka, waitFor } from '../integration/support/fixtures.js';
import { API_KEYS, startKafkaFaultProxy } from '../integration/support/kafka-fault-proxy.js';
import { startSluice, type SluiceProcess } from '../integration/support/sluice-process.js';
import {
  MemoryWatch,
  PARTITIONS,
  startProduction,
  verdict,
  scenarioPipeline,
  expectExact,
} from './fault-scenario.js';
import { commitNotes } from './commit-log.js';
import { topicEnds } from './committed-offsets.js';
import { FULL } from './scenario-report.js';
import { partitionStatus } from './worker-status.js';

const DOWN_MS = FULL ? 20_000 : 5_000;
/** The stream runs 8 s before the stop, through the outage, and some 15 s after the broker is back. */
const SLICES = Math.ceil((DOWN_MS + 28_000) / 200);

describe('fault scenario: broker restart', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  });

  it(
    `carries on exactly when the broker is down for ${DOWN_MS / 1000} s mid-stream`,
    async () => {
      const dir = await mkdtemp(join(tmpdir(), 'sluice-broker-restart-'));
      cleanups.push(() => rm(dir, { recursive: true, force: true }));
      const [port, controllerPort, securePort, statusPort] = await freePorts(4);
      const broker = await startKafka({
        dir,
        port: port!,
        controllerPort: controllerPort!,
        securePort: securePort!,
      });
      let brokerPid = broker.pid;
      cleanups.push(() => stopProcess(brokerPid, 10_000));
      const kafka = testKafka(broker.brokers);
      const clickhouse = testClickHouse();
      cleanups.push(() => clickhouse.close());

      const { topic, database, groupId, config } = await scenarioPipeline(kafka, 'restart', {
        brokers: broker.brokers,
        clickhouseUrl: inject('clickhouseUrl'),
        httpPort: statusPort,
      });
      const memory = new MemoryWatch();
      const sluice: SluiceProcess = startSluice(['run', '--config', config]);
      cleanups.push(() => sluice.stop('SIGKILL'));
      memory.watch(sluice.child.pid);
      const status = () => partitionStatus(statusPort!);
      await waitFor('the worker to own every partition', status, (s) => s.length === PARTITIONS);

      const production = startProduction(kafka, topic, { slices: SLICES, seed: 5151 });
      await sleep(8_000);
      await stopProcess(brokerPid, 30_000);
      await sleep(DOWN_MS);
      const restartAt = Date.now();
      brokerPid = await restartKafka(broker);
      const brokerStartMs = Date.now() - restartAt;
      expect(production.state.producing).toBe(true);
      await production.done;

      const result = await verdict({
        scenario: `broker restart (down ${DOWN_MS / 1000} s)`,
        kafka,
        clickhouse,
        topic,
        database,
        groupId,
        produced: production.state.produced,
        memory,
        notes: { 'broker start ms': brokerStartMs },
      });
      expectExact(result, sluice.output().slice(-3000));
      // The same worker process all along: it rode the outage out instead of crashing.
      expect(sluice.child.exitCode, sluice.output().slice(-3000)).toBeNull();
      expect(await sluice.stop('SIGTERM')).toBe(0);
    },
    FULL ? 600_000 : 300_000,
  );

  it(
    `carries on exactly when the broker is killed as a commit goes out and is back ${DOWN_MS / 1000} s later`,
    async () => {
      const dir = await mkdtemp(join(tmpdir(), 'sluice-broker-restart-commit-'));
      cleanups.push(() => rm(dir, { recursive: true, force: true }));
      const [port, controllerPort, securePort, proxyPort, statusPort] = await freePorts(5);
      const proxy = await startKafkaFaultProxy({ port: proxyPort!, target: `127.0.0.1:${port}` });
      cleanups.push(() => proxy.close());
      const broker = await startKafka({
        dir,
        port: port!,
        controllerPort: controllerPort!,
        securePort: securePort!,
        advertisedPort: proxy.port,
      });
      let brokerPid = broker.pid;
      cleanups.push(() => stopProcess(brokerPid, 10_000));
      const kafka = testKafka(proxy.address);
      const clickhouse = testClickHouse();
      cleanups.push(() => clickhouse.close());

      const { topic, database, groupId, config } = await scenarioPipeline(kafka, 'restart_commit', {
        brokers: proxy.address,
        clickhouseUrl: inject('clickhouseUrl'),
        httpPort: statusPort,
      });
      const memory = new MemoryWatch();
      const sluice: SluiceProcess = startSluice(['run', '--config', config]);
      cleanups.push(() => sluice.stop('SIGKILL'));
      memory.watch(sluice.child.pid);
      const status = () => partitionStatus(statusPort!);
      await waitFor('the worker to own every partition', status, (s) => s.length === PARTITIONS);

      const production = startProduction(kafka, topic, { slices: SLICES, seed: 5252 });
      await sleep(6_000);
      const commit = proxy.next({ apiKey: API_KEYS.EndTxn, match: (r) => r.commit === true });
      const onCommit = await Promise.race([commit.then(() => true), sleep(15_000).then(() => false)]);
      process.kill(brokerPid, 'SIGKILL');
      await waitFor(
        'the broker to be gone',
        () => Promise.resolve(!isAlive(brokerPid)),
        (gone) => gone,
        10_000,
      );
      await sleep(DOWN_MS);
      brokerPid = await restartKafka(broker);
      expect(production.state.producing).toBe(true);
      await production.done;

      const result = await verdict({
        scenario: `broker killed on a commit (down ${DOWN_MS / 1000} s)`,
        kafka,
        clickhouse,
        topic,
        database,
        groupId,
        produced: production.state.produced,
        memory,
        notes: {
          'killed right after an EndTxn commit went out': onCommit ? 'yes' : 'no',
          ...commitNotes(sluice.output()),
        },
      });
      const context = sluice.output().slice(-3000);
      expectExact(result, context);
      expect(onCommit, 'a commit went out to be cut').toBe(true);
      // The same worker owns every partition and has committed each to its end.
      const atEnd = await status();
      const ends = new Map((await topicEnds(kafka, topic)).map((p) => [p.partition, p.dataEnd?.toString()]));
      expect(atEnd.map((p) => p.partition).sort((a, b) => a - b)).toEqual([0, 1, 2]);
      for (const p of atEnd)
        expect(p.committedOffset, `partition ${p.partition}`).toBe(ends.get(p.partition));
      expect(sluice.child.exitCode, context).toBeNull();
      expect(await sluice.stop('SIGTERM')).toBe(0);
    },
    FULL ? 600_000 : 300_000,
  );
});
