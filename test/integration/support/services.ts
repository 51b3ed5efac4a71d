// The clients a describe block's tests share, and the `sluice` processes they start: created before
// the block's tests, closed (processes killed) after them.
import type { ClickHouseClient } from '@clickhouse/client';
import type { Kafka } from 'kafkajs';
import { afterAll, beforeAll } from 'vitest';
import { testClickHouse, testKafka } from './fixtures.js';
import { startSluice, type SluiceProcess } from './sluice-process.js';

export interface TestServices {
  readonly kafka: Kafka;
  readonly clickhouse: ClickHouseClient;
  /** Starts `sluice` with these arguments; killed after the block's tests if still running. */
  start(args: readonly string[], env?: NodeJS.ProcessEnv): SluiceProcess;
}

export function useTestServices(): TestServices {
  let kafka: Kafka | undefined;
  let clickhouse: ClickHouseClient | undefined;
  const processes: SluiceProcess[] = [];
  beforeAll(() => {
    kafka = testKafka();
    clickhouse = testClickHouse();
  });
  afterAll(async () => {
    await Promise.all(processes.map((p) => p.stop('SIGKILL')));
    await clickhouse?.close();
  });
  return {
    get kafka() {
      if (!kafka) throw new Error('use the Kafka client inside a test');
      return kafka;
    },
    get clickhouse() {
      if (!clickhouse) throw new Error('use the ClickHouse client inside a test');
      return clickhouse;
    },
    start(args, env) {
      const process = startSluice(args, env);
      processes.push(process);
      return process;
    },
  };
}
