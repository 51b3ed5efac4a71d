// Vitest global setup of the integration project: one Kafka and one ClickHouse for the whole run,
// handed to the tests through `inject`, and stopped when the run ends. Meanwhile the sources are built
// to dist/ (as `npm run build` does): the `sluice` processes the tests start run from there (see
// sluice-process.ts).
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import type { TestProject } from 'vitest/node';
import { locateStack, type SecureEndpoints } from './locate-stack.js';

const require = createRequire(import.meta.url);

/** dist/ from the sources as they are now, so no test runs an older build. */
async function buildDist(): Promise<void> {
  const started = Date.now();
  await promisify(execFile)(process.execPath, [
    require.resolve('typescript/bin/tsc'),
    '-p',
    'tsconfig.build.json',
  ]).catch((error: { stdout?: string; message: string }) => {
    throw new Error(
      `building dist/ for the sluice processes of the tests failed:\n${error.stdout ?? error.message}`,
    );
  });
  console.log(`[build] dist/ built from the sources (${Date.now() - started} ms)`);
}

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
  const [stack] = await Promise.all([locateStack(), buildDist()]);
  console.log(
    `[stack] using ${stack.how}: kafka ${stack.kafkaBrokers}, clickhouse ${stack.clickhouseUrl} (${Date.now() - started} ms)`,
  );
  project.provide('kafkaBrokers', stack.kafkaBrokers);
  project.provide('clickhouseUrl', stack.clickhouseUrl);
  project.provide('secure', stack.secure ?? null);
  return () => stack.stop();
}
