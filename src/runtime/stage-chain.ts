// The processor chain of one partition: parse, then the pipeline's stages, each an ordered stage with
// its own concurrency, timeout and retries, then the windows. Every item remembers the source record
// (its origin) it derives from; the origin is complete once every item derived from it has been
// absorbed, filtered, skipped or dead-lettered, however many a stage fanned out.
import type { Pipeline, StageConfig } from '../config/schema.js';
import { parseJsonEvent } from '../stages/json-parse.js';
import { filterProcessor } from '../stages/filter-stage.js';
import type { ErrorAction, Processor, StageRecord } from '../stages/processor.js';
import { OrderedStage } from './ordered-stage.js';
import { runStage, type StageOutcome, type StagePolicy } from './stage-attempts.js';

export interface FetchedRecord {
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  timestamp: string;
  headers?: Record<string, Buffer | string | (Buffer | string)[] | undefined>;
}

export interface Origin {
  readonly offset: bigint;
  readonly raw: FetchedRecord;
  readonly bytes: number;
  /** Items derived from this record that are still in the chain. */
  pending: number;
}

export interface ChainItem {
  origin: Origin;
  record: StageRecord;
}

export interface StageFailure {
  origin: Origin;
  stage: string;
  error: unknown;
  attempts: number;
  action: Exclude<ErrorAction, 'retry'>;
}

export interface ChainHandlers {
  /** The last stage's output, in offset order. */
  absorb(item: ChainItem): void;
  /** An item left the chain without output (filtered). */
  dropped(item: ChainItem): void;
  /** An item failed a stage for good; `action` says what to do with its record. */
  failed(failure: StageFailure): void;
  /** One item went through a stage (parse included): how it came out and how long it took. */
  observed?: (stage: string, outcome: StageObservation, ms: number) => void;
}

export type StageObservation = 'out' | 'filtered' | 'failed';

function observationOf(outcome: StageOutcome): StageObservation {
  if (outcome.kind === 'failed') return 'failed';
  return outcome.values.length === 0 ? 'filtered' : 'out';
}

function processorOf(stage: StageConfig): Processor {
  if ('process' in stage) return stage.process;
  if ('type' in stage) return filterProcessor(stage.field, stage.in);
  throw new Error(
    `stage ${stage.name}: module ${stage.module} was not loaded (run() and loadPipelineFile() load it)`,
  );
}

function stagePolicy(stage: StageConfig): StagePolicy {
  const process = processorOf(stage);
  return { name: stage.name, process, timeout: stage.timeout, retry: stage.retry, onError: stage.onError };
}

function headerText(headers: FetchedRecord['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (value === undefined) continue;
    const last = Array.isArray(value) ? value.at(-1) : value;
    if (last !== undefined) out[name] = last.toString();
  }
  return out;
}

export class StageChain {
  private readonly stages: OrderedStage<ChainItem, StageOutcome>[] = [];
  private items = 0;

  constructor(
    private readonly pipeline: Pick<Pipeline, 'stages' | 'time' | 'parse' | 'onStageError'>,
    private readonly topic: string,
    private readonly partition: number,
    private readonly revoked: AbortSignal,
    private readonly handlers: ChainHandlers,
  ) {
    pipeline.stages.forEach((config, index) => {
      const policy = stagePolicy(config);
      this.stages.push(
        new OrderedStage<ChainItem, StageOutcome>(
          config.concurrency,
          (item) =>
            this.timed(policy.name, () => runStage(policy, item.record, pipeline.onStageError, revoked)),
          (item, outcome) => this.afterStage(index, policy.name, item, outcome),
        ),
      );
    });
  }

  /** Items (source records and what stages derived from them) inside the chain. */
  get size(): number {
    return this.items;
  }

  /** Parses a source record and sends it down the chain. */
  push(origin: Origin): void {
    this.items += 1;
    const raw = origin.raw;
    const source = { topic: this.topic, partition: this.partition, offset: raw.offset };
    const started = performance.now();
    let parsed;
    try {
      parsed = parseJsonEvent(raw, source, this.pipeline.time.field);
    } catch (error) {
      this.handlers.observed?.('parse', 'failed', performance.now() - started);
      this.fail({ origin, stage: 'parse', error, attempts: 1, action: this.pipeline.parse.onError });
      return;
    }
    this.handlers.observed?.('parse', 'out', performance.now() - started);
    const record: StageRecord = {
      value: parsed.event,
      key: raw.key,
      headers: headerText(raw.headers),
      topic: this.topic,
      partition: this.partition,
      offset: raw.offset,
      timestamp: raw.timestamp,
      eventTimeMs: parsed.eventTimeMs,
    };
    this.forward(0, { origin, record });
  }

  /** Resolves once nothing is left in the chain. */
  async idle(): Promise<void> {
    for (const stage of this.stages) await stage.idle();
  }

  /** Runs one attempt sequence of a stage, reporting its outcome and duration. */
  private timed(
    stage: string,
    run: () => StageOutcome | Promise<StageOutcome>,
  ): StageOutcome | Promise<StageOutcome> {
    const observed = this.handlers.observed;
    if (!observed) return run();
    const started = performance.now();
    const report = (outcome: StageOutcome): StageOutcome => {
      observed(stage, observationOf(outcome), performance.now() - started);
      return outcome;
    };
    const outcome = run();
    return outcome instanceof Promise ? outcome.then(report) : report(outcome);
  }

  private forward(stageIndex: number, item: ChainItem): void {
    if (this.revoked.aborted) return;
    const stage = this.stages[stageIndex];
    if (stage) {
      stage.push(item);
      return;
    }
    this.items -= 1;
    this.handlers.absorb(item);
  }

  private afterStage(index: number, name: string, item: ChainItem, outcome: StageOutcome): void {
    if (this.revoked.aborted) return;
    if (outcome.kind === 'failed') {
      this.fail({
        origin: item.origin,
        stage: name,
        error: outcome.error,
        attempts: outcome.attempts,
        action: outcome.action,
      });
      return;
    }
    if (outcome.values.length === 0) {
      this.items -= 1;
      this.handlers.dropped(item);
      return;
    }
    // Fan-out: count the extra items before any of them can complete the origin.
    item.origin.pending += outcome.values.length - 1;
    this.items += outcome.values.length - 1;
    for (const value of outcome.values)
      this.forward(index + 1, { origin: item.origin, record: { ...item.record, value } });
  }

  private fail(failure: StageFailure): void {
    this.items -= 1;
    this.handlers.failed(failure);
  }
}
