// The work of one assigned partition: an inbox of fetched records under the backpressure bounds, the
// stage chain, the windows (restored from the changelog on assignment), and snapshots for commits: at
// a barrier (nothing in the chain, no side write pending, every result sunk) the changed windows and a
// checkpoint offset below which everything is in the state. No Kafka or ClickHouse here: side effects
// (dead letters, overflow, late events) are injected.
import type { Violation } from '../stages/quality-rules.js';
import type { CompiledPipeline } from './compiled-pipeline.js';
import type { Logger } from '../ops/logger.js';
import type { RecordTotals } from '../ops/metrics.js';
import {
  PartitionWindows,
  type Lateness,
  type RebuiltWindows,
  type WindowCounters,
} from '../windows/partition-windows.js';
import type { WindowResult } from '../windows/window-result.js';
import { ONLY_WINDOWS_HEADER, admits, parseWindowRefs, type KeyCapDrop } from '../windows/key-cap.js';
import { PackedWindowStore } from '../state/packed-window-store.js';
import { SluiceError, messageOf } from '../errors.js';
import { RecordError } from '../stages/record-error.js';
import { BackpressureController, type BackpressureAction, type BufferFill } from './backpressure.js';
import { OffsetTracker } from './offset-tracker.js';
import {
  CHECKPOINT_KEY,
  encodeCheckpoint,
  windowChangelog,
  type RestoredPartition,
} from '../state/changelog-codec.js';
import type { OutgoingRecord } from '../source/outgoing-record.js';
import {
  REPARTITION_HEADERS,
  repartitionRecords,
  sourceReportOf,
  watermarkMarkers,
} from '../source/repartition-records.js';
import { SourcePositions, groupIdOf } from './source-positions.js';
import { unpackRepartitionRecord } from '../source/repartition-packing.js';
import { REPLAYED_FROM_HEADER } from '../sinks/dead-letters.js';
import { brokenNeed } from '../windows/event-fields.js';
import { lateness } from '../windows/lateness.js';
import {
  StageChain,
  headerText,
  type ChainItem,
  type FetchedRecord,
  type Origin,
  type StageFailure,
  type StageObservation,
} from './stage-chain.js';

export type { FetchedRecord } from './stage-chain.js';

/** What a partition runs: its chain of stages, its windows and its buffer bounds. */
export type PartitionDefinition = Pick<
  CompiledPipeline,
  'chain' | 'windows' | 'backpressure' | 'groupId' | 'repartition'
>;

export interface WorkerEffects {
  /** Writes the failed record to the dead-letter topic; resolves once it is durable. */
  deadLetter(failure: StageFailure): Promise<void>;
  /** Writes a shed record to the overflow topic (strategy `reject`); resolves once it is durable. */
  overflow(origin: Origin): Promise<void>;
  /** Writes an event that missed its window(s) to the late-events topic; resolves once it is durable. */
  late(event: LateEvent): Promise<void>;
  /** Writes an event the key cap dropped from window(s) to the dead-letter topic; resolves once durable. */
  keyCapped(event: KeyCappedEvent): Promise<void>;
  /** A stage chose `abort`: the pipeline must stop. */
  abort(error: Error): void;
  /**
   * Records for the repartition topic (re-keyed windows' events, watermark markers): they travel in
   * the partition's next commit transaction, with the offsets of the records they came from.
   */
  repartition?(records: readonly OutgoingRecord[]): void;
  /** One item went through a stage (for latency histograms). */
  stageObserved?(stage: string, outcome: StageObservation, ms: number): void;
  /** An event broke a data-quality rule (errors are also dead-lettered through `deadLetter`). */
  qualityViolation?(violation: Violation, offset: string): void;
}

/** Per stage: items out, filtered and failed, and their total time, since this member got the partition. */
export interface StageStats {
  out: number;
  filtered: number;
  failed: number;
  totalMs: number;
}

export interface LateEvent {
  origin: Origin;
  eventTimeMs: number;
  late: readonly Lateness[];
}

export interface KeyCappedEvent {
  origin: Origin;
  eventTimeMs: number;
  dropped: readonly KeyCapDrop[];
}

export type PartitionCounters = RecordTotals;

export function emptyCounters(): PartitionCounters {
  return {
    fetched: 0,
    completed: 0,
    filtered: 0,
    skipped: 0,
    deadLettered: 0,
    late: 0,
    shed: 0,
    keyCapped: 0,
    lateUpdates: 0,
    replaysDropped: 0,
  };
}

/** What one commit makes durable: the changelog records since the last commit and the offset to commit. */
export interface Snapshot {
  records: ReadonlyMap<string, Buffer | string | null>;
  offset: bigint;
}

/** A stage's error policy chose `abort`: what the running pipeline's `done` rejects with. */
export class StageAbortError extends SluiceError {
  constructor(failure: StageFailure, topic: string, partition: number) {
    super(
      `${topic}[${partition}]@${failure.origin.raw.offset} stage ${failure.stage} aborted the pipeline: ${messageOf(failure.error)}`,
      { code: 'SLUICE_STAGE_ABORTED', retriable: false, cause: failure.error },
    );
  }
}

/** Records between two checks for windows the watermark has closed. */
const CLOSE_CHECK_EVERY = 256;

/** A partition's windows as its worker runs them: empty, to be restored or filled. */
export function partitionWindowsOf(definition: PartitionDefinition): PartitionWindows<Buffer> {
  return new PartitionWindows(
    definition.windows,
    new PackedWindowStore(),
    windowChangelog,
    new PackedWindowStore(),
  );
}

export class PartitionWorker {
  readonly counters: PartitionCounters = emptyCounters();
  readonly stageStats = new Map<string, StageStats>();
  /** The largest buffer fill seen, for status and for tests of the bound. */
  readonly peak: BufferFill = { records: 0, bytes: 0 };
  private readonly windows: PartitionWindows<Buffer>;
  private readonly offsets = new OffsetTracker();
  private readonly backpressure: BackpressureController;
  private readonly chain: StageChain;
  private readonly revoke = new AbortController();
  private readonly inbox: Origin[] = [];
  private readonly chainCapacity: number;
  private unsunk: WindowResult[] = [];
  private bytes = 0;
  private sideWrites = 0;
  private shedPending = 0;
  /** Events of packs in flight beyond one per pack: the buffer bound counts events, not Kafka records. */
  private packedEvents = 0;
  /** The last origin fed to the chain (midPack). */
  private lastFed: Origin | undefined;
  private caughtUp = false;
  private highWatermark: bigint | undefined;
  /** Past the last skipped fetch of only markers or aborted records. */
  private skippedPosition: bigint | undefined;
  /** Past the last batch taken whole, its trailing transaction markers included. */
  private readEnd: bigint | undefined;
  private idleWaiters: (() => void)[] = [];
  /** Feeding the chain is held while a snapshot is taken. */
  private holding = false;
  private pumping = false;
  /** Records fed to the chain since the windows were last checked for closes. */
  private sinceCloseCheck = 0;
  private quietWaiters: (() => void)[] = [];
  /** Changelog records of snapshots whose commit has not succeeded yet (newest per key). */
  private unpublished = new Map<string, Buffer | string | null>();
  private lastSnapshotOffset: bigint | undefined;
  /**
   * The commit interval now running: rows handed to the sinks from here on are made durable (in the
   * state) by the snapshot that closes it. Snapshots number the intervals 1, 2, … from the restored one.
   */
  private currentInterval = 1;
  /** The definitions each checkpoint names, name → fingerprint (see the constructor). */
  private readonly definitions: Readonly<Record<string, string>>;
  /** Re-keying's source side: what the last markers said (undefined: none sent yet). */
  private lastMarked: string | undefined;
  private readonly createdAt: number;
  /** A re-keyed partition: how far it has taken in each source partition's events (source-positions.ts). */
  private readonly sourcePositions = new SourcePositions();
  /** A re-keyed partition: each window's group key id, as the positions name it. */
  private readonly groupOfWindow: ReadonlyMap<string, string>;
  /** Source partitions whose replayed events were dropped, said once each. */
  private readonly replaysSaid = new Set<number>();

  constructor(
    readonly topic: string,
    readonly partition: number,
    private readonly definition: PartitionDefinition,
    private readonly logger: Logger,
    private readonly effects: WorkerEffects,
    private readonly clock: () => number = Date.now,
    restored?: RestoredPartition,
    /** The windows rebuilt while `restored` was read (partition-restorer.ts); else from its records. */
    rebuilt?: RebuiltWindows<Buffer>,
  ) {
    this.createdAt = clock();
    this.groupOfWindow = new Map(definition.windows.windows.map((w) => [w.name, groupIdOf(w.groupBy)]));
    this.windows = rebuilt?.windows ?? partitionWindowsOf(definition);
    // Every checkpoint names the definitions its state was written under: today's windows, and removed
    // ones whose state is still in the changelog (until `sluice state drop-window`), so each start can
    // compare and warn again (runtime/restored-state-check.ts).
    const current = Object.fromEntries(definition.windows.windows.map((w) => [w.name, w.fingerprint]));
    const retired = Object.entries(restored?.checkpoint?.definitions ?? {}).filter(
      ([name]) => !(name in current),
    );
    this.definitions = { ...Object.fromEntries(retired), ...current };
    if (restored) {
      const quiet = new Set(retired.map(([name]) => name));
      let problems: string[];
      if (rebuilt) {
        this.windows.resume(restored.checkpoint, clock());
        problems = rebuilt.rebuild.problems(quiet);
      } else problems = this.windows.restore(restored.records, restored.checkpoint, clock(), quiet);
      // Nothing beyond the checkpoint to read: the partition is caught up until a record says otherwise.
      this.caughtUp =
        restored.checkpoint !== undefined && restored.checkpoint.offset >= restored.highWatermark;
      if (problems.length > 0)
        logger.warn({ dropped: problems.length, first: problems[0] }, 'changelog windows not restored');
      if (restored.checkpoint) {
        this.sourcePositions.restore(restored.checkpoint.sourcePositions);
        this.offsets.startAt(restored.checkpoint.offset);
        this.offsets.committed(restored.checkpoint.offset);
        this.lastSnapshotOffset = restored.checkpoint.offset;
        this.currentInterval = restored.checkpoint.interval + 1;
      } else if (definition.repartition && restored.highWatermark === 0n) {
        // A source partition that has never held a record: caught up at 0, so its first commit tells
        // the re-keyed windows it is empty (else they would wait for it for good).
        this.offsets.startAt(0n);
        this.caughtUp = true;
      }
    }
    this.backpressure = new BackpressureController(definition.backpressure);
    this.chainCapacity = 64 + 2 * definition.chain.stages.reduce((sum, stage) => sum + stage.concurrency, 0);
    this.chain = new StageChain(definition.chain, topic, partition, this.revoke.signal, {
      quality: (violation, offset) => effects.qualityViolation?.(violation, offset),
      absorb: (item) => this.absorb(item),
      marker: (origin) => {
        const report = sourceReportOf(headerText(origin.raw.headers));
        if (report?.kind === 'marker')
          this.windows.hearSource(report.sourcePartition, report.watermark, report.empty);
        // Done, not counted: `completed` counts events (a re-keyed side's equals the events re-keyed).
        this.itemDone(origin, false);
      },
      dropped: (item) => {
        this.counters.filtered += 1;
        this.itemDone(item.origin);
      },
      failed: (failure) => this.failed(failure),
      observed: (stage, outcome, ms) => {
        let stats = this.stageStats.get(stage);
        if (!stats) this.stageStats.set(stage, (stats = { out: 0, filtered: 0, failed: 0, totalMs: 0 }));
        stats[outcome] += 1;
        stats.totalMs += ms;
        effects.stageObserved?.(stage, outcome, ms);
      },
    });
  }

  get openWindows(): number {
    return this.windows.openWindows;
  }

  /** Windows that fired and are kept for their allowed lateness. */
  get retainedWindows(): number {
    return this.windows.retainedWindows;
  }

  /** The offset of the last successful commit (or of the restored checkpoint). */
  get committedOffset(): bigint | undefined {
    return this.offsets.committedOffsetValue;
  }

  /** Where this partition began on this member: its restored checkpoint, or its first record. */
  get startOffset(): bigint | undefined {
    return this.offsets.start;
  }

  /** The commit interval rows handed to the sinks now belong to (see the changelog's Checkpoint). */
  get interval(): number {
    return this.currentInterval;
  }

  /** Records fetched and not yet covered by a commit: work a stalled commit would hold back. */
  hasUncommittedWork(): boolean {
    const position = this.offsets.position();
    if (this.offsets.inFlight > 0) return true;
    if (position === undefined) return false;
    const committed = this.offsets.committedOffsetValue;
    return committed === undefined || position > committed;
  }

  get stateBytes(): number {
    return this.windows.stateBytes;
  }

  get windowCounters(): WindowCounters {
    return this.windows.counters;
  }

  /** Records and bytes between fetch and sink; shed records awaiting their overflow write are out already. */
  fill(): BufferFill {
    return {
      records: this.offsets.inFlight + this.packedEvents - this.shedPending + this.unsunk.length,
      bytes: this.bytes,
    };
  }

  watermark(): number {
    return this.windows.currentWatermark(this.clock());
  }

  /**
   * Takes fetched records into the inbox, in offset order, skipping any seen before. Under
   * `pause-upstream` it stops at the buffer bound and returns how many it took; the rest are fetched
   * again after the partition resumes. The shedding strategies take everything and shed the oldest.
   */
  /**
   * Records between this partition's position and its end as last fetched: the consumer lag. Undefined
   * before the first fetch.
   */
  lag(): bigint | undefined {
    // With every record read done, the position is past the trailing transaction markers as well: on a
    // transactional topic (the repartition topic) the end is always a marker, and a partition that has
    // read and processed everything has no lag.
    const position = this.offsets.inFlight === 0 ? this.readPosition() : this.offsets.position();
    if (this.highWatermark === undefined || position === undefined) return undefined;
    return this.highWatermark > position ? this.highWatermark - position : 0n;
  }

  /**
   * The next offset to read: past the last record taken or the last skipped fetch of markers, else the
   * restored checkpoint. Undefined before anything was read or restored.
   */
  readPosition(): bigint | undefined {
    let position = this.offsets.next;
    for (const candidate of [this.skippedPosition, this.readEnd])
      if (candidate !== undefined && (position === undefined || candidate > position)) position = candidate;
    return position;
  }

  accept(
    records: readonly FetchedRecord[],
    highWatermark: bigint,
    /** The batch's last offset including control records (transaction markers) after its last record. */
    lastOffset?: bigint,
  ): number {
    this.highWatermark = highWatermark;
    let taken = 0;
    for (const raw of records) {
      const offset = BigInt(raw.offset);
      if (this.offsets.isSeen(offset)) {
        taken += 1;
        continue;
      }
      const size = raw.value?.length ?? 0;
      let events: FetchedRecord[] | undefined;
      try {
        events = this.definition.windows.sources === undefined ? undefined : unpackRepartitionRecord(raw);
      } catch (error) {
        // Another version's pack, or a damaged one: its events cannot be counted, and must not be lost.
        this.effects.abort(error as Error);
        break;
      }
      // A pack counts as its events (the source side makes none larger than the bound).
      if (
        this.definition.backpressure.strategy === 'pause-upstream' &&
        !this.backpressure.fits(this.fill(), size, events?.length ?? 1)
      )
        break;
      this.offsets.track(offset);
      this.bytes += size;
      this.counters.fetched += 1;
      taken += 1;
      if (events === undefined) {
        this.inbox.push({ offset, raw, bytes: size, pending: 1 });
        continue;
      }
      // A pack: its events go through the chain one by one; the record is done when the last one is.
      const pack: Origin = { offset, raw, bytes: size, pending: events.length, events: events.length };
      this.packedEvents += events.length - 1;
      for (const event of events) this.inbox.push({ offset, raw: event, bytes: 0, pending: 1, pack });
    }
    const last = records[taken - 1];
    if (last !== undefined && taken === records.length) {
      const end = (lastOffset ?? BigInt(last.offset)) + 1n;
      this.caughtUp = end >= highWatermark;
      // Read past the batch's trailing transaction markers too: the position a log end is compared to.
      if (this.readEnd === undefined || end > this.readEnd) this.readEnd = end;
    } else if (taken < records.length) {
      this.caughtUp = false;
      this.backpressure.hold();
    }
    this.notePeak();
    this.shedWhileOver();
    this.pump();
    return taken;
  }

  /**
   * A fetch held only transaction markers or aborted records (kafkajs skips such batches): the
   * partition is read up to `lastOffset`. On a transactional topic the end is always a marker, so
   * without this an idle partition would never count as caught up and its last windows never close.
   */
  skippedTo(lastOffset: bigint, highWatermark: bigint): void {
    this.highWatermark = highWatermark;
    this.skippedPosition = lastOffset + 1n;
    this.caughtUp = lastOffset + 1n >= highWatermark;
  }

  /**
   * Nothing says this partition's log is quiet right now (paused, its leader out of reach, its end not
   * fetched lately or beyond what was read): its silence is not idleness (its log may be growing
   * unread), so idle time starts over from now.
   */
  notFetching(): void {
    this.windows.watermark.restartIdleClock(this.clock());
  }

  /** The backpressure transition to apply now, if any. */
  decideBackpressure(): BackpressureAction {
    return this.backpressure.decide(this.fill());
  }

  /**
   * Every result that is closed and not yet sunk, including results whose earlier write failed. Results
   * count against the buffer bound, so windows close only as far as there is room: a slow or failing
   * sink leaves due windows in state and the partition paused, instead of growing a result backlog.
   */
  resultsToSink(): readonly WindowResult[] {
    const room = this.definition.backpressure.maxBufferSize - this.fill().records;
    const now = this.clock();
    // Idle only when fetched to the end *and* everything fetched has been through the windows: records
    // still waiting in the inbox or the stages are not silence, however long the wait.
    const idle = this.caughtUp && this.isDrained();
    const closed = room > 0 ? this.windows.closeDue(now, idle, room) : [];
    if (room - closed.length > 0) closed.push(...this.windows.updatesDue(now, room - closed.length));
    if (closed.length > 0) {
      this.unsunk = this.unsunk.concat(closed);
      this.notePeak();
    }
    return this.unsunk;
  }

  /** The sink acknowledged the first `count` results handed out by resultsToSink. */
  sunk(count: number): void {
    this.unsunk = this.unsunk.slice(count);
  }

  /**
   * Stops feeding the chain and resolves once nothing is in flight: the chain is empty and every side
   * write is durable. The inbox keeps filling. `release()` resumes.
   */
  quiesce(): Promise<void> {
    this.holding = true;
    if (this.isQuiet()) return Promise.resolve();
    return new Promise((resolve) => this.quietWaiters.push(resolve));
  }

  release(): void {
    this.holding = false;
    this.pump();
  }

  /**
   * At a barrier (after quiesce), the changelog records since the last commit and the checkpoint
   * offset; undefined when results still wait for the sink (they would be lost from the state) or
   * nothing changed.
   */
  snapshot(): Snapshot | undefined {
    if (!this.isQuiet() || this.unsunk.length > 0 || this.windows.pendingRows > 0) return undefined;
    const offset = this.offsets.position();
    if (offset === undefined) return undefined;
    for (const [key, value] of this.windows.takeChangelog()) this.unpublished.set(key, value);
    const marking = this.markersDue();
    if (this.unpublished.size === 0 && offset === this.lastSnapshotOffset && marking === undefined)
      return undefined;
    if (marking !== undefined) {
      // In this commit's transaction, after every event the snapshot covers: a re-keyed partition
      // hears this watermark only once it has what came before it.
      const spec = this.definition.repartition!;
      this.effects.repartition?.(
        watermarkMarkers(this.partition, marking.watermark, marking.empty, spec.partitions),
      );
      this.lastMarked = `${marking.watermark}|${marking.empty}`;
    }
    this.unpublished.set(
      CHECKPOINT_KEY,
      encodeCheckpoint({
        offset,
        watermark: this.windows.watermark.snapshot(),
        interval: this.currentInterval,
        definitions: this.definitions,
        group: this.definition.groupId,
        ...(this.sourcePositions.size > 0 ? { sourcePositions: this.sourcePositions.snapshot() } : {}),
      }),
    );
    this.lastSnapshotOffset = offset;
    // Rows handed out from now on (while this snapshot commits, and after) are the next interval's.
    this.currentInterval += 1;
    return { records: new Map(this.unpublished), offset };
  }

  /**
   * Re-keying's source side: the watermark to send the re-keyed partitions when it moved since the last
   * markers (events, or idleness) or none went yet; `empty` once it has been caught up without ever an
   * event for `idleTimeout` (as a quiet partition goes idle): the re-keyed windows stop waiting for it.
   * Not at once: a partition whose first events come a moment after the others' must find their
   * windows still open.
   */
  private markersDue(): { watermark: number; empty: boolean } | undefined {
    if (!this.definition.repartition) return undefined;
    const now = this.clock();
    const watermark = this.windows.watermark.current(now, this.caughtUp && this.isDrained());
    const empty =
      watermark === Number.NEGATIVE_INFINITY &&
      this.caughtUp &&
      now - this.createdAt >= this.definition.windows.time.idleTimeout;
    return this.lastMarked === `${watermark}|${empty}` ? undefined : { watermark, empty };
  }

  /**
   * At a barrier, every row a snapshot must not leave behind: results not yet sunk and the rows waiting
   * since merges or budget closes. Not capped by the buffer bound: they are in memory already.
   */
  resultsBeforeSnapshot(): readonly WindowResult[] {
    const pending = this.windows.takePending();
    if (pending.length > 0) this.unsunk = this.unsunk.concat(pending);
    return this.unsunk;
  }

  /** The snapshot's commit succeeded: its records are durable and its offset committed. */
  published(snapshot: Snapshot): void {
    for (const [key, value] of snapshot.records)
      if (this.unpublished.get(key) === value) this.unpublished.delete(key);
    this.offsets.committed(snapshot.offset);
  }

  /** Resolves once every accepted record has gone through the chain and its side writes are durable. */
  drained(): Promise<void> {
    if (this.isDrained()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** The partition was revoked or the pipeline stops: abandon in-flight work; nothing is committed after. */
  close(): void {
    this.revoke.abort();
    this.inbox.length = 0;
    this.packedEvents = 0;
    this.resolveIdle(true);
  }

  private isDrained(): boolean {
    return this.inbox.length === 0 && this.chain.size === 0 && this.sideWrites === 0;
  }

  /**
   * Feeds the chain from the inbox. Not re-entrant: a record that completes synchronously calls back
   * into pump, which then returns at once and leaves the feeding to this loop, so the stack stays flat
   * however many records a batch holds.
   */
  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (
        (!this.holding || this.midPack()) &&
        this.inbox.length > 0 &&
        this.chain.size < this.chainCapacity &&
        !this.revoke.signal.aborted
      ) {
        const origin = this.inbox.shift() as Origin;
        this.lastFed = origin;
        this.chain.push(origin);
        if (++this.sinceCloseCheck >= CLOSE_CHECK_EVERY) this.closeWhatIsDue();
      }
    } finally {
      this.pumping = false;
    }
    this.resolveIdle(false);
  }

  private isQuiet(): boolean {
    return this.chain.size === 0 && this.sideWrites === 0 && !this.midPack();
  }

  /**
   * Some of a pack's events are in the chain (or through) and some still in the inbox. A barrier waits
   * for the rest: a snapshot holds a pack whole or not at all, since its offset, the checkpoint's unit,
   * is the pack's.
   */
  private midPack(): boolean {
    const next = this.inbox[0];
    return next?.pack !== undefined && next.pack === this.lastFed?.pack && !this.revoke.signal.aborted;
  }

  private shedWhileOver(): void {
    while (this.inbox.length > 0 && this.backpressure.decide(this.fill()) === 'shed') {
      const origin = this.inbox.shift() as Origin;
      this.counters.shed += 1;
      if (this.definition.backpressure.strategy === 'reject') {
        this.shedPending += 1;
        this.bytes -= origin.bytes;
        const written = this.effects.overflow(origin).finally(() => {
          this.shedPending -= 1;
          this.bytes += origin.bytes; // itemDone subtracts it again
        });
        this.sideWrite(written, origin);
      } else {
        this.itemDone(origin);
      }
    }
  }

  /**
   * Moves the windows the event watermark has closed to the results awaiting the sinks while records
   * flow, not only on the runner's tick: one fetch can hold minutes of event time, and meanwhile a
   * key's closed sessions would pile up (each of its events scanning them). The same closes as the
   * tick's (event watermark only, within the buffer's room); the tick hands them to the sinks. The
   * results array is replaced, never changed: a sink write in flight holds the previous one.
   */
  private closeWhatIsDue(): void {
    this.sinceCloseCheck = 0;
    const room = this.definition.backpressure.maxBufferSize - this.fill().records;
    if (room <= 0) return;
    const closed = this.windows.closeDue(this.clock(), false, room);
    if (closed.length === 0) return;
    this.unsunk = this.unsunk.concat(closed);
    this.notePeak();
  }

  private absorb(item: ChainItem): void {
    const only = replayedInto(item.origin);
    if (!this.takenOnce(item, only)) {
      this.counters.replaysDropped += 1;
      this.itemDone(item.origin);
      return;
    }
    const spec = this.definition.repartition;
    // Re-keyed windows' source side: a field they read is checked here, and their lateness decided
    // against this partition's watermark before the event (absorbing moves it), then the event leaves.
    const invalidHere = spec ? brokenNeed(item.record.value, spec.needs) : undefined;
    const before = spec ? this.windows.watermark.current(this.clock(), false) : Number.NEGATIVE_INFINITY;
    const outcome =
      invalidHere === undefined
        ? this.windows.absorb(this.windowedEvent(item), item.origin.offset, this.clock(), only)
        : { late: [], capped: 0, invalid: invalidHere };
    if (spec && outcome.invalid === undefined) {
      const judged = lateness(spec.definitions, item.record.eventTimeMs, before);
      const admitted = only ? restrictTo(judged.admitted, only) : judged.admitted;
      outcome.late.push(...judged.late);
      this.effects.repartition?.(
        repartitionRecords(
          {
            value: item.record.value,
            eventTimeMs: item.record.eventTimeMs,
            sourcePartition: this.partition,
            sourceOffset: item.origin.raw.offset,
            watermark: before,
            admitted,
          },
          spec.groups,
        ),
      );
    }
    if (outcome.invalid !== undefined) {
      // A field a window needs is missing or mistyped: into no window, and dead-lettered naming it.
      const source = { topic: this.topic, partition: this.partition, offset: item.origin.raw.offset };
      this.failed({
        origin: item.origin,
        stage: 'window',
        error: new RecordError(source, 'window', outcome.invalid),
        attempts: 1,
        action: 'dead-letter',
      });
      return;
    }
    this.counters.keyCapped += outcome.capped;
    // The engine counts them; this worker's engine lives exactly as long as the worker.
    this.counters.lateUpdates = this.windows.counters.lateUpdates;
    if (outcome.late.length > 0) {
      this.counters.late += 1;
      this.logger.debug(
        { offset: item.record.offset, eventTime: item.record.eventTimeMs, late: outcome.late },
        'late event: sent to the late-events topic',
      );
      // The record is done only once its late-events copy is durable: never silently dropped.
      item.origin.pending += 1;
      const write = this.effects.late({
        origin: item.origin,
        eventTimeMs: item.record.eventTimeMs,
        late: outcome.late,
      });
      this.sideWrite(write, item.origin);
    }
    if (outcome.dropped) {
      this.logger.debug(
        { offset: item.record.offset, dropped: outcome.dropped },
        'key cap: event sent to the dead-letter topic',
      );
      // Like a late event: done only once its dead letter is durable, so `dlq replay` can bring it back.
      item.origin.pending += 1;
      const write = this.effects.keyCapped({
        origin: item.origin,
        eventTimeMs: item.record.eventTimeMs,
        dropped: outcome.dropped,
      });
      this.sideWrite(write, item.origin);
    }
    this.itemDone(item.origin);
  }

  /**
   * On a re-keyed partition, whether the event is new: false for one of a source partition's events
   * that came a second time (source-positions.ts), whose first copy the state holds already. A
   * replayed dead letter is new whatever its origin (its first copy was not counted where it goes now).
   */
  private takenOnce(item: ChainItem, only: ReadonlySet<string> | undefined): boolean {
    if (this.definition.windows.sources === undefined || only === undefined) return true;
    const headers = item.record.headers;
    if (headers[REPLAYED_FROM_HEADER] !== undefined) return true;
    const source = Number(headers[REPARTITION_HEADERS.sourcePartition]);
    const offset = Number(headers[REPARTITION_HEADERS.sourceOffset]);
    const [first] = only;
    const group = first === undefined ? undefined : this.groupOfWindow.get(first.split('@')[0]!);
    if (!Number.isSafeInteger(source) || !Number.isSafeInteger(offset) || group === undefined) return true;
    if (this.sourcePositions.admit(source, group, offset)) return true;
    if (!this.replaysSaid.has(source)) {
      this.replaysSaid.add(source);
      this.logger.warn(
        { sourcePartition: source, sourceOffset: offset, offset: item.origin.offset.toString() },
        'events of a source partition came again (a transaction Kafka completed without ending it in ' +
          'every partition was replayed): the copies are dropped, their first copies are counted',
      );
    }
    return false;
  }

  /** The record as the windows take it; on the re-keyed side, with its source partition's watermark. */
  private windowedEvent(item: ChainItem) {
    const record = item.record;
    if (this.definition.windows.sources === undefined) return record;
    // A replayed dead letter says nothing of how far its source partition has come.
    if (record.headers[REPLAYED_FROM_HEADER] !== undefined) return record;
    const report = sourceReportOf(record.headers);
    return report?.kind === 'event'
      ? { ...record, source: { partition: report.sourcePartition, watermark: report.watermark } }
      : record;
  }

  private failed(failure: StageFailure): void {
    const context = {
      offset: failure.origin.raw.offset,
      stage: failure.stage,
      attempts: failure.attempts,
      err: messageOf(failure.error),
    };
    switch (failure.action) {
      case 'skip':
        this.counters.skipped += 1;
        this.logger.warn(context, 'record skipped after a stage error');
        this.itemDone(failure.origin);
        break;
      case 'dead-letter':
        this.counters.deadLettered += 1;
        this.logger.warn(context, 'record sent to the dead-letter topic');
        this.sideWrite(this.effects.deadLetter(failure), failure.origin);
        break;
      case 'abort':
        this.logger.error(context, 'stage error aborts the pipeline');
        this.effects.abort(new StageAbortError(failure, this.topic, this.partition));
        break;
    }
  }

  /** A dead letter or overflow write: the record completes only once the write is durable. */
  private sideWrite(write: Promise<void>, origin: Origin): void {
    this.sideWrites += 1;
    write.then(
      () => {
        this.sideWrites -= 1;
        this.itemDone(origin);
      },
      (error: unknown) => {
        // The writer retries until closed; a rejection means the partition was abandoned.
        this.sideWrites -= 1;
        this.logger.warn({ offset: origin.raw.offset, err: messageOf(error) }, 'side write abandoned');
        this.resolveIdle(false);
      },
    );
  }

  private itemDone(origin: Origin, counted = true): void {
    origin.pending -= 1;
    if (origin.pending > 0) return;
    if (origin.pack) {
      if (counted) this.counters.completed += 1;
      this.itemDone(origin.pack, false);
      return;
    }
    if (origin.events !== undefined) this.packedEvents -= origin.events - 1;
    this.offsets.complete(origin.offset);
    this.bytes -= origin.bytes;
    if (counted) this.counters.completed += 1;
    this.pump();
  }

  private notePeak(): void {
    const fill = this.fill();
    if (fill.records > this.peak.records) this.peak.records = fill.records;
    if (fill.bytes > this.peak.bytes) this.peak.bytes = fill.bytes;
  }

  private resolveIdle(force: boolean): void {
    if (this.quietWaiters.length > 0 && (force || this.isQuiet())) {
      const quiet = this.quietWaiters;
      this.quietWaiters = [];
      quiet.forEach((resolve) => resolve());
    }
    if (this.idleWaiters.length === 0 || (!force && !this.isDrained())) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    waiters.forEach((resolve) => resolve());
  }
}

/** Window refs (`name`, `name@start`) narrowed to those a replayed record may enter (`only`). */
function restrictTo(refs: readonly string[], only: ReadonlySet<string>): string[] {
  const out: string[] = [];
  for (const ref of refs) {
    const at = ref.indexOf('@');
    if (at >= 0) {
      if (admits(only, ref.slice(0, at), Number(ref.slice(at + 1)))) out.push(ref);
    } else if (only.has(ref)) out.push(ref);
    else out.push(...[...only].filter((o) => o.startsWith(`${ref}@`)));
  }
  return out;
}

/** The windows a replayed dead letter may enter (its `sluice.only.windows` header); undefined for any other. */
function replayedInto(origin: Origin): ReadonlySet<string> | undefined {
  const header = origin.raw.headers?.[ONLY_WINDOWS_HEADER];
  if (header === undefined) return undefined;
  const last = Array.isArray(header) ? header.at(-1) : header;
  return parseWindowRefs(last?.toString());
}
