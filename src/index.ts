// Sluice's public API: declare a pipeline (validated exactly as a YAML/JSON config is) and run it.
// Fixes kafkajs' read_committed filter for every kafkajs reader of this process (in any import order).
import './source/kafkajs-fix.js';
// Lets kafkajs encode the records it produces without a zero-filled buffer per record and header.
import './source/kafkajs-encoder.js';
// Keeps kafkajs from asking Node for negative timeouts (a warning on stderr on Node 24).
import './source/kafkajs-timers.js';
import { resolveEndpoints, type Endpoints } from './config/endpoints.js';
import type { Pipeline, PipelineInput } from './config/schema.js';
import { validatePipeline } from './config/validate.js';
import { createLogger, type Logger } from './ops/logger.js';
import type { RunningPipeline } from './runtime/pipeline-runner.js';
import { startPipeline } from './runtime/start-pipeline.js';

export type { Pipeline, PipelineInput, WindowConfig, StageConfig } from './config/schema.js';
export type {
  Processor,
  StageRecord,
  StageContext,
  ErrorAction,
  OnStageError,
} from './config/user-functions.js';
export type { RunningPipeline } from './runtime/pipeline-runner.js';
export type { PartitionStatus, PipelineStatus } from './runtime/member-status.js';
export type { Endpoints } from './config/endpoints.js';
// The errors a user can meet (thrown by run(), rejected by `done`, handed to onStageError, named in a
// dead letter's `sluice.error.code`); match on `code` (SluiceErrorCode) or the class.
export { SluiceError, SluiceBugError, type SluiceErrorCode } from './errors.js';
export { ConfigError, type ConfigIssue } from './config/config-error.js';
export { KafkaAuthenticationError, KafkaTlsError, KafkaUnavailableError } from './source/kafka-client.js';
export { StageAbortError } from './runtime/partition-worker.js';
export { StageTimeoutError } from './runtime/stage-attempts.js';
export { RecordError, type RecordOrigin } from './stages/record-error.js';
export { LookupError } from './stages/lookup-stage.js';
export { SinkRejectedError, SinkUnavailableError } from './sinks/clickhouse-schema.js';
export { loadPipelineFile } from './config/load.js';

/** Validates a pipeline written in TypeScript; throws a ConfigError naming every bad field. */
export function definePipeline(input: PipelineInput): Pipeline {
  return validatePipeline(input, 'definePipeline()');
}

export interface RunOptions {
  logger?: Logger;
  /** Overrides where Kafka and ClickHouse are; by default: config, environment, local stack. */
  endpoints?: Endpoints;
}

/** Starts the pipeline as a member of its consumer group; resolves once it has joined. */
export async function run(pipeline: Pipeline, options: RunOptions = {}): Promise<RunningPipeline> {
  const logger = options.logger ?? createLogger();
  const endpoints = options.endpoints ?? (await resolveEndpoints(pipeline));
  return startPipeline(pipeline, endpoints, logger);
}
