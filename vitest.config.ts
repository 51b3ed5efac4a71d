// Two projects: `unit` (pure logic, no I/O, milliseconds) and `integration` (a real Kafka broker and a
// real ClickHouse server, found or started once per run by the global setup).
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          environment: 'node',
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          name: 'integration',
          // The fault scenarios (test/faults) run here in their short form; `npm run faults` runs them full.
          include: ['test/integration/**/*.test.ts', 'test/faults/**/*.test.ts'],
          environment: 'node',
          // After the unit tests: a broken core fails in seconds, before any server starts.
          sequence: { groupOrder: 1 },
          globalSetup: ['test/integration/support/global-setup.ts'],
          // Test files that read with kafkajs directly get the read_committed fix too (src/source/kafkajs-fix.ts).
          setupFiles: ['test/integration/support/kafkajs-fix-setup.ts'],
          testTimeout: 180_000,
          hookTimeout: 180_000,
          pool: 'forks',
          // Two files at a time on two cores. Three took the main CI leg from 1,267 s to 1,051 s, but the
          // fault scenarios' timings (a kill mid-interval, a restore while a replica is down) were set
          // with two, and two clean-clone runs each lost one to the load.
          maxWorkers: 2,
        },
      },
    ],
  },
});
