// Delivers one batch to a sink's target: retried with backoff and jitter, behind a circuit breaker that
// opens after consecutive failed batches (the runner then pauses the source: backpressure, not a crash
// loop). Rows the target refuses as invalid are isolated by halving the batch, and only those go to the
// dead-letter topic; the rest land. A batch is never dropped: it lands, or its rows are dead-lettered.
import {
  BrokenCircuitError,
  ConsecutiveBreaker,
  ConstantBackoff,
  ExponentialBackoff,
  circuitBreaker,
  decorrelatedJitterGenerator,
  handleWhen,
  noJitterGenerator,
  retry,
  wrap,
  type IPolicy,
} from 'cockatiel';
import type { SinkDeliveryConfig } from '../config/schema.js';
import { messageOf } from '../errors.js';
import type { Logger } from '../ops/logger.js';

export interface SinkTarget<Row> {
  /** Writes the rows; resolves once the target acknowledged all of them. */
  write(rows: Row[], group: string): Promise<void>;
  /** The target refused the rows themselves (a type mismatch, say): retrying them cannot help. */
  isRejection(error: unknown): boolean;
}

export interface DeliveryEvents<Row> {
  /** Rows that cannot be written; resolves once they are durable in the dead-letter topic. */
  deadLetter(rows: Row[], group: string, error: unknown, reason: 'rejected' | 'exhausted'): Promise<void>;
  circuit(open: boolean): void;
  /** One write to the target, timed. */
  attempt(outcome: 'ok' | 'failed', rows: number, seconds: number): void;
  retry(): void;
}

export class SinkDelivery<Row> {
  private readonly policy: IPolicy;
  private circuitOpen = false;

  constructor(
    private readonly name: string,
    private readonly target: SinkTarget<Row>,
    private readonly config: SinkDeliveryConfig,
    private readonly events: DeliveryEvents<Row>,
    private readonly logger: Logger,
  ) {
    const retriable = handleWhen(
      (error) => !target.isRejection(error) && !(error instanceof BrokenCircuitError),
    );
    const { retry: r } = config;
    const backoff =
      r.backoff === 'fixed'
        ? new ConstantBackoff(r.baseDelay)
        : r.jitter
          ? new ExponentialBackoff({
              initialDelay: r.baseDelay,
              maxDelay: r.maxDelay,
              generator: decorrelatedJitterGenerator,
            })
          : new ExponentialBackoff({
              initialDelay: r.baseDelay,
              maxDelay: r.maxDelay,
              generator: noJitterGenerator,
            });
    const retries = retry(retriable, { maxAttempts: r.max, backoff });
    retries.onRetry(({ delay, ...reason }) => {
      const error = 'error' in reason ? reason.error : undefined;
      this.events.retry();
      this.logger.warn(
        { sink: name, retryInMs: Math.round(delay), err: messageOf(error) },
        'sink write failed; retrying',
      );
    });
    const breaker = circuitBreaker(retriable, {
      halfOpenAfter: config.circuitBreaker.halfOpenAfter,
      breaker: new ConsecutiveBreaker(config.circuitBreaker.failures),
    });
    breaker.onBreak(() => this.setCircuit(true));
    breaker.onReset(() => this.setCircuit(false));
    // The breaker counts batches whose retries all failed, not single attempts.
    this.policy = wrap(breaker, retries);
  }

  get open(): boolean {
    return this.circuitOpen;
  }

  /** Writes the batch; throws only while the target is unavailable and the policy is backpressure. */
  async deliver(rows: Row[], group: string): Promise<void> {
    try {
      await this.attempt(rows, group);
    } catch (error) {
      if (this.target.isRejection(error)) return this.isolate(rows, group, error);
      // An open circuit is backpressure whatever the policy: the batch was not even tried.
      if (this.config.onExhausted === 'dead-letter' && !(error instanceof BrokenCircuitError)) {
        await this.events.deadLetter(rows, group, error, 'exhausted');
        return;
      }
      throw error;
    }
  }

  private async attempt(rows: Row[], group: string): Promise<void> {
    await this.policy.execute(async () => {
      const started = performance.now();
      try {
        await this.target.write(rows, group);
        this.events.attempt('ok', rows.length, (performance.now() - started) / 1000);
      } catch (error) {
        this.events.attempt('failed', rows.length, (performance.now() - started) / 1000);
        throw error;
      }
    });
  }

  /** Halves a refused batch until the refused rows stand alone; those are dead-lettered, the rest written. */
  private async isolate(rows: Row[], group: string, error: unknown): Promise<void> {
    if (rows.length === 1) {
      this.logger.warn(
        { sink: this.name, group, err: messageOf(error) },
        'row refused; sent to the dead-letter topic',
      );
      await this.events.deadLetter(rows, group, error, 'rejected');
      return;
    }
    const middle = Math.ceil(rows.length / 2);
    for (const half of [rows.slice(0, middle), rows.slice(middle)]) {
      try {
        await this.attempt(half, group);
      } catch (halfError) {
        if (!this.target.isRejection(halfError)) throw halfError;
        await this.isolate(half, group, halfError);
      }
    }
  }

  private setCircuit(open: boolean): void {
    if (this.circuitOpen === open) return;
    this.circuitOpen = open;
    if (open)
      this.logger.warn(
        { sink: this.name, halfOpenAfterMs: this.config.circuitBreaker.halfOpenAfter },
        'sink circuit open; pausing the source until it answers again',
      );
    else this.logger.info({ sink: this.name }, 'sink circuit closed; resuming');
    this.events.circuit(open);
  }
}
