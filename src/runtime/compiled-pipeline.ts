// The pipeline as the runtime runs it, compiled once from the validated config (plain data): the
// topics it reads and writes, its record decoder, every stage as a ready processor with its policy,
// its windows, and the settings each part needs. The runtime and everything below it take these parts,
// never the config object whole, so a stage that was not prepared cannot reach a partition.
import { fieldPath } from '../aggregations/field-path.js';
import type { Endpoints } from '../config/endpoints.js';
import {
  groupIdOf,
  pipelineTopicsOf,
  rekeyedNamesOf,
  topicsToCreate,
  type PipelineTopics,
  type TopicToCreate,
} from '../config/pipeline-topics.js';
import type { BackpressureConfig, Pipeline, SourceConfig, WindowConfig } from '../config/schema.js';
import { rekeyPlanOf } from '../config/rekeying.js';
import { REPARTITION_HEADERS } from '../source/repartition-records.js';
import { fieldNeedsOf } from '../windows/event-fields.js';
import { groupKeyOf } from '../windows/partition-windows.js';
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
import { defineWindow, type WindowDefinition } from '../windows/window-definition.js';
import type { FieldNeed } from '../windows/event-fields.js';
import type { RepartitionGroup } from '../source/repartition-records.js';
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
  /**
   * The source side of re-keying (rekeying.ts): the windows computed after the repartition topic, whose
   * lateness is decided here, and where their events go. Absent when no window is re-keyed, and on the
   * side that computes them.
   */
  repartition?: RepartitionSpec;
  /** Closes what compiling opened (the lookups' ClickHouse client). */
  close(): Promise<void>;
}

/** Where a partition sends the events of re-keyed windows, and what it decides for them first. */
export interface RepartitionSpec {
  topic: string;
  /**
   * The repartition topic's partitions (the source's): every one gets this partition's watermark
   * markers. Known once the runner has looked at the topics: it sets it at start.
   */
  partitions: number;
  /** The re-keyed windows: an event's lateness for them is decided at its source partition. */
  definitions: readonly WindowDefinition[];
  /** The fields they read: an event lacking one is dead-lettered here, naming it. */
  needs: readonly FieldNeed[];
  groups: readonly RepartitionGroup[];
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
  const plan = rekeyPlanOf(pipeline);
  const define = (w: WindowConfig) => defineWindow(w, pipeline.time, pipeline.source.keyedBy);
  const topics = pipelineTopicsOf(pipeline);
  const rekeyed = plan.rekeyed.map(define);
  return {
    name: pipeline.name,
    groupId: groupIdOf(pipeline),
    exactlyOnce,
    commitIntervalMs: pipeline.processing.commitInterval,
    stalledAfterMs: pipeline.processing.commitInterval * pipeline.processing.stalledAfterIntervals,
    shutdownTimeoutMs: pipeline.shutdown.timeout,
    source: pipeline.source,
    topics,
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
      // Re-keyed windows are computed after the repartition topic (rekeyedPipelineOf), not here.
      windows: plan.direct.map(define),
      time: pipeline.time,
      stateMaxBytes: pipeline.state.maxBytes,
    },
    backpressure: pipeline.backpressure,
    sinks: {
      pipeline: pipeline.name,
      windows: plan.direct,
      clickhouse: pipeline.sinks.clickhouse,
      kafka: pipeline.sinks.kafka,
      exactlyOnce,
      keyedBy: pipeline.source.keyedBy,
    },
    ...(rekeyed.length === 0
      ? {}
      : {
          repartition: {
            topic: topics.repartition,
            partitions: 0,
            definitions: rekeyed,
            needs: fieldNeedsOf(rekeyed),
            groups: plan.groups.map((group) => {
              const paths = group.groupBy.map(fieldPath);
              return { keyOf: (event: unknown) => groupKeyOf(event, paths), windows: new Set(group.windows) };
            }),
          },
        }),
    close,
  };
}

/**
 * The side that computes the re-keyed windows: it reads the repartition topic (events already parsed,
 * checked and through the stages, their event time in a header) under its own consumer group, keeps
 * its state in its own changelog, and writes their rows; dead letters and late events go to the
 * pipeline's topics. `sources` is the source topic's partition count, each of which must be heard from.
 */
export function rekeyedPipelineOf(
  pipeline: Pipeline,
  sourceSide: CompiledPipeline,
  sources: number,
): CompiledPipeline {
  const plan = rekeyPlanOf(pipeline);
  const names = rekeyedNamesOf(pipeline);
  const topics: PipelineTopics = {
    ...sourceSide.topics,
    source: sourceSide.topics.repartition,
    changelog: names.changelog,
  };
  const retentionMs = pipeline.deadLetter.retention;
  return {
    ...sourceSide,
    groupId: names.groupId,
    source: { ...pipeline.source, topic: topics.source, groupId: names.groupId, fromBeginning: true },
    topics,
    topicsToCreate: [
      { topic: topics.deadLetter, retentionMs },
      { topic: topics.late, retentionMs },
      { topic: topics.changelog },
      ...topics.outputs.map((topic) => ({ topic, brokerDefaults: true })),
    ],
    chain: {
      decode: (value) => JSON.parse(value.toString('utf8')) as unknown,
      stages: [],
      contract: createEventContract({ ...pipeline.parse, format: 'json', events: 'any' }, process.cwd()),
      time: {
        field: undefined,
        path: undefined,
        format: 'epoch-millis',
        header: REPARTITION_HEADERS.eventTime,
      },
      parseOnError: 'dead-letter',
      quality: [],
      onStageError: undefined,
      isMarker: (raw) => raw.headers?.[REPARTITION_HEADERS.marker] !== undefined,
    },
    windows: {
      windows: plan.rekeyed.map((w) => defineWindow(w, pipeline.time, pipeline.source.keyedBy)),
      time: pipeline.time,
      stateMaxBytes: pipeline.state.maxBytes,
      sources,
    },
    sinks: { ...sourceSide.sinks, windows: plan.rekeyed },
    // Shedding guards the pipeline's input; the repartition topic holds records the source side already
    // accepted (and shed from once), so this side only pauses it: Kafka buffers them and nothing is lost.
    backpressure: { ...sourceSide.backpressure, strategy: 'pause-upstream' },
    repartition: undefined,
    // The source side owns what compiling opened.
    close: () => Promise.resolve(),
  };
}
