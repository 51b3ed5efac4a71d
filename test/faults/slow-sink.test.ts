// Fault scenario: a slow sink. Every answer from ClickHouse is delayed (a TCP proxy in front of the
// real server) for a stretch of the stream: results back up to each partition's buffer bound, the
// partitions pause instead of buffering more, so the worker's memory stays flat (the report shows RSS
// before and during the slow stretch), and they resume when the sink keeps up again. Every window is
// exact at the end.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ClickHouseClient } from '@clickhouse/client';
import type { Kafka } from 'kafkajs';
import { freePorts } from '../../src/tools/stack/ports.js';
import { startFaultProxy } from '../integration/support/fault-proxy.js';
import { waitFor } from '../integration/support/fixtures.js';
import { useTestServices } from '../integration/support/services.js';
import {
  MemoryWatch,
  PARTITIONS,
  startProduction,
  verdict,
  scenarioPipeline,
  expectExact,
} from './fault-scenario.js';
import { FULL } from './scenario-report.js';
import { windowStatus } from './worker-status.js';

const SLOW_MS = FULL ? 40_000 : 15_000;
/** Each chunk ClickHouse sends back is held this long: an insert takes a few hundred ms instead of a few. */
const DELAY_MS = 300;
const MAX_BUFFER = 100;

describe('fault scenario: slow sink', () => {
  const services = useTestServices();
  let kafka: Kafka;
  let clickhouse: ClickHouseClient;
  const cleanups: (() => Promise<unknown>)[] = [];
  beforeAll(() => ({ kafka, clickhouse } = services));
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  });

  it(
    `pauses and resumes partitions with flat memory while ClickHouse answers ${DELAY_MS} ms late`,
    async () => {
      const proxy = await startFaultProxy(inject('clickhouseUrl'));
      cleanups.push(() => proxy.close());
      const [statusPort] = await freePorts(1);
      const { topic, database, groupId, config } = await scenarioPipeline(kafka, 'slow', {
        brokers: inject('kafkaBrokers'),
        clickhouseUrl: proxy.url,
        httpPort: statusPort,
        // Small inserts, so a slow server makes a slow sink; a small bound, so it is reached.
        clickhouse: { batch: { maxSize: 100, maxWaitMs: 100 } },
        backpressure: { maxBufferSize: MAX_BUFFER },
      });
      const memory = new MemoryWatch();
      const sluice = services.start(['run', '--config', config]);
      memory.watch(sluice.child.pid);
      // The windows are re-keyed: the sink's pauses and buffers are the re-keyed member's.
      const status = () => windowStatus(statusPort!);
      await waitFor('the worker to own every partition', status, (s) => s.length === PARTITIONS);

      const production = startProduction(kafka, topic, {
        slices: Math.ceil((SLOW_MS + 16_000) / 200),
        seed: 7171,
      });
      await sleep(6_000);
      const before = memory.currentMiB();
      proxy.slow(DELAY_MS);
      const slowAt = Date.now();
      let during = 0;
      let pausedAtOnce = 0;
      while (Date.now() - slowAt < SLOW_MS) {
        during = Math.max(during, memory.currentMiB());
        const now = await status();
        pausedAtOnce = Math.max(pausedAtOnce, now.filter((p) => p.pausedFor.includes('backpressure')).length);
        await sleep(250);
      }
      proxy.restore();
      expect(production.state.producing).toBe(true);
      await production.done;

      const result = await verdict({
        scenario: `slow sink (${DELAY_MS} ms per answer for ${SLOW_MS / 1000} s)`,
        kafka,
        clickhouse,
        topic,
        database,
        groupId,
        produced: production.state.produced,
        memory,
        notes: {
          'RSS before MiB': before,
          'RSS peak while slow MiB': during,
          'partitions paused at once': pausedAtOnce,
        },
      });
      expectExact(result);
      const end = await status();
      // The bound was reached and held by pausing (nothing shed), and everything resumed afterwards.
      expect(end.reduce((n, p) => n + p.pauses.backpressure, 0)).toBeGreaterThan(0);
      for (const partition of end) {
        expect(partition.peakBuffer.records).toBeLessThanOrEqual(MAX_BUFFER);
        expect(partition.shed).toBe(0);
        expect(partition.pausedFor).toEqual([]);
      }
      expect(await sluice.stop('SIGTERM')).toBe(0);
    },
    FULL ? 600_000 : 300_000,
  );
});
