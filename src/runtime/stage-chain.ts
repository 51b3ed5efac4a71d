// The processor chain of one partition: parse, then the pipeline's stages, each an ordered stage with
// its own concurrency, timeout and retries, then the windows. Every item remembers the source record
// (its origin) it derives from; the origin is complete once every item derived from it has been
// absorbed, filtered, skipped or dead-lettered, however many a stage fanned out.
import type { ParseConfig, QualityRule } from '../config/schema.js';
import { messageOf } from '../errors.js';
import type { FetchedRecord } from '../source/fetched-record.js';
import type { EventContract } from '../stages/event-contract.js';
import { parseEvent, type EventTime } from '../stages/event-parse.js';
import { RecordError, RecordInvalidError } from '../stages/record-error.js';
import { QualityChecker, type Violation } from '../stages/quality-rules.js';
import type { PreparedStage } from '../stages/prepared-stages.js';
import type { ErrorAction, OnStageError, StageRecord } from '../config/user-functions.js';
import { OrderedStage } from './ordered-stage.js';
import { runStage, type StageOutcome } from './stage-attempts.js';

export type { FetchedRecord } from '../source/fetched-record.js';

export interface Origin {
  readonly offset: bigint;
  readonly raw: FetchedRecord;
  readonly bytes: number;
  /** Items derived from this record that are still in the chain. */
  pending: number;
  /**
   * Re-keyed side: the pack (repartition-packing.ts) this event came out of. The event goes through the
   * chain as a record of its own (`raw` is its record as repartitionRecords made it); the pack, whose
   * offset it shares, completes once its last event has.
   */
  pack?: Origin;
  /** On a pack: how many events it holds. */
  events?: number;
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

/** What a partition's chain runs: compiled once per pipeline, shared by every partition. */
export interface ChainDefinition {
  /**
   * Decodes a record value (record-decoders.ts, shared by every partition): a document, or a promise
   * while a schema is fetched.
   */
  decode: (value: Buffer) => unknown;
  stages: readonly PreparedStage[];
  /** What a decoded document must be to be an event (the pipeline's declared contract). */
  contract: EventContract;
  /** Where the event time is: a field in a format, or the Kafka record timestamp. */
  time: EventTime;
  /** What a record that fails to parse or validate does. */
  parseOnError: ParseConfig['onError'];
  quality: readonly QualityRule[];
  onStageError: OnStageError | undefined;
  /**
   * Re-keyed windows' side: a record that is a source partition's watermark marker (repartition-records.ts),
   * not an event. It skips the chain, in its place in the offset order.
   */
  isMarker?: (raw: FetchedRecord) => boolean;
}

export interface ChainHandlers {
  /** The last stage's output, in offset order. */
  absorb(item: ChainItem): void;
  /** An item left the chain without output (filtered). */
  dropped(item: ChainItem): void;
  /** A watermark marker, where an event would have been absorbed (ChainDefinition.isMarker). */
  marker?(origin: Origin): void;
  /** An item failed a stage for good; `action` says what to do with its record. */
  failed(failure: StageFailure): void;
  /** One item went through a stage (parse included): how it came out and how long it took. */
  observed?: (stage: string, outcome: StageObservation, ms: number) => void;
  /** A data-quality rule was broken (any severity): for metrics and logs. */
  quality?: (violation: Violation, offset: string) => void;
}

export type StageObservation = 'out' | 'filtered' | 'failed';

function observationOf(outcome: StageOutcome): StageObservation {
  if (outcome.kind === 'failed') return 'failed';
  return outcome.values.length === 0 ? 'filtered' : 'out';
}

export function headerText(headers: FetchedRecord['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  if (!headers) return out;
  // Keys, not entries: one array per record rather than one per header as well.
  for (const name of Object.keys(headers)) {
    const value = headers[name];
    if (value === undefined) continue;
    const last = Array.isArray(value) ? value.at(-1) : value;
    if (last !== undefined) out[name] = last.toString();
  }
  return out;
}

export class StageChain {
  private readonly stages: OrderedStage<ChainItem, StageOutcome>[] = [];
  private items = 0;
  /** Records in line behind an asynchronous decode (its record first), and that decode. */
  private readonly waiting: Origin[] = [];
  private decoding: Promise<void> | undefined;
  private readonly quality: QualityChecker;

  constructor(
    private readonly definition: ChainDefinition,
    private readonly topic: string,
    private readonly partition: number,
    private readonly revoked: AbortSignal,
    private readonly handlers: ChainHandlers,
  ) {
    this.quality = new QualityChecker(definition.quality);
    definition.stages.forEach((policy, index) => {
      this.stages.push(
        new OrderedStage<ChainItem, StageOutcome>(
          policy.concurrency,
          (item) =>
            this.timed(policy.name, () => runStage(policy, item.record, definition.onStageError, revoked)),
          (item, outcome) => this.afterStage(index, policy.name, item, outcome),
        ),
      );
    });
  }

  /** Items (source records and what stages derived from them) inside the chain. */
  get size(): number {
    return this.items;
  }

  /** Parses a source record and sends it down the chain, in offset order. */
  push(origin: Origin): void {
    this.items += 1;
    // Behind a record whose schema is being fetched: wait in line, so order holds.
    if (this.waiting.length > 0) this.waiting.push(origin);
    else this.parse(origin);
  }

  /** Decodes and validates; a decode that has to wait (a schema fetch) holds the line until it settles. */
  private parse(origin: Origin): void {
    const raw = origin.raw;
    // The chain holds only a parse here (no stages, a synchronous decode): the marker is in its order.
    if (this.definition.isMarker?.(raw)) {
      this.items -= 1;
      this.handlers.marker?.(origin);
      return;
    }
    const source = { topic: this.topic, partition: this.partition, offset: raw.offset };
    const started = performance.now();
    let decoded: unknown;
    try {
      if (raw.value === null)
        throw new RecordInvalidError('expected a value, found a null value (tombstone)');
      decoded = this.definition.decode(raw.value);
    } catch (error) {
      this.parseFailed(origin, new RecordError(source, 'parse', messageOf(error), error), started);
      return;
    }
    if (decoded instanceof Promise) {
      this.waiting.unshift(origin);
      this.decoding = decoded.then(
        (document) => this.parsed(origin, document, started),
        (error: unknown) =>
          this.parseFailed(origin, new RecordError(source, 'parse', messageOf(error), error), started),
      );
      void this.decoding.finally(() => this.nextInLine());
      return;
    }
    this.parsed(origin, decoded, started);
  }

  /** The head of the line is done: parse what waited behind it until one has to wait again. */
  private nextInLine(): void {
    this.waiting.shift();
    this.decoding = undefined;
    while (this.waiting.length > 0) {
      const next = this.waiting.shift()!;
      this.parse(next);
      if (this.waiting[0] === next) return;
    }
  }

  private parseFailed(origin: Origin, error: unknown, started: number): void {
    this.handlers.observed?.('parse', 'failed', performance.now() - started);
    this.fail({ origin, stage: 'parse', error, attempts: 1, action: this.definition.parseOnError });
  }

  private parsed(origin: Origin, document: unknown, started: number): void {
    const raw = origin.raw;
    const source = { topic: this.topic, partition: this.partition, offset: raw.offset };
    let parsed;
    try {
      parsed = parseEvent(document, raw, source, this.definition.contract, this.definition.time);
    } catch (error) {
      this.parseFailed(origin, error, started);
      return;
    }
    this.handlers.observed?.('parse', 'out', performance.now() - started);
    if (this.quality.active) {
      const violations = this.quality.check(parsed.event, parsed.eventTimeMs);
      for (const violation of violations) this.handlers.quality?.(violation, raw.offset);
      const errors = violations.filter((v) => v.severity === 'error');
      if (errors.length > 0) {
        const message = errors.map((v) => v.message).join('; ');
        this.fail({
          origin,
          stage: 'quality',
          error: new RecordError(source, 'quality', message),
          attempts: 1,
          action: 'dead-letter',
        });
        return;
      }
      const warnings = violations.filter((v) => v.severity === 'warning').map((v) => v.message);
      if (warnings.length > 0) parsed = { ...parsed, event: { ...parsed.event, qualityWarnings: warnings } };
    }
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
