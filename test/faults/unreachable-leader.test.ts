// Fault scenario: one partition's leader is out of reach while the other brokers answer. A three-node
// cluster (the test's own); the source topic has replication factor 1, so stopping the node that leads
// a partition makes exactly that partition unreadable and unwritable, while the others keep flowing
// (the producer sends each partition's slices on their own clock and retries the stopped one's). The
// worker's idle timeout is shorter than the outage: a partition must not count as idle because other
// brokers answer its consumer, or its watermark follows the wall clock and its backlog arrives late.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Kafka } from 'kafkajs';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { restartNode, startKafkaCluster, stopKafkaCluster } from '../../src/tools/stack/kafka-cluster.js';
import { freePorts } from '../../src/tools/stack/ports.js';
import { stopProcess } from '../../src/tools/stack/processes.js';
import { testClickHouse, testKafka, uniqueName, waitFor } from '../integration/support/fixtures.js';
import { startSluice, writeConfig, type SluiceProcess } from '../integration/support/sluice-process.js';
import {
  GRACE,
  MemoryWatch,
  OUT_OF_ORDERNESS,
  PARTITIONS,
  expectExact,
  faultPipeline,
  startProduction,
  verdict,
} from './fault-scenario.js';
import { FULL } from './scenario-report.js';
import { partitionStatus } from './worker-status.js';

const DOWN_MS = FULL ? 30_000 : 10_000;
/** Well below the outage, so a partition wrongly taken for idle shows within it. */
const IDLE_TIMEOUT = '3s';
/** The stream runs 8 s before the stop, through the outage, and some 20 s after the node is back. */
const SLICES = Math.ceil((DOWN_MS + 28_000) / 200);

/** Creates the topic with one replica per partition; says which node leads each partition. */
async function createUnreplicatedTopic(kafka: Kafka, topic: string): Promise<Map<number, number>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({
      topics: [{ topic, numPartitions: PARTITIONS, replicationFactor: 1 }],
      waitForLeaders: false,
    });
    // A new topic's metadata reaches the three nodes one by one: until it has, a node answers "does not
    // host this topic-partition", which kafkajs' waitForLeaders (on by default) fails on rather than
    // waits out (Kafka 4 answers so for longer). Ask until every partition has a leader.
    const leaders = await waitFor(
      `leaders for every partition of ${topic}`,
      () =>
        admin
          .fetchTopicMetadata({ topics: [topic] })
          .then(({ topics }) => topics[0]?.partitions ?? [])
          .catch(() => []),
      (partitions) => partitions.length === PARTITIONS && partitions.every((p) => p.leader >= 0),
      30_000,
    );
    return new Map(leaders.map((p) => [p.partitionId, p.leader]));
  } finally {
    await admin.disconnect();
  }
}

describe('fault scenario: unreachable leader', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  });

  it(
    `no event is late when a partition's leader is down ${DOWN_MS / 1000} s while the others answer`,
    async () => {
      const dir = await mkdtemp(join(tmpdir(), 'sluice-unreachable-leader-'));
      cleanups.push(() => rm(dir, { recursive: true, force: true }));
      const [port1, port2, port3, controllerPort, statusPort] = await freePorts(5);
      const cluster = await startKafkaCluster({
        dir,
        ports: [port1!, port2!, port3!],
        controllerPort: controllerPort!,
      });
      cleanups.push(() => stopKafkaCluster(cluster));
      // Node 1 (the controller) is never stopped: everyone bootstraps through it.
      const bootstrap = cluster.nodes[0]!.brokers;
      const kafka = testKafka(bootstrap);
      const clickhouse = testClickHouse();
      cleanups.push(() => clickhouse.close());

      const name = uniqueName('unreachable');
      const topic = uniqueName('unreachable_events');
      const database = uniqueName('unreachable');
      const leaders = await createUnreplicatedTopic(kafka, topic);
      const pipeline = faultPipeline({
        name,
        topic,
        database,
        brokers: bootstrap,
        clickhouseUrl: inject('clickhouseUrl'),
        httpPort: statusPort,
        extra: {
          time: {
            field: 'timestamp',
            maxOutOfOrderness: OUT_OF_ORDERNESS,
            grace: GRACE,
            idleTimeout: IDLE_TIMEOUT,
          },
        },
      });
      const groupId = `sluice-${name}`;
      // The node to stop: one that leads a partition and is not the controller.
      const stopped = cluster.nodes.find((n) => n.nodeId !== 1 && [...leaders.values()].includes(n.nodeId));
      if (!stopped)
        throw new Error(`no broker but the controller leads a partition: ${JSON.stringify([...leaders])}`);
      const unreachable = [...leaders].filter(([, leader]) => leader === stopped.nodeId).map(([p]) => p);

      const memory = new MemoryWatch();
      const sluice: SluiceProcess = startSluice(['run', '--config', writeConfig(pipeline)]);
      cleanups.push(() => sluice.stop('SIGKILL'));
      memory.watch(sluice.child.pid);
      const status = () => partitionStatus(statusPort!);
      await waitFor('the worker to own every partition', status, (s) => s.length === PARTITIONS);

      const production = startProduction(kafka, topic, {
        slices: SLICES,
        seed: 7373,
        independentPartitions: true,
      });
      await sleep(8_000);
      await stopProcess(stopped.pid, 30_000);
      await sleep(DOWN_MS);
      const restartAt = Date.now();
      await restartNode(stopped);
      const restartMs = Date.now() - restartAt;
      expect(production.state.producing).toBe(true);
      await production.done;

      const result = await verdict({
        scenario: `unreachable leader (node ${stopped.nodeId} down ${DOWN_MS / 1000} s, idleTimeout ${IDLE_TIMEOUT})`,
        kafka,
        clickhouse,
        topic,
        database,
        groupId,
        produced: production.state.produced,
        memory,
        notes: {
          'unreachable partitions': unreachable.join(', '),
          'node restart ms': restartMs,
        },
      });
      expectExact(result, sluice.output());
      expect(sluice.child.exitCode, sluice.output().slice(-3000)).toBeNull();
      expect(await sluice.stop('SIGTERM')).toBe(0);
    },
    FULL ? 600_000 : 300_000,
  );
});
