// Every stage of a pipeline as a ready processor with its policy, prepared once per pipeline: the
// built-in enrichment stages (user-agent, derive, lookup) get their caches and connections, shared by
// every partition; filters become processors; TypeScript and module stages bring their own function.
import { createClient, type ClickHouseClient } from '@clickhouse/client';
import type { Endpoints } from '../config/endpoints.js';
import type { RetryConfig } from '../config/schema.js';
import type { LoadedStage } from '../config/stage-modules.js';
import type { ErrorAction, Processor } from '../config/user-functions.js';
import { deriveProcessor } from './derive-stage.js';
import { filterProcessor } from './filter-stage.js';
import { createLookup, type LookupResult } from './lookup-stage.js';
import { userAgentProcessor } from './user-agent-stage.js';

/** One stage as the runtime runs it: a processor and how it is run. */
export interface PreparedStage {
  name: string;
  process: Processor;
  concurrency: number;
  timeout: number;
  retry: RetryConfig;
  onError: Exclude<ErrorAction, 'retry'>;
}

export interface PreparedStages {
  stages: PreparedStage[];
  /** Closes what the built-in stages opened (the lookups' ClickHouse client). */
  close(): Promise<void>;
}

export async function prepareStages(
  configs: readonly LoadedStage[],
  endpoints: Endpoints,
  options: { baseDir: string; observedLookup?: (stage: string, result: LookupResult) => void },
): Promise<PreparedStages> {
  let clickhouse: ClickHouseClient | undefined;
  const stages: PreparedStage[] = [];
  for (const stage of configs) {
    const policy = {
      name: stage.name,
      concurrency: stage.concurrency,
      timeout: stage.timeout,
      retry: stage.retry,
      onError: stage.onError,
    };
    if ('process' in stage) stages.push({ ...policy, process: stage.process });
    else if (stage.type === 'filter')
      stages.push({ ...policy, process: filterProcessor(stage.field, stage.in) });
    else if (stage.type === 'user-agent')
      stages.push({ ...policy, process: userAgentProcessor(stage.field) });
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
