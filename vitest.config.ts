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
          // Three files at a time on two cores: most of an integration test's time is waiting (on session
          // timeouts, a frozen broker, a batch's age), not computing. The fault scenarios' full form
          // (`npm run faults`) runs two, as its timings were set with.
          maxWorkers: process.env.SLUICE_FAULTS === 'full' ? 2 : 3,
        },
      },
    ],
  },
});
