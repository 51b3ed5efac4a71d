// An error that one record caused. It carries where the record came from, so a log line or a
// dead letter can point at it, and the stage that refused it.
import { SluiceError } from '../errors.js';

export interface RecordOrigin {
  topic: string;
  partition: number;
  offset: string;
}

export class RecordError extends SluiceError {
  constructor(
    readonly origin: RecordOrigin,
    readonly stage: string,
    reason: string,
    cause?: unknown,
  ) {
    super(`${origin.topic}[${origin.partition}]@${origin.offset} ${stage}: ${reason}`, {
      code: 'SLUICE_RECORD_INVALID',
      retriable: false,
      cause,
    });
  }
}

/**
 * A value that cannot be read (a decoder's or a stage's verdict) before its origin is attached: the
 * stage chain wraps it in a RecordError naming the record. Never retried: it would fail the same way.
 */
export class RecordInvalidError extends SluiceError {
  constructor(reason: string, cause?: unknown) {
    super(reason, { code: 'SLUICE_RECORD_INVALID', retriable: false, cause });
  }
}
