// Where the pipeline's Kafka and ClickHouse are: the config file first, then KAFKA_BROKERS /
// CLICKHOUSE_URL (and CLICKHOUSE_USER / CLICKHOUSE_PASSWORD), then the local stack's state file.
import { ConfigError } from './config-error.js';
import {
  defaultStackDir,
  readLocalStackEndpoints,
  type LocalStackEndpoints,
} from './local-stack-endpoints.js';
import type { Pipeline } from './schema.js';

export interface Endpoints {
  brokers: string[];
  /** Absent when the ClickHouse sink is disabled. */
  clickhouse?: { url: string; username: string; password: string; database: string; cluster?: string };
}

const MISSING_BROKERS = {
  path: 'source.brokers',
  expected: 'Kafka brokers (or KAFKA_BROKERS, or a local stack: `sluice stack up`)',
  found: undefined,
};

const MISSING_CLICKHOUSE = {
  path: 'sinks.clickhouse.url',
  expected: 'a ClickHouse URL (or CLICKHOUSE_URL, or a local stack: `sluice stack up`)',
  found: undefined,
};

function brokersOf(pipeline: Pipeline, stack: LocalStackEndpoints | undefined): string[] | undefined {
  return brokersFrom(pipeline.source.brokers, stack);
}

function brokersFrom(
  configured: string[] | undefined,
  stack: LocalStackEndpoints | undefined,
): string[] | undefined {
  const brokers =
    configured ??
    process.env.KAFKA_BROKERS?.split(',')
      .map((b) => b.trim())
      .filter(Boolean) ??
    (stack ? [stack.kafka.brokers] : undefined);
  return brokers && brokers.length > 0 ? brokers : undefined;
}

/** Only the brokers: for tools (the dead-letter commands) that never touch ClickHouse. */
export async function resolveBrokers(pipeline: Pipeline, stackDir = defaultStackDir()): Promise<string[]> {
  const brokers = brokersOf(pipeline, await readLocalStackEndpoints(stackDir));
  if (!brokers) throw new ConfigError([MISSING_BROKERS]);
  return brokers;
}

/** For tools run without a pipeline (`sluice produce`): `--brokers`, then KAFKA_BROKERS, then the local stack. */
export async function resolveToolBrokers(
  configured: string[] | undefined,
  stackDir = defaultStackDir(),
): Promise<string[]> {
  const brokers = brokersFrom(configured, await readLocalStackEndpoints(stackDir));
  if (!brokers) throw new ConfigError([{ ...MISSING_BROKERS, path: '--brokers' }]);
  return brokers;
}

export async function resolveEndpoints(pipeline: Pipeline, stackDir = defaultStackDir()): Promise<Endpoints> {
  const stack = await readLocalStackEndpoints(stackDir);
  const brokers = brokersOf(pipeline, stack);
  const sink = pipeline.sinks.clickhouse;
  if (!sink.enabled) {
    if (!brokers) throw new ConfigError([MISSING_BROKERS]);
    return { brokers };
  }
  const url = sink.url ?? process.env.CLICKHOUSE_URL ?? stack?.clickhouse.url;
  if (!brokers || url === undefined)
    throw new ConfigError([
      ...(brokers ? [] : [MISSING_BROKERS]),
      ...(url === undefined ? [MISSING_CLICKHOUSE] : []),
    ]);
  return {
    brokers,
    clickhouse: {
      url,
      username: process.env.CLICKHOUSE_USER ?? sink.username,
      password: process.env.CLICKHOUSE_PASSWORD ?? sink.password,
      database: sink.database,
      ...(sink.cluster === undefined ? {} : { cluster: sink.cluster }),
    },
  };
}
