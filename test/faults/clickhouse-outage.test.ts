// Fault scenario: a ClickHouse outage. The worker's ClickHouse server is stopped mid-stream for 30 s
// (10 s in the short form) and started again with its data. While it is down the sink's circuit opens
// and every partition pauses, so the worker's memory stays bounded (the report shows its RSS before
// and during the outage) instead of buffering the stream; once the server answers, consumption resumes
// by itself and every window lands exactly once.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ClickHouseLogLevel, createClient } from '@clickhouse/client';
import type { Kafka } from 'kafkajs';
import { startClickHouse } from '../../src/tools/stack/clickhouse-server.js';
import { freePorts } from '../../src/tools/stack/ports.js';
import { stopProcess } from '../../src/tools/stack/processes.js';
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

const OUTAGE_MS = FULL ? 30_000 : 10_000;
/** The stream runs 8 s before the outage, through it, and 10 s after. */
const SLICES = Math.ceil((OUTAGE_MS + 18_000) / 200);

describe('fault scenario: ClickHouse outage', () => {
  const services = useTestServices();
  let kafka: Kafka;
  const cleanups: (() => Promise<unknown>)[] = [];
  beforeAll(() => ({ kafka } = services));
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  });

  it(
    `loses and doubles nothing when ClickHouse is down for ${OUTAGE_MS / 1000} s mid-stream`,
    async () => {
      const dir = await mkdtemp(join(tmpdir(), 'sluice-ch-outage-'));
      cleanups.push(() => rm(dir, { recursive: true, force: true }));
      const [httpPort, tcpPort, statusPort] = await freePorts(3);
      const serverOptions = { dir, httpPort: httpPort!, tcpPort: tcpPort! };
      let server = await startClickHouse(serverOptions);
      cleanups.push(() => stopProcess(server.pid, 5_000));
      const clickhouse = createClient({ url: server.url, log: { level: ClickHouseLogLevel.OFF } });
      cleanups.push(() => clickhouse.close());

      const { topic, database, groupId, config } = await scenarioPipeline(kafka, 'outage', {
        brokers: inject('kafkaBrokers'),
        clickhouseUrl: server.url,
        httpPort: statusPort,
        // Short, explicit retries: the circuit opens within seconds of the outage, however loaded the
        // machine, instead of after the defaults' three batches of five retries each.
        clickhouse: {
          retry: { max: 2, baseDelay: '100ms', maxDelay: '500ms' },
          circuitBreaker: { failures: 2, halfOpenAfter: '2s' },
        },
      });
      const memory = new MemoryWatch();
      const sluice = services.start(['run', '--config', config]);
      memory.watch(sluice.child.pid);
      // The windows are re-keyed: the sink's pauses and buffers are the re-keyed member's.
      const status = () => windowStatus(statusPort!);
      await waitFor('the worker to own every partition', status, (s) => s.length === PARTITIONS);

      const production = startProduction(kafka, topic, { slices: SLICES, seed: 4242 });
      await sleep(8_000);
      const before = memory.currentMiB();
      await stopProcess(server.pid, 5_000);
      const downAt = Date.now();
      // The circuit opens and every partition pauses for the sink: the stream waits in Kafka, not in memory.
      await waitFor(
        'every partition paused for the sink',
        status,
        (s) => s.length === PARTITIONS && s.every((p) => p.pausedFor.includes('sink')),
        60_000,
      );
      const pausedAfterMs = Date.now() - downAt;
      // The outage lasts its length, and at least 5 s with every partition paused.
      const upFrom = Math.max(downAt + OUTAGE_MS, Date.now() + 5_000);
      let during = 0;
      while (Date.now() < upFrom) {
        during = Math.max(during, memory.currentMiB());
        await sleep(250);
      }
      expect((await status()).every((p) => p.pausedFor.includes('sink'))).toBe(true);
      server = await startClickHouse(serverOptions);
      const upAt = Date.now();
      // Nobody restarts or resumes the worker: it finds ClickHouse again by itself.
      await waitFor(
        'every partition resumed',
        status,
        (s) => s.every((p) => !p.pausedFor.includes('sink')),
        60_000,
      );
      const resumedAfterMs = Date.now() - upAt;
      expect(production.state.producing).toBe(true);
      await production.done;

      const result = await verdict({
        scenario: `ClickHouse outage (${OUTAGE_MS / 1000} s)`,
        kafka,
        clickhouse,
        topic,
        database,
        groupId,
        produced: production.state.produced,
        memory,
        notes: {
          'RSS before the outage MiB': before,
          'RSS peak while down MiB': during,
          'paused after ms': pausedAfterMs,
          'resumed after restart ms': resumedAfterMs,
        },
      });
      expectExact(result, sluice.output().slice(-2000));
      expect(sluice.output()).toContain('sink circuit closed; resuming');
      expect(await sluice.stop('SIGTERM')).toBe(0);
    },
    FULL ? 600_000 : 300_000,
  );
});
