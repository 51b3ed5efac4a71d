// Fault scenario: late results corrected. The tumbling and sliding windows keep their state for an
// allowed lateness after they fire; the stream's events stray up to 8 s behind (beyond the 5 s of
// disorder and 2 s of grace), so some arrive after their window fired: within the lateness they update
// the window and its row is written again, beyond it they go to the late-events topic. `sluice run` is
// SIGKILLed mid-stream a few times and started again, so kept windows are restored from the changelog
// too. ClickHouse (the windows' views) must equal the independently computed windows that count the events within
// the lateness, and the late-events topic must hold exactly those beyond it.
import { setTimeout as sleep } from 'node:timers/promises';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import type { ClickHouseClient } from '@clickhouse/client';
import type { Kafka } from 'kafkajs';
import { seededRandom } from '../../src/tools/produce/sample-events.js';
import { queryRows, waitFor } from '../integration/support/fixtures.js';
import { useTestServices } from '../integration/support/services.js';
import type { ReferenceDefinition } from '../support/window-reference.js';
import {
  DEFINITIONS,
  MemoryWatch,
  expectExact,
  restoredLatestAssignment,
  scenarioPipeline,
  startProduction,
  verdict,
} from './fault-scenario.js';
import { FULL } from './scenario-report.js';

const LATENESS = 2_000;
const KILLS = FULL ? 8 : 3;
const SEED = 20261130;

/** The scenario's windows, the tumbling and sliding ones with allowed lateness (sessions take none). */
const LATE_DEFINITIONS: ReferenceDefinition[] = DEFINITIONS.map((d) =>
  d.type === 'session' ? d : { ...d, allowedLateness: LATENESS },
);

describe('fault scenario: late results corrected', () => {
  const services = useTestServices();
  let kafka: Kafka;
  let clickhouse: ClickHouseClient;
  beforeAll(() => ({ kafka, clickhouse } = services));

  it(
    `corrects rows with late events within ${LATENESS / 1000} s of allowed lateness, across ${KILLS} SIGKILLs`,
    async () => {
      const { topic, database, groupId, config } = await scenarioPipeline(kafka, 'lateness', {
        brokers: inject('kafkaBrokers'),
        clickhouseUrl: inject('clickhouseUrl'),
        allowedLateness: `${LATENESS / 1000}s`,
      });
      const memory = new MemoryWatch();
      const start = () => {
        const sluice = services.start(['run', '--config', config]);
        memory.watch(sluice.child.pid);
        return sluice;
      };
      const production = startProduction(kafka, topic, { slices: KILLS * 40, seed: SEED });
      const next = seededRandom(SEED);
      let sluice = start();
      for (let kill = 0; kill < KILLS; kill += 1) {
        await waitFor(
          'the worker to restore its state and start',
          () => Promise.resolve(sluice.output()),
          restoredLatestAssignment,
          60_000,
        );
        await sleep(1_000 + Math.floor(next() * 3_000));
        expect(production.state.producing).toBe(true);
        await sluice.stop('SIGKILL');
        sluice = start();
      }
      await production.done;
      const result = await verdict({
        scenario: `late corrections (allowedLateness ${LATENESS / 1000} s, ${KILLS} SIGKILLs)`,
        kafka,
        clickhouse,
        topic,
        database,
        groupId,
        produced: production.state.produced,
        memory,
        definitions: LATE_DEFINITIONS,
      });
      expectExact(result, sluice.output().slice(-2000));
      // Both kinds happened: events beyond the lateness (in the late topic) and rows corrected within it.
      // Corrections are counted over the tumbling and the sliding windows: the windows are re-keyed, and
      // their watermark moves with the source side's commits, so how many events land within the
      // lateness depends on the commits' timing (on a loaded machine one table may get none).
      expect(result.lateExpected.size).toBeGreaterThan(0);
      const corrected = await Promise.all(
        ['by_type_10s', 'by_url_30s'].map((table) =>
          queryRows<{ n: string }>(
            clickhouse,
            `SELECT count() AS n FROM ${database}.${table} WHERE emit_reason = 'late'`,
          ).then((rows) => Number(rows[0]!.n)),
        ),
      );
      console.log(`rows corrected by late events (by_type_10s, by_url_30s): ${corrected.join(', ')}`);
      expect(corrected[0]! + corrected[1]!).toBeGreaterThan(0);
      expect(await sluice.stop('SIGTERM')).toBe(0);
    },
    FULL ? 600_000 : 300_000,
  );
});
