// The work of one assigned partition, in offset order: parse each record, assign it to its windows,
// advance the watermark, and hand over the windows that closed. It holds back the commit until the
// results derived from a record are sunk. No I/O here: the runner fetches, sinks and commits.
import type { Pipeline } from '../config/schema.js';
import type { Logger } from '../ops/logger.js';
import { parseJsonEvent } from '../stages/json-parse.js';
import { RecordError } from '../stages/record-error.js';
import type { UserEvent } from '../stages/user-event.js';
import { WindowStore, type WindowResult } from '../state/window-store.js';
import { tumblingWindowOf } from '../windows/tumbling.js';
import { Watermark } from '../windows/watermark.js';
import { OffsetTracker } from './offset-tracker.js';

export interface FetchedRecord {
  offset: string;
  value: Buffer | null;
  timestamp: string;
}

export interface PartitionCounters {
  processed: number;
  invalid: number;
  late: number;
}

function groupKeyOf(event: UserEvent, fields: readonly string[]): string[] {
  return fields.map((field) => {
    const value: unknown = event[field];
    if (value === undefined || value === null) return '';
    return typeof value === 'string' ? value : JSON.stringify(value);
  });
}

export class PartitionWorker {
  readonly counters: PartitionCounters = { processed: 0, invalid: 0, late: 0 };
  private readonly store: WindowStore;
  private readonly watermark: Watermark;
  private readonly offsets = new OffsetTracker();
  /** Closed results not yet acknowledged by the sink, oldest first; they hold the commit back. */
  private unsunk: WindowResult[] = [];
  /** Whether the last fetch reached the log end: idleness only counts once there is no backlog. */
  private caughtUp = false;

  constructor(
    readonly topic: string,
    readonly partition: number,
    private readonly pipeline: Pipeline,
    private readonly logger: Logger,
  ) {
    this.store = new WindowStore(pipeline.time.grace);
    this.watermark = new Watermark({
      maxOutOfOrdernessMs: pipeline.time.maxOutOfOrderness,
      idleTimeoutMs: pipeline.time.idleTimeout,
    });
  }

  get openWindows(): number {
    return this.store.size;
  }

  /**
   * Runs a fetched batch through parse and window assignment; skips records processed before.
   * `highWatermark` is the partition's log end at fetch time.
   */
  absorb(records: readonly FetchedRecord[], highWatermark: bigint, nowMs: number): void {
    for (const record of records) {
      const offset = BigInt(record.offset);
      if (this.offsets.isProcessed(offset)) continue;
      this.absorbOne(record, offset, nowMs);
      this.offsets.processed(offset);
      this.counters.processed += 1;
    }
    const last = records.at(-1);
    if (last !== undefined) this.caughtUp = BigInt(last.offset) + 1n >= highWatermark;
  }

  private absorbOne(record: FetchedRecord, offset: bigint, nowMs: number): void {
    const origin = { topic: this.topic, partition: this.partition, offset: record.offset };
    let parsed;
    try {
      parsed = parseJsonEvent(record, origin, this.pipeline.time.field);
    } catch (error) {
      if (!(error instanceof RecordError)) throw error;
      this.counters.invalid += 1;
      this.logger.warn({ offset: record.offset, err: error.message }, 'record skipped: invalid');
      return;
    }
    const watermark = this.watermark.current(nowMs, false);
    for (const definition of this.pipeline.windows) {
      const window = tumblingWindowOf(parsed.eventTimeMs, definition.size);
      if (this.store.isClosed(window.end, watermark)) {
        this.counters.late += 1;
        this.logger.debug(
          { offset: record.offset, window: definition.name, eventTime: parsed.eventTimeMs, watermark },
          'late event: its window has closed',
        );
        continue;
      }
      this.store.add(definition.name, window, groupKeyOf(parsed.event, definition.groupBy), offset);
    }
    this.watermark.observe(parsed.eventTimeMs, nowMs);
  }

  /** Every result that is closed and not yet sunk, including results whose earlier write failed. */
  resultsToSink(nowMs: number): readonly WindowResult[] {
    const closed = this.store.closeUpTo(this.watermark.current(nowMs, this.caughtUp));
    if (closed.length > 0) this.unsunk = this.unsunk.concat(closed);
    return this.unsunk;
  }

  /** The sink acknowledged the first `count` results handed out by resultsToSink. */
  sunk(count: number): void {
    this.unsunk = this.unsunk.slice(count);
  }

  /** The offset to commit now, if it moved: below every open window and every unsunk result. */
  committable(): bigint | undefined {
    let lowest = this.store.lowestOffsetHeld();
    for (const result of this.unsunk)
      if (lowest === undefined || result.firstOffset < lowest) lowest = result.firstOffset;
    return this.offsets.committable(lowest);
  }

  committed(offset: bigint): void {
    this.offsets.committed(offset);
  }
}
