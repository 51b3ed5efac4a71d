// Fault scenario: the broker freezes. The worker's broker (one of the test's own) is stopped with
// SIGSTOP for longer than kafkajs' request timeout (30 s) and continued, once here (three times in the
// full form), each time right after a transaction's commit (EndTxn) went out to it, seen by the Kafka
// fault proxy in front: that commit times out on the client while the broker may still carry it out
// when it wakes, and members' sessions expire. This is how a partition was seen to jam for good. Afterwards every window must be exact and the group's
// committed offsets must reach the topic's end, on the same worker process.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { freePorts } from '../../src/tools/stack/ports.js';
import { testClickHouse, waitFor } from '../integration/support/fixtures.js';
import { API_KEYS } from '../integration/support/kafka-fault-proxy.js';
import { startOwnBroker } from '../integration/support/own-broker.js';
import { startSluice } from '../integration/support/sluice-process.js';
import { commitNotes } from './commit-log.js';
import { topicEnds } from './committed-offsets.js';
import {
  MemoryWatch,
  PARTITIONS,
  expectExact,
  scenarioPipeline,
  startProduction,
  verdict,
} from './fault-scenario.js';
import { FULL } from './scenario-report.js';
import { partitionStatus } from './worker-status.js';

const FREEZES = FULL ? 3 : 1;
/** Past kafkajs' default requestTimeout (30 s), so requests in flight time out. */
const FREEZE_MS = FULL ? 40_000 : 35_000;
const BETWEEN_MS = 10_000;
/** The stream's slices after the last freeze and the time after it (held up slices aside, some 5 s). */
const TAIL_SLICES = 25;

describe('fault scenario: broker freeze', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  });

  it(
    `keeps committing exactly when the broker freezes ${FREEZES}× for ${FREEZE_MS / 1000} s`,
    async () => {
      const broker = await startOwnBroker('broker-freeze', cleanups, { proxy: true });
      const { kafka } = broker;
      const proxy = broker.proxy!;
      const [statusPort] = await freePorts(1);
      // A frozen broker cannot stop: continue it first.
      cleanups.push(() => Promise.resolve().then(() => process.kill(broker.pid, 'SIGCONT')));
      const clickhouse = testClickHouse();
      cleanups.push(() => clickhouse.close());

      const { groupId, topic, database, config } = await scenarioPipeline(kafka, 'freeze', {
        brokers: proxy.address,
        clickhouseUrl: inject('clickhouseUrl'),
        httpPort: statusPort,
      });
      const memory = new MemoryWatch();
      const sluice = startSluice(['run', '--config', config]);
      cleanups.push(() => sluice.stop('SIGKILL'));
      memory.watch(sluice.child.pid);
      const status = () => partitionStatus(statusPort!);
      await waitFor('the worker to own every partition', status, (s) => s.length === PARTITIONS);

      const slices = Math.ceil((6_000 + FREEZES * (FREEZE_MS + BETWEEN_MS) + 5_000) / 200);
      const production = startProduction(kafka, topic, { slices, seed: 8181 });
      await sleep(6_000);
      let onCommit = 0;
      for (let freeze = 0; freeze < FREEZES; freeze += 1) {
        const commit = proxy.next({ apiKey: API_KEYS.EndTxn, match: (r) => r.commit === true });
        if (await Promise.race([commit, sleep(15_000).then(() => undefined)])) onCommit += 1;
        process.kill(broker.pid, 'SIGSTOP');
        await sleep(FREEZE_MS);
        process.kill(broker.pid, 'SIGCONT');
        await sleep(BETWEEN_MS);
      }
      const streamOutlastedFreezes = production.state.producing;
      production.endAfter(TAIL_SLICES);
      const afterFreezes = await status().catch(() => []);
      await production.done;

      const result = await verdict({
        scenario: `broker freeze (${FREEZES}× ${FREEZE_MS / 1000} s SIGSTOP)`,
        kafka,
        clickhouse,
        topic,
        database,
        groupId,
        produced: production.state.produced,
        memory,
        notes: {
          'freezes right after an EndTxn commit': onCommit,
          'partitions owned after the freezes': afterFreezes.length,
          ...commitNotes(sluice.output()),
        },
      });
      const atEnd = await status().catch(() => []);
      const context = sluice.output().slice(-3000);
      expectExact(result, sluice.output());
      expect(streamOutlastedFreezes).toBe(true);
      // The same worker owns every partition and has committed each to its end.
      const ends = new Map((await topicEnds(kafka, topic)).map((p) => [p.partition, p.dataEnd?.toString()]));
      expect(atEnd.map((p) => p.partition).sort((a, b) => a - b)).toEqual([0, 1, 2]);
      for (const p of atEnd)
        expect(p.committedOffset, `partition ${p.partition}`).toBe(ends.get(p.partition));
      expect(sluice.child.exitCode, context).toBeNull();
      expect(await sluice.stop('SIGTERM')).toBe(0);
    },
    // A failing run also waits out the verdict's deadlines (ClickHouse, then the committed offsets).
    FULL ? 900_000 : 420_000,
  );
});
