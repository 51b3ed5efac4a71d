// Turns the built-in enrichment stages of a pipeline (user-agent, derive, lookup) into processors,
// once per pipeline: their caches and connections are shared by every partition. Filters, module and
// TypeScript stages pass through unchanged.
import { createClient, type ClickHouseClient } from '@clickhouse/client';
import type { Endpoints } from '../config/endpoints.js';
import type { Pipeline, StageConfig } from '../config/schema.js';
import { deriveProcessor } from './derive-stage.js';
import { createLookup, type LookupResult } from './lookup-stage.js';
import { userAgentProcessor } from './user-agent-stage.js';

export interface PreparedStages {
  stages: StageConfig[];
  close(): Promise<void>;
}

export async function prepareStages(
  pipeline: Pipeline,
  endpoints: Endpoints,
  options: { baseDir: string; observedLookup?: (stage: string, result: LookupResult) => void },
): Promise<PreparedStages> {
  let clickhouse: ClickHouseClient | undefined;
  const stages: StageConfig[] = [];
  for (const stage of pipeline.stages) {
    if (!('type' in stage) || stage.type === 'filter') {
      stages.push(stage);
      continue;
    }
    const policy = {
      name: stage.name,
      concurrency: stage.concurrency,
      timeout: stage.timeout,
      retry: stage.retry,
      onError: stage.onError,
    };
    if (stage.type === 'user-agent') stages.push({ ...policy, process: userAgentProcessor(stage.field) });
    else if (stage.type === 'derive') stages.push({ ...policy, process: deriveProcessor(stage) });
    else {
      if ('clickhouse' in stage.from && !clickhouse && endpoints.clickhouse)
        clickhouse = createClient({
          url: endpoints.clickhouse.url,
          username: endpoints.clickhouse.username,
          password: endpoints.clickhouse.password,
        });
      const lookup = await createLookup(stage, {
        baseDir: options.baseDir,
        ...(clickhouse ? { clickhouse } : {}),
        observed: (result) => options.observedLookup?.(stage.name, result),
      });
      stages.push({ ...policy, process: lookup.process });
    }
  }
  return { stages, close: async () => clickhouse?.close() };
}
