// `sluice late replay`: merges late events (the late-events topic) into the rows of the windows they
// missed. Each late record is run through the pipeline's chain again to get its event and event time;
// for each window its `sluice.late.window.refs` header names (`definition@start`), the row of its group
// key and source partition is read, the event merged in (late-row-merge.ts) and the row written again
// with a higher version and the record marked in `late_applied`, so a record merged before a crash is
// never merged twice. What cannot be merged (count_distinct, sessions, records without refs, events the
// stages now filter or fail) is counted by window and reason, never half-applied.
import type { Pipeline, WindowConfig } from '../config/schema.js';
import { DEAD_LETTER_HEADERS, LATE_HEADERS, originalHeaders } from '../sinks/dead-letters.js';
import {
  formatLateApplied,
  lateAppliedCovers,
  parseLateApplied,
  withLateApplied,
} from '../sinks/late-applied.js';
import { mergeLateEvent, unmergeableWindow } from '../sinks/late-row-merge.js';
import type { ReplacementRow, StoredRow, WindowRowIdentity } from '../sinks/late-window-rows.js';
import type { RecordHeaders } from '../source/outgoing-record.js';
import type { StageRecord } from '../config/user-functions.js';
import { parseWindowRefs } from '../windows/key-cap.js';
import { groupKeyOf } from '../windows/partition-windows.js';
import { slidingWindowsOf } from '../windows/sliding.js';
import { tumblingWindowOf } from '../windows/tumbling.js';
import type { WindowDefinition } from '../windows/window-definition.js';
import type { CompiledPipeline } from './compiled-pipeline.js';
import { runThroughChain } from './single-record-chain.js';

/** A record of the late-events topic: where it is there, and what the pipeline wrote. */
export interface LateRecord {
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  timestamp: string;
  headers?: RecordHeaders;
}

/** Where the rows are: ClickHouse (late-window-rows.ts), or a fake in tests. */
export interface LateRowStore {
  current(identity: WindowRowIdentity): Promise<StoredRow | undefined>;
  write(identity: WindowRowIdentity, row: ReplacementRow): Promise<void>;
}

/** What one window of one late record came to. */
export interface LateOutcome {
  late: string;
  window: string;
  key?: readonly string[];
  action: 'applied' | 'already applied' | 'not applied';
  reason?: string;
}

export const LATE_REASONS = {
  noRefs: 'the late record names no windows (written by a Sluice before sluice.late.window.refs)',
  unknownWindow: 'the pipeline has no such window now',
  filtered: 'the stages now filter the event out',
  failed: 'the stages now fail the event',
  fanOut: 'the stages fan the record out into several events: the late record does not say which one it is',
  otherTime: 'the stages now give the event another time, outside the window',
  unreadableMarks: 'the row has a late_applied the replay cannot read',
} as const;

function header(headers: RecordHeaders | undefined, name: string): string | undefined {
  const value = headers?.[name];
  return (Array.isArray(value) ? value.at(-1) : value)?.toString();
}

function windowAt(definition: WindowDefinition, start: number, eventTimeMs: number) {
  const windows =
    definition.type === 'tumbling'
      ? [tumblingWindowOf(eventTimeMs, definition.sizeMs)]
      : slidingWindowsOf(eventTimeMs, definition.sizeMs, definition.advanceMs);
  return windows.find((w) => w.start === start);
}

export class LateReplay {
  readonly applied = new Map<string, number>();
  /** `window: reason` → how many windows of late records were left. */
  readonly notApplied = new Map<string, number>();
  alreadyApplied = 0;
  records = 0;
  private readonly definitions: Map<string, WindowDefinition>;
  private readonly configs: Map<string, WindowConfig>;

  constructor(
    private readonly pipeline: Pipeline,
    private readonly compiled: CompiledPipeline,
    private readonly rows: LateRowStore,
    private readonly options: { dryRun: boolean; onOutcome?: (outcome: LateOutcome) => void },
  ) {
    // Every window: those computed where their events are, and the re-keyed ones.
    const all = [...compiled.windows.windows, ...(compiled.repartition?.definitions ?? [])];
    this.definitions = new Map(all.map((d) => [d.name, d]));
    this.configs = new Map(pipeline.windows.map((w) => [w.name, w]));
  }

  /** Merges one late record into the windows it missed; throws only when ClickHouse fails. */
  async replay(record: LateRecord): Promise<void> {
    this.records += 1;
    const late = `${record.partition}@${record.offset}`;
    const refs = parseWindowRefs(header(record.headers, LATE_HEADERS.windowRefs));
    const lateFor = (header(record.headers, LATE_HEADERS.windows) ?? '').split(',').filter(Boolean);
    // Sessions are named in sluice.late.windows only: they have no window to merge into.
    for (const name of lateFor) {
      const definition = this.definitions.get(name);
      if (definition?.type === 'session') this.leave(late, name, unmergeableWindow(definition)!);
      else if (!refs) this.leave(late, name, LATE_REASONS.noRefs);
    }
    if (!refs) return;
    const targets: { ref: string; name: string; start: number; definition?: WindowDefinition }[] = [];
    for (const ref of refs) {
      const at = ref.lastIndexOf('@');
      const name = at < 0 ? ref : ref.slice(0, at);
      targets.push({ ref, name, start: Number(ref.slice(at + 1)), definition: this.definitions.get(name) });
    }
    const mergeable = targets.filter((t) => {
      const reason = t.definition ? unmergeableWindow(t.definition) : LATE_REASONS.unknownWindow;
      if (reason) this.leave(late, t.ref, reason, t.name);
      return reason === undefined;
    });
    if (mergeable.length === 0) return;
    const event = await this.eventOf(record);
    if (typeof event === 'string') {
      for (const t of mergeable) this.leave(late, t.ref, event, t.name);
      return;
    }
    for (const t of mergeable) await this.mergeInto(record, late, t.name, t.start, t.definition!, event);
  }

  /** The one event the record gives through today's chain, or why there is none. */
  private async eventOf(record: LateRecord): Promise<StageRecord | string> {
    const partition = Number(header(record.headers, DEAD_LETTER_HEADERS.sourcePartition));
    const offset = header(record.headers, DEAD_LETTER_HEADERS.sourceOffset) ?? '0';
    const topic = header(record.headers, DEAD_LETTER_HEADERS.sourceTopic) ?? this.compiled.topics.source;
    const outcome = await runThroughChain(this.compiled.chain, topic, partition, {
      offset,
      key: record.key,
      value: record.value,
      timestamp: record.timestamp,
      headers: originalHeaders(record.headers),
    });
    if (outcome.kind === 'filtered') return LATE_REASONS.filtered;
    if (outcome.kind === 'failed') return `${LATE_REASONS.failed} (${outcome.stage})`;
    if (outcome.events.length > 1) return LATE_REASONS.fanOut;
    return outcome.events[0]!;
  }

  private async mergeInto(
    record: LateRecord,
    late: string,
    name: string,
    start: number,
    definition: WindowDefinition,
    event: StageRecord,
  ): Promise<void> {
    const ref = `${name}@${start}`;
    const window = windowAt(definition, start, event.eventTimeMs);
    if (!window) return this.leave(late, ref, LATE_REASONS.otherTime, name);
    const key = groupKeyOf(event.value, definition.groupByPaths);
    const sourcePartition = Number(header(record.headers, DEAD_LETTER_HEADERS.sourcePartition));
    const identity: WindowRowIdentity = {
      window: this.configs.get(name)!,
      start: window.start,
      end: window.end,
      key,
      // A re-keyed window's row is the key's, whichever partition computed it.
      sourcePartition: definition.rekeyed ? undefined : sourcePartition,
    };
    const current = await this.rows.current(identity);
    const marks = parseLateApplied(current?.lateApplied);
    if (!marks) return this.leave(late, ref, LATE_REASONS.unreadableMarks, name, key);
    const offset = BigInt(record.offset);
    if (lateAppliedCovers(marks, record.partition, offset)) {
      this.alreadyApplied += 1;
      this.options.onOutcome?.({ late, window: ref, key, action: 'already applied' });
      return;
    }
    const merged = mergeLateEvent(definition.aggregations, current?.values, event.value);
    if ('unmergeable' in merged) return this.leave(late, ref, merged.unmergeable, name, key);
    if (!this.options.dryRun)
      await this.rows.write(
        { ...identity, sourcePartition: current?.sourcePartition ?? sourcePartition },
        {
          values: merged.values,
          lateApplied: formatLateApplied(withLateApplied(marks, record.partition, offset)),
          version: current ? current.version + 1 : 1,
          commitInterval: current?.commitInterval ?? 0,
        },
      );
    this.applied.set(name, (this.applied.get(name) ?? 0) + 1);
    this.options.onOutcome?.({ late, window: ref, key, action: 'applied' });
  }

  private leave(late: string, window: string, reason: string, name = window, key?: readonly string[]): void {
    const id = `${name}: ${reason}`;
    this.notApplied.set(id, (this.notApplied.get(id) ?? 0) + 1);
    this.options.onOutcome?.({ late, window, ...(key ? { key } : {}), action: 'not applied', reason });
  }

  /** The summary: applied per window, the rest per window and reason. */
  summary(): string[] {
    const verb = this.options.dryRun ? 'would apply' : 'applied';
    const lines = [`${this.records} late record(s) read`];
    if (this.applied.size === 0) lines.push(`${verb} 0 late event(s)`);
    for (const [name, n] of this.applied) lines.push(`${verb} ${n} late event(s) to window ${name}`);
    if (this.alreadyApplied > 0)
      lines.push(`${this.alreadyApplied} window(s) of late records already applied before: skipped`);
    for (const [id, n] of this.notApplied) lines.push(`not applied ${n}× to ${id}`);
    return lines;
  }
}
