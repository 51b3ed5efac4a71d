// The processor contract: a stage takes one record and returns zero (filter), one (map) or several
// (fan-out) values, synchronously or as a promise. The runtime carries each output's key, headers,
// event time and source offset, so processors deal in values only.

export interface StageRecord<T = unknown> {
  value: T;
  key: Buffer | null;
  headers: Record<string, string>;
  topic: string;
  partition: number;
  offset: string;
  /** Kafka record timestamp, epoch milliseconds as a string. */
  timestamp: string;
  /** Event time in epoch milliseconds, set by the parse stage. */
  eventTimeMs: number;
}

export interface StageContext {
  stage: string;
  topic: string;
  partition: number;
  offset: string;
  /** 1 on the first try, 2 on the first retry, … */
  attempt: number;
  /** Aborted when the attempt times out or the partition is revoked. */
  signal: AbortSignal;
}

/** Returns the output value, an array of values (fan-out; empty filters), or null/undefined (filter). */
export type Processor = (record: StageRecord, ctx: StageContext) => unknown;

/** What a failed stage does with the record: try again, drop it, park it in the dead-letter topic, or stop. */
export type ErrorAction = 'retry' | 'skip' | 'dead-letter' | 'abort';

export type OnStageError = (stage: string, error: unknown, ctx: StageContext) => ErrorAction | undefined;
