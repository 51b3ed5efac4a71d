// Where the pipeline's Kafka and ClickHouse are: the config file first, then KAFKA_BROKERS /
// CLICKHOUSE_URL (and CLICKHOUSE_USER / CLICKHOUSE_PASSWORD), then the local stack's state file.
import { readStackState } from '../stack/stack-state.js';
import { defaultStackDir } from '../stack/stack-paths.js';
import { ConfigError } from './config-error.js';
import type { Pipeline } from './schema.js';

export interface Endpoints {
  brokers: string[];
  clickhouse: { url: string; username: string; password: string; database: string };
}

export async function resolveEndpoints(pipeline: Pipeline, stackDir = defaultStackDir()): Promise<Endpoints> {
  const stack = await readStackState(stackDir);
  const brokers =
    pipeline.source.brokers ??
    process.env.KAFKA_BROKERS?.split(',')
      .map((b) => b.trim())
      .filter(Boolean) ??
    (stack ? [stack.kafka.brokers] : undefined);
  const url = pipeline.sinks.clickhouse.url ?? process.env.CLICKHOUSE_URL ?? stack?.clickhouse.url;
  const missing = [
    brokers === undefined || brokers.length === 0
      ? {
          path: 'source.brokers',
          expected: 'Kafka brokers (or KAFKA_BROKERS, or a local stack: `sluice stack up`)',
          found: undefined,
        }
      : undefined,
    url === undefined
      ? {
          path: 'sinks.clickhouse.url',
          expected: 'a ClickHouse URL (or CLICKHOUSE_URL, or a local stack: `sluice stack up`)',
          found: undefined,
        }
      : undefined,
  ].filter((issue) => issue !== undefined);
  if (missing.length > 0 || brokers === undefined || url === undefined) throw new ConfigError(missing);
  const sink = pipeline.sinks.clickhouse;
  return {
    brokers,
    clickhouse: {
      url,
      username: process.env.CLICKHOUSE_USER ?? sink.username,
      password: process.env.CLICKHOUSE_PASSWORD ?? sink.password,
      database: sink.database,
    },
  };
}
