// Fault scenario: a rebalance storm. Three workers of one group are joined and stopped in turns while
// the stream flows: each turn a new member joins (the group rebalances and partitions move to it with
// their window state), and once three are running the oldest leaves with SIGTERM (partitions move
// again). Every move is a commit by the old owner and a restore by the new one; every window must be
// exact at the end, and every worker must stop cleanly.
import { setTimeout as sleep } from 'node:timers/promises';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import type { ClickHouseClient } from '@clickhouse/client';
import type { Kafka } from 'kafkajs';
import { waitFor } from '../integration/support/fixtures.js';
import { type SluiceProcess } from '../integration/support/sluice-process.js';
import { useTestServices } from '../integration/support/services.js';
import {
  MemoryWatch,
  restoredLatestAssignment,
  startProduction,
  verdict,
  scenarioPipeline,
  expectExact,
} from './fault-scenario.js';
import { FULL } from './scenario-report.js';

const TURNS = FULL ? 16 : 6;
const WORKERS = 3;

describe('fault scenario: rebalance storm', () => {
  const services = useTestServices();
  let kafka: Kafka;
  let clickhouse: ClickHouseClient;
  beforeAll(() => ({ kafka, clickhouse } = services));

  it(
    `keeps every window exact while ${WORKERS} workers join and leave in ${TURNS} turns`,
    async () => {
      const { topic, database, groupId, config } = await scenarioPipeline(kafka, 'storm', {
        brokers: inject('kafkaBrokers'),
        clickhouseUrl: inject('clickhouseUrl'),
      });
      const memory = new MemoryWatch();
      const running: SluiceProcess[] = [];
      const restored = (sluice: SluiceProcess) =>
        waitFor(
          'the new member to be handed partitions and restore them',
          () => Promise.resolve(sluice.output()),
          (output) => restoredLatestAssignment(output),
          60_000,
        );
      const join = async () => {
        const sluice = services.start(['run', '--config', config]);
        memory.watch(sluice.child.pid);
        running.push(sluice);
        await restored(sluice);
      };

      // About 6 s of stream per turn (joins wait for a rebalance, leaves for a clean stop).
      const production = startProduction(kafka, topic, { slices: TURNS * 30 + 40, seed: 6161 });
      await join();
      let joins = 1;
      let leaves = 0;
      for (let turn = 0; turn < TURNS; turn += 1) {
        if (running.length < WORKERS) {
          await join();
          joins += 1;
        } else {
          const oldest = running.shift()!;
          expect(await oldest.stop('SIGTERM'), oldest.output().slice(-2000)).toBe(0);
          leaves += 1;
        }
        await sleep(1_000);
      }
      expect(production.state.producing).toBe(true);
      await production.done;
      const assignments = running.reduce(
        (n, s) => n + (s.output().match(/partitions assigned/g)?.length ?? 0),
        0,
      );

      const result = await verdict({
        scenario: `rebalance storm (${WORKERS} workers, ${TURNS} turns)`,
        kafka,
        clickhouse,
        topic,
        database,
        groupId,
        produced: production.state.produced,
        memory,
        notes: { joins, leaves, 'assignments seen by the last members': assignments },
      });
      expectExact(result);
      expect(leaves).toBeGreaterThan(0);
      for (const sluice of running) expect(await sluice.stop('SIGTERM')).toBe(0);
    },
    FULL ? 900_000 : 300_000,
  );
});
