// Runs one record through one stage with the stage's policy: a timeout per attempt, retries with
// backoff and jitter (p-retry) for errors that may pass, and a final action (skip, dead-letter, abort)
// chosen by `onStageError` or the stage's `onError`. Bad input (a RecordError) is never retried: it
// would fail the same way again. Synchronous processors stay synchronous on success.
import { setTimeout as sleep } from 'node:timers/promises';
import pRetry from 'p-retry';
import type { RetryConfig } from '../config/schema.js';
import { SluiceError } from '../errors.js';
import { RecordError } from '../stages/record-error.js';
import type {
  ErrorAction,
  OnStageError,
  Processor,
  StageContext,
  StageRecord,
} from '../config/user-functions.js';

export interface StagePolicy {
  name: string;
  process: Processor;
  timeout: number;
  retry: RetryConfig;
  onError: Exclude<ErrorAction, 'retry'>;
}

export type StageOutcome =
  | { kind: 'out'; values: unknown[] }
  | { kind: 'failed'; action: Exclude<ErrorAction, 'retry'>; error: unknown; attempts: number };

export class StageTimeoutError extends SluiceError {
  constructor(stage: string, timeoutMs: number) {
    super(`stage ${stage} did not finish within ${timeoutMs} ms`, {
      code: 'SLUICE_STAGE_TIMEOUT',
      retriable: true,
    });
  }
}

function valuesOf(result: unknown): unknown[] {
  if (result === null || result === undefined) return [];
  return Array.isArray(result) ? result : [result];
}

function isPromise(value: unknown): value is Promise<unknown> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}

/**
 * What a stage attempt sees, with the signal it may watch: aborted on timeout or when the partition is
 * revoked. The signal is made only if the stage reads it — AbortSignal.any costs a controller, weak
 * references and a listener, and most stages never look (it was 6 % of the full pipeline's profile
 * when made for every record).
 */
class AttemptContext implements StageContext {
  readonly stage: string;
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  private controller: AbortController | undefined;
  private combined: AbortSignal | undefined;

  constructor(
    base: Omit<StageContext, 'signal' | 'attempt'>,
    readonly attempt: number,
    private readonly revoked: AbortSignal,
  ) {
    this.stage = base.stage;
    this.topic = base.topic;
    this.partition = base.partition;
    this.offset = base.offset;
  }

  get signal(): AbortSignal {
    if (!this.combined) {
      this.controller = new AbortController();
      this.combined = AbortSignal.any([this.controller.signal, this.revoked]);
    }
    return this.combined;
  }

  abort(): void {
    this.controller?.abort();
  }
}

function withTimeout<T>(
  promise: Promise<T>,
  stage: string,
  timeoutMs: number,
  attempt: AttemptContext,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      // The timeout wins the race before the stage hears of it: a stage that returns when aborted
      // must not have its partial result taken as the attempt's.
      reject(new StageTimeoutError(stage, timeoutMs));
      attempt.abort();
    }, timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The action for a failure: the callback's choice, else retry what may pass, else the stage's policy. */
function decide(
  policy: StagePolicy,
  error: unknown,
  ctx: StageContext,
  onStageError?: OnStageError,
): ErrorAction {
  const chosen = onStageError?.(policy.name, error, ctx);
  if (chosen) return chosen;
  if (error instanceof RecordError) return policy.onError;
  if (error instanceof SluiceError && !error.retriable) return policy.onError;
  return 'retry';
}

export function runStage(
  policy: StagePolicy,
  record: StageRecord,
  onStageError: OnStageError | undefined,
  revoked: AbortSignal,
): StageOutcome | Promise<StageOutcome> {
  const context = (attempt: number, signal: AbortSignal): StageContext => ({
    stage: policy.name,
    topic: record.topic,
    partition: record.partition,
    offset: record.offset,
    attempt,
    signal,
  });
  let first: unknown;
  const attempt = new AttemptContext(
    { stage: policy.name, topic: record.topic, partition: record.partition, offset: record.offset },
    1,
    revoked,
  );
  try {
    first = policy.process(record, attempt);
  } catch (error) {
    return afterFailure(policy, record, error, context(1, revoked), onStageError, revoked);
  }
  if (!isPromise(first)) return { kind: 'out', values: valuesOf(first) };
  return withTimeout(first, policy.name, policy.timeout, attempt).then(
    (result): StageOutcome => ({ kind: 'out', values: valuesOf(result) }),
    (error: unknown) => afterFailure(policy, record, error, context(1, revoked), onStageError, revoked),
  );
}

async function afterFailure(
  policy: StagePolicy,
  record: StageRecord,
  firstError: unknown,
  firstContext: StageContext,
  onStageError: OnStageError | undefined,
  revoked: AbortSignal,
): Promise<StageOutcome> {
  let action = decide(policy, firstError, firstContext, onStageError);
  if (action !== 'retry' || policy.retry.max === 0) {
    return {
      kind: 'failed',
      action: action === 'retry' ? policy.onError : action,
      error: firstError,
      attempts: 1,
    };
  }
  let attempts = 1;
  let lastError = firstError;
  try {
    // p-retry waits between its own attempts; this is the wait before the first retry.
    const jitter = policy.retry.jitter ? 1 + Math.random() : 1;
    await sleep(Math.min(policy.retry.baseDelay * jitter, policy.retry.maxDelay), undefined, {
      signal: revoked,
    });
    const values = await pRetry(
      async (attemptNumber) => {
        attempts = attemptNumber + 1;
        const attempt = new AttemptContext(firstContext, attempts, revoked);
        const result = policy.process(record, attempt);
        return valuesOf(
          isPromise(result) ? await withTimeout(result, policy.name, policy.timeout, attempt) : result,
        );
      },
      {
        retries: policy.retry.max - 1,
        factor: policy.retry.backoff === 'exponential' ? 2 : 1,
        minTimeout: policy.retry.baseDelay,
        maxTimeout: policy.retry.maxDelay,
        randomize: policy.retry.jitter,
        signal: revoked,
        shouldRetry: ({ error }) => {
          lastError = error;
          action = decide(policy, error, { ...firstContext, attempt: attempts }, onStageError);
          return action === 'retry';
        },
      },
    );
    return { kind: 'out', values };
  } catch (error) {
    lastError = error ?? lastError;
    const final = action === 'retry' ? policy.onError : action;
    return { kind: 'failed', action: final, error: lastError, attempts };
  }
}
