// The root of Sluice's error hierarchy. Every error Sluice raises is a SluiceError: a stable `code` for
// callers and dashboards, a `retriable` flag that retry and backpressure logic read instead of
// messages, and the original error as `cause`. Area-specific subclasses live beside their code.

/**
 * What went wrong, for callers and dashboards; stable across releases.
 * - SLUICE_CONFIG_INVALID: the pipeline config or a command-line option does not validate.
 * - SLUICE_STACK_FAILED: the local Kafka + ClickHouse stack could not be started or stopped.
 * - SLUICE_BENCH_PEER_FAILED: a benchmark run or one of its peers (a JVM) failed.
 * - SLUICE_KAFKA_UNAVAILABLE: no Kafka broker answered, or a Kafka request failed for now.
 * - SLUICE_KAFKA_AUTHENTICATION: the broker refused the SASL credentials.
 * - SLUICE_KAFKA_TLS: the broker's TLS certificate is not trusted.
 * - SLUICE_KAFKA_STATE_TOPIC: a state (changelog) topic is not compacted, or does not match the source topic.
 * - SLUICE_SINK_UNAVAILABLE: a sink (ClickHouse) cannot be reached, or refused us or a migration.
 * - SLUICE_SCHEMA_REGISTRY_UNAVAILABLE: the schema registry did not give a usable answer (retried).
 * - SLUICE_RECORD_INVALID: a record cannot be parsed or validated; it is dead-lettered, not retried.
 * - SLUICE_LOOKUP_FAILED: a lookup stage found no row for a record, or its source failed.
 * - SLUICE_STATE_INVALID: window state read back from the changelog does not fit the pipeline.
 * - SLUICE_STAGE_TIMEOUT: a stage attempt took longer than its timeout.
 * - SLUICE_STAGE_ABORTED: a stage's error policy aborted the pipeline.
 * - SLUICE_CLOSED: a component was closed (shutdown, revoke) before the work handed to it was done.
 * - SLUICE_INTERNAL: an invariant of Sluice itself does not hold: a bug to report.
 */
export type SluiceErrorCode =
  | 'SLUICE_CONFIG_INVALID'
  | 'SLUICE_STACK_FAILED'
  | 'SLUICE_BENCH_PEER_FAILED'
  | 'SLUICE_KAFKA_UNAVAILABLE'
  | 'SLUICE_KAFKA_AUTHENTICATION'
  | 'SLUICE_KAFKA_TLS'
  | 'SLUICE_KAFKA_STATE_TOPIC'
  | 'SLUICE_SINK_UNAVAILABLE'
  | 'SLUICE_SCHEMA_REGISTRY_UNAVAILABLE'
  | 'SLUICE_RECORD_INVALID'
  | 'SLUICE_LOOKUP_FAILED'
  | 'SLUICE_STATE_INVALID'
  | 'SLUICE_STAGE_TIMEOUT'
  | 'SLUICE_STAGE_ABORTED'
  | 'SLUICE_CLOSED'
  | 'SLUICE_INTERNAL';

export interface SluiceErrorOptions {
  code: SluiceErrorCode;
  retriable: boolean;
  cause?: unknown;
}

export class SluiceError extends Error {
  readonly code: SluiceErrorCode;
  readonly retriable: boolean;

  constructor(message: string, options: SluiceErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = options.code;
    this.retriable = options.retriable;
  }
}

/** An invariant of Sluice itself does not hold (a state the code should rule out): a bug, never retried. */
export class SluiceBugError extends SluiceError {
  constructor(message: string, cause?: unknown) {
    super(message, { code: 'SLUICE_INTERNAL', retriable: false, cause });
  }
}

/** The message of anything thrown, for logs and wrapped errors. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
