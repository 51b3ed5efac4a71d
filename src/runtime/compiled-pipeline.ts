// The pipeline as the runtime runs it, compiled once from the validated config (plain data): the
// topics it reads and writes, its record decoder, every stage as a ready processor with its policy,
// its windows, and the settings each part needs. The runtime and everything below it take these parts,
// never the config object whole, so a stage that was not prepared cannot reach a partition.
import { fieldPath } from '../aggregations/field-path.js';
import type { Endpoints } from '../config/endpoints.js';
import {
  groupIdOf,
  pipelineTopicsOf,
  topicsToCreate,
  type PipelineTopics,
  type TopicToCreate,
} from '../config/pipeline-topics.js';
import type { BackpressureConfig, Pipeline, SourceConfig } from '../config/schema.js';
import { loadStages } from '../config/stage-modules.js';
import type { Logger } from '../ops/logger.js';
import type { SinkSettings } from '../sinks/result-sink.js';
import type { LookupResult } from '../stages/lookup-stage.js';
import { prepareStages, type PreparedStage } from '../stages/prepared-stages.js';
import { createEventContract, type EventContract } from '../stages/event-contract.js';
import { DEFAULT_READER_SCHEMA, createDecoder, type DecoderHandle } from '../stages/record-decoders.js';
import { declaredFields, undeclaredFields } from '../stages/declared-fields.js';
import { ConfigError } from '../config/config-error.js';
import type { PartitionWindowSettings } from '../windows/partition-windows.js';
import { defineWindow } from '../windows/window-definition.js';
import type { ChainDefinition } from './stage-chain.js';

export interface CompiledPipeline {
  name: string;
  groupId: string;
  exactlyOnce: boolean;
  commitIntervalMs: number;
  /** A partition with uncommitted work this long without a commit makes the member unhealthy. */
  stalledAfterMs: number;
  shutdownTimeoutMs: number;
  source: SourceConfig;
  topics: PipelineTopics;
  /** The topics to create when missing (as many partitions as the source). */
  topicsToCreate: readonly TopicToCreate[];
  /** One decoder for every partition: Avro schemas (and the registry's cache) are shared. */
  decoder: DecoderHandle;
  chain: ChainDefinition;
  /** The window definitions (each with its fingerprint), event time and the state's byte budget. */
  windows: PartitionWindowSettings;
  backpressure: BackpressureConfig;
  sinks: SinkSettings;
  /** Closes what compiling opened (the lookups' ClickHouse client). */
  close(): Promise<void>;
}

export interface CompileOptions {
  /** Where relative schema and module paths are resolved (a config file's are absolute already). */
  baseDir: string;
  logger: Logger;
  /** A lookup stage answered from its cache, its source, or found nothing: for metrics. */
  observedLookup?: (stage: string, result: LookupResult) => void;
}

export async function compilePipeline(
  pipeline: Pipeline,
  endpoints: Endpoints,
  options: CompileOptions,
): Promise<CompiledPipeline> {
  const decoder = createDecoder(pipeline.parse, { baseDir: options.baseDir, logger: options.logger });
  const prepared = await prepareStages(await loadStages(pipeline.stages, options.baseDir), endpoints, {
    baseDir: options.baseDir,
    ...(options.observedLookup ? { observedLookup: options.observedLookup } : {}),
  });
  const contract = createEventContract(pipeline.parse, options.baseDir);
  // Windows reading fields the declared events cannot hold are refused here too, not only by validate-config.
  const undeclared = undeclaredFields(
    pipeline,
    declaredFields(pipeline.parse, options.baseDir, DEFAULT_READER_SCHEMA),
  );
  if (undeclared.issues.length > 0) throw new ConfigError(undeclared.issues);
  for (const field of undeclared.unsure)
    options.logger.warn({ field }, 'a window reads a field the declared events lack: a stage must add it');
  return assemblePipeline(pipeline, prepared.stages, decoder, contract, () => prepared.close());
}

/** The compiled pipeline from its config and its parts that took I/O to make. Pure. */
export function assemblePipeline(
  pipeline: Pipeline,
  stages: readonly PreparedStage[],
  decoder: DecoderHandle,
  contract: EventContract,
  close: () => Promise<void>,
): CompiledPipeline {
  const exactlyOnce = pipeline.processing.guarantee === 'exactly-once';
  return {
    name: pipeline.name,
    groupId: groupIdOf(pipeline),
    exactlyOnce,
    commitIntervalMs: pipeline.processing.commitInterval,
    stalledAfterMs: pipeline.processing.commitInterval * pipeline.processing.stalledAfterIntervals,
    shutdownTimeoutMs: pipeline.shutdown.timeout,
    source: pipeline.source,
    topics: pipelineTopicsOf(pipeline),
    topicsToCreate: topicsToCreate(pipeline),
    decoder,
    chain: {
      decode: (value) => decoder.decode(value),
      stages,
      contract,
      time: {
        field: pipeline.time.field,
        path: pipeline.time.field === undefined ? undefined : fieldPath(pipeline.time.field),
        format: pipeline.time.format,
      },
      parseOnError: pipeline.parse.onError,
      quality: pipeline.quality,
      onStageError: pipeline.onStageError,
    },
    windows: {
      windows: pipeline.windows.map((w) => defineWindow(w, pipeline.time)),
      time: pipeline.time,
      stateMaxBytes: pipeline.state.maxBytes,
    },
    backpressure: pipeline.backpressure,
    sinks: {
      pipeline: pipeline.name,
      windows: pipeline.windows,
      clickhouse: pipeline.sinks.clickhouse,
      kafka: pipeline.sinks.kafka,
      exactlyOnce,
    },
    close,
  };
}
