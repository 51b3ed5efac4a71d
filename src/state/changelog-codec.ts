// What the compacted changelog topic holds for one source partition (its changelog partition has the
// same number): one record per open window, keyed by the window's identity, with its aggregate state
// and offsets (a window that fired and is kept for its allowed lateness under a key of its own); a
// tombstone once a window is closed and sunk (or its lateness is over); and a checkpoint record with the offset
// the state reflects (every record below it absorbed, none at or above it) and the watermark.
// Window values are versioned so a newer Sluice reads an older changelog: version 2 is a 0x02 byte and
// an Avro binary body (avsc: no JSON parse, no strings for numbers, about twice as fast to restore);
// version 1, written before, is JSON (its first byte is `{`). The checkpoint is JSON.
import avsc from 'avsc';
import { serializeAggregate } from '../aggregations/aggregates.js';
import type { WindowDefinition } from '../windows/window-definition.js';
import {
  restoredWindow,
  type StoredWindow,
  type Unrestored,
  type WindowChangelog,
} from '../windows/window-restore.js';
import { keyPartsOf, type OpenWindow } from '../windows/window-store.js';
import type { WatermarkSnapshot } from '../windows/watermark.js';
import { readWindowV2 } from './window-record-v2.js';

export const CHECKPOINT_KEY = 'checkpoint';
const WINDOW_PREFIX = 'w\u0001';
/** Windows that fired and are kept for their allowed lateness: the same record, under its own key. */
const RETAINED_PREFIX = 'r\u0001';
const BINARY_V2 = 0x02;

export interface Checkpoint {
  /** Every record below this offset is in the state; none at or above it. */
  offset: bigint;
  watermark: WatermarkSnapshot;
  /**
   * The commit interval this checkpoint closed (1, 2, …; 0 before the first): rows a sink got in a
   * later interval were written by an attempt that never committed.
   */
  interval: number;
  /**
   * The window definitions the state was written under, name → fingerprint (window-definition.ts),
   * removed ones included until their state is dropped; absent in checkpoints written before Sluice
   * stored them (nothing is compared then).
   */
  definitions?: Readonly<Record<string, string>>;
  /** The consumer group whose member wrote it; absent in older checkpoints. */
  group?: string;
  /**
   * A re-keyed partition's last source offset taken in, per source partition and group key
   * (runtime/source-positions.ts); absent on the source side and in older checkpoints.
   */
  sourcePositions?: Readonly<Record<string, number>>;
}

/** One window's record, whichever version it was written in. */
export type WindowRecord = StoredWindow;

interface JsonWindowRecordV1 extends Omit<WindowRecord, 'firstOffset' | 'lastOffset'> {
  v: 1;
  firstOffset: string;
  lastOffset: string;
}

/**
 * A slot of any aggregation in one record shape, `kind` saying which fields it uses: SUM (sum, avg)
 * `sum` and `n`, EXTREME (min, max) `value`, EXACT (count_distinct) `exact`, HLL (count_distinct
 * beyond its exact bound) `hll`, the registers. Unused fields are 0 or null.
 */
interface BinarySlot {
  kind: 'SUM' | 'EXTREME' | 'EXACT' | 'HLL';
  sum: number;
  n: number;
  value: number | null;
  exact: string[] | null;
  hll: Buffer | null;
}

interface BinaryWindowRecordV2 {
  definition: string;
  start: number;
  end: number;
  key: string[];
  count: number;
  slots: BinarySlot[];
  firstOffset: number;
  lastOffset: number;
}

const V2_TYPE = avsc.Type.forSchema({
  type: 'record',
  name: 'WindowStateV2',
  namespace: 'dev.sluice.changelog',
  fields: [
    { name: 'definition', type: 'string' },
    { name: 'start', type: 'long' },
    { name: 'end', type: 'long' },
    { name: 'key', type: { type: 'array', items: 'string' } },
    { name: 'count', type: 'long' },
    {
      name: 'slots',
      type: {
        type: 'array',
        items: {
          type: 'record',
          name: 'Slot',
          fields: [
            {
              name: 'kind',
              type: { type: 'enum', name: 'SlotKind', symbols: ['SUM', 'EXTREME', 'EXACT', 'HLL'] },
            },
            { name: 'sum', type: 'double' },
            { name: 'n', type: 'long' },
            { name: 'value', type: ['null', 'double'] },
            { name: 'exact', type: ['null', { type: 'array', items: 'string' }] },
            { name: 'hll', type: ['null', 'bytes'] },
          ],
        },
      },
    },
    { name: 'firstOffset', type: 'long' },
    { name: 'lastOffset', type: 'long' },
  ],
});

function binarySlot(slot: unknown): BinarySlot {
  const data = slot as Partial<{
    sum: number;
    n: number;
    value: number | null;
    exact: string[];
    hll: string;
  }>;
  return {
    kind:
      data.sum !== undefined ? 'SUM' : 'value' in data ? 'EXTREME' : data.hll !== undefined ? 'HLL' : 'EXACT',
    sum: data.sum ?? 0,
    n: data.n ?? 0,
    value: data.value ?? null,
    exact: data.exact ?? null,
    hll: data.hll === undefined ? null : Buffer.from(data.hll, 'base64'),
  };
}

/** Back to the serialised aggregate's slot shapes (those of serializeAggregate). */
function serialisedSlot(slot: BinarySlot): unknown {
  switch (slot.kind) {
    case 'SUM':
      return { sum: slot.sum, n: slot.n };
    case 'EXTREME':
      return { value: slot.value };
    case 'HLL':
      return { hll: (slot.hll ?? Buffer.alloc(0)).toString('base64') };
    case 'EXACT':
      return { exact: slot.exact ?? [] };
  }
}

export function windowKey(id: string): string {
  return `${WINDOW_PREFIX}${id}`;
}

export function isWindowKey(key: string): boolean {
  return key.startsWith(WINDOW_PREFIX);
}

export function retainedWindowKey(id: string): string {
  return `${RETAINED_PREFIX}${id}`;
}

export function isRetainedWindowKey(key: string): boolean {
  return key.startsWith(RETAINED_PREFIX);
}

/** The window id in a window's key or a kept window's (both prefixes are two characters). */
export function windowIdOfKey(key: string): string {
  return key.slice(WINDOW_PREFIX.length);
}

/** A key holding a window's state, open or kept for lateness. */
export function isStateKey(key: string): boolean {
  return isWindowKey(key) || isRetainedWindowKey(key);
}

export function encodeWindow(w: OpenWindow): Buffer {
  const agg = serializeAggregate(w);
  const record: BinaryWindowRecordV2 = {
    definition: w.definition.name,
    start: w.window.start,
    end: w.window.end,
    key: [...keyPartsOf(w.key)],
    count: agg.count,
    slots: agg.slots.map(binarySlot),
    firstOffset: w.firstOffset,
    lastOffset: w.lastOffset,
  };
  const body = V2_TYPE.toBuffer(record);
  const value = Buffer.allocUnsafe(body.length + 1);
  value[0] = BINARY_V2;
  body.copy(value, 1);
  return value;
}

/** A window record as written, version 2 (binary) or 1 (JSON); slots in serializeAggregate's shapes. */
export function readWindowRecord(value: Buffer | string): WindowRecord {
  if (typeof value !== 'string' && value[0] === BINARY_V2) {
    const data = V2_TYPE.fromBuffer(value.subarray(1)) as BinaryWindowRecordV2;
    return {
      definition: data.definition,
      start: data.start,
      end: data.end,
      key: data.key,
      agg: { count: data.count, slots: data.slots.map(serialisedSlot) },
      firstOffset: data.firstOffset,
      lastOffset: data.lastOffset,
    };
  }
  const data = JSON.parse(value.toString()) as JsonWindowRecordV1;
  return { ...data, firstOffset: Number(data.firstOffset), lastOffset: Number(data.lastOffset) };
}

/**
 * The open window a record holds under `definitions`: version 2 read straight into it
 * (window-record-v2.ts), version 1 through its stored form.
 */
export function rebuildWindow(
  value: Buffer | string,
  definitions: ReadonlyMap<string, WindowDefinition>,
): OpenWindow | Unrestored {
  if (typeof value !== 'string' && value[0] === BINARY_V2) return readWindowV2(value, definitions);
  const stored = readWindowRecord(value);
  const w = restoredWindow(stored, definitions);
  return typeof w === 'string' ? { definition: stored.definition, problem: w } : w;
}

/** JSON numbers cannot be ±Infinity: an unset watermark is written as null. */
function finite(n: number): number | null {
  return Number.isFinite(n) ? n : null;
}

export function encodeCheckpoint(checkpoint: Checkpoint): string {
  return JSON.stringify({
    v: 1,
    offset: checkpoint.offset.toString(),
    watermark: finite(checkpoint.watermark.value),
    fromEvents: finite(checkpoint.watermark.fromEvents),
    ...(checkpoint.watermark.sources ? { sources: checkpoint.watermark.sources } : {}),
    interval: checkpoint.interval,
    ...(checkpoint.definitions ? { definitions: checkpoint.definitions } : {}),
    ...(checkpoint.group === undefined ? {} : { group: checkpoint.group }),
    ...(checkpoint.sourcePositions ? { sourcePositions: checkpoint.sourcePositions } : {}),
  });
}

export function decodeCheckpoint(text: string): Checkpoint {
  const data = JSON.parse(text) as {
    offset: string;
    watermark: number | null;
    fromEvents: number | null;
    sources?: Record<string, number | null>;
    /** Absent in checkpoints of Sluice 0.1: none of its rows is after it. */
    interval?: number;
    definitions?: Record<string, string>;
    group?: string;
    sourcePositions?: Record<string, number>;
  };
  return {
    offset: BigInt(data.offset),
    watermark: {
      value: data.watermark ?? Number.NEGATIVE_INFINITY,
      fromEvents: data.fromEvents ?? Number.NEGATIVE_INFINITY,
      ...(data.sources ? { sources: data.sources } : {}),
    },
    interval: data.interval ?? 0,
    ...(data.definitions ? { definitions: data.definitions } : {}),
    ...(data.group === undefined ? {} : { group: data.group }),
    ...(data.sourcePositions ? { sourcePositions: data.sourcePositions } : {}),
  };
}

/** The changelog's encoding of windows, as the window semantics use it (restore and snapshots). */
export const windowChangelog: WindowChangelog<Buffer> = {
  keyOf: windowKey,
  isWindowKey,
  retainedKeyOf: retainedWindowKey,
  isRetainedKey: isRetainedWindowKey,
  idOfKey: windowIdOfKey,
  encode: encodeWindow,
  decode: readWindowRecord,
  rebuild: rebuildWindow,
};

/** The partition's state as read back from its changelog partition. */
export interface RestoredPartition {
  records: ReadonlyMap<string, Buffer>;
  checkpoint: Checkpoint | undefined;
  /** The source partition's end when the state was read back. */
  highWatermark: bigint;
  /**
   * The offsets of the checkpoints in the changelog partition's aborted transactions: attempts whose
   * state never landed (a group offset equal to one of them, ahead of the checkpoint, came from such an
   * attempt). Absent when the reader did not look.
   */
  abortedCheckpoints?: ReadonlySet<bigint>;
}
