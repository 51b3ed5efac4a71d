// The functions a pipeline written in TypeScript may carry (custom processors, a stage-error policy,
// sink batch hooks), and the values they see. They are part of the pipeline's declared shape, so they
// live with the schema; the stages and sinks that call them import them from here.

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

/**
 * A stage takes one record and returns zero (filter), one (map) or several (fan-out) values,
 * synchronously or as a promise: the output value, an array of values (an empty one filters), or
 * null/undefined (filter). The runtime carries each output's key, headers, event time and source
 * offset, so processors deal in values only.
 */
export type Processor = (record: StageRecord, ctx: StageContext) => unknown;

/** What a failed stage does with the record: try again, drop it, park it in the dead-letter topic, or stop. */
export type ErrorAction = 'retry' | 'skip' | 'dead-letter' | 'abort';

export type OnStageError = (stage: string, error: unknown, ctx: StageContext) => ErrorAction | undefined;

/** A window result as a sink writes it: the table's columns, the same fields in a Kafka message. */
export type ResultRow = Record<string, string | number | null>;

export interface BatchHooks<Row> {
  /** Filters or reshapes a batch just before it is written; the rows it returns are what is written. */
  beforeFlush?(rows: Row[], group: string): Row[] | Promise<Row[]>;
  onSuccess?(rows: readonly Row[], group: string): void;
  onFail?(error: unknown, rows: readonly Row[], group: string): void;
}
