// Vitest global setup of the integration project: one Kafka and one ClickHouse for the whole run,
// handed to the tests through `inject`, and stopped when the run ends.
import type { TestProject } from 'vitest/node';
import { locateStack, type SecureEndpoints } from './locate-stack.js';

declare module 'vitest' {
  export interface ProvidedContext {
    kafkaBrokers: string;
    clickhouseUrl: string;
    /** A SASL_SSL listener and a ClickHouse user with a password, when the stack has them. */
    secure: SecureEndpoints | null;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started = Date.now();
  const stack = await locateStack();
  console.log(
    `[stack] using ${stack.how}: kafka ${stack.kafkaBrokers}, clickhouse ${stack.clickhouseUrl} (${Date.now() - started} ms)`,
  );
  project.provide('kafkaBrokers', stack.kafkaBrokers);
  project.provide('clickhouseUrl', stack.clickhouseUrl);
  project.provide('secure', stack.secure ?? null);
  return () => stack.stop();
}
