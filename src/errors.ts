// The root of Sluice's error hierarchy. Every error carries a stable `code` for callers and
// dashboards, and a `retriable` flag that retry and backpressure logic read instead of messages.

export type SluiceErrorCode =
  | 'SLUICE_CONFIG_INVALID'
  | 'SLUICE_STACK_FAILED'
  | 'SLUICE_BENCH_PEER_FAILED'
  | 'SLUICE_KAFKA_UNAVAILABLE'
  | 'SLUICE_KAFKA_AUTHENTICATION'
  | 'SLUICE_KAFKA_TLS'
  | 'SLUICE_SINK_UNAVAILABLE'
  | 'SLUICE_RECORD_INVALID'
  | 'SLUICE_STAGE_TIMEOUT'
  | 'SLUICE_STAGE_ABORTED';

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

/** The message of anything thrown, for logs and wrapped errors. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
