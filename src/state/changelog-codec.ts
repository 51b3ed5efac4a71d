// What the compacted changelog topic holds for one source partition (its changelog partition has the
// same number): one record per open window, keyed by the window's identity, with its aggregate state
// and offsets; a tombstone once a window is closed and sunk; and a checkpoint record with the offset
// the state reflects (every record below it absorbed, none at or above it) and the watermark.
// JSON, versioned, so a newer Sluice can read an older changelog.
import {
  deserializeAggregate,
  serializeAggregate,
  type SerializedAggregate,
} from '../aggregations/aggregates.js';
import type { WindowConfig } from '../config/schema.js';
import type { OpenWindow } from './window-store.js';

export const CHECKPOINT_KEY = 'checkpoint';
const WINDOW_PREFIX = 'w\u0001';

export interface Checkpoint {
  /** Every record below this offset is in the state; none at or above it. */
  offset: bigint;
  watermark: { value: number; fromEvents: number };
}

interface WindowRecord {
  v: 1;
  definition: string;
  start: number;
  end: number;
  key: string[];
  agg: SerializedAggregate;
  firstOffset: string;
  lastOffset: string;
}

export function windowKey(id: string): string {
  return `${WINDOW_PREFIX}${id}`;
}

export function isWindowKey(key: string): boolean {
  return key.startsWith(WINDOW_PREFIX);
}

export function encodeWindow(w: OpenWindow): string {
  const record: WindowRecord = {
    v: 1,
    definition: w.definition.name,
    start: w.window.start,
    end: w.window.end,
    key: [...w.key],
    agg: serializeAggregate(w),
    firstOffset: String(w.firstOffset),
    lastOffset: String(w.lastOffset),
  };
  return JSON.stringify(record);
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
  });
}

export function decodeCheckpoint(text: string): Checkpoint {
  const data = JSON.parse(text) as { offset: string; watermark: number | null; fromEvents: number | null };
  return {
    offset: BigInt(data.offset),
    watermark: {
      value: data.watermark ?? Number.NEGATIVE_INFINITY,
      fromEvents: data.fromEvents ?? Number.NEGATIVE_INFINITY,
    },
  };
}

/**
 * Rebuilds an open window, or says why it cannot: its definition is gone, or its aggregations changed
 * (a changed window needs a new name, as the README says under upgrading).
 */
export function decodeWindow(
  text: string,
  definitions: ReadonlyMap<string, WindowConfig>,
): OpenWindow | string {
  const data = JSON.parse(text) as WindowRecord;
  const definition = definitions.get(data.definition);
  if (!definition) return `window definition ${data.definition} no longer exists`;
  let agg;
  try {
    agg = deserializeAggregate(data.agg, definition.aggregations);
  } catch (error) {
    return `window definition ${data.definition} changed its aggregations: ${(error as Error).message}`;
  }
  return {
    definition,
    window: { start: data.start, end: data.end },
    key: data.key,
    count: agg.count,
    slots: agg.slots,
    firstOffset: Number(data.firstOffset),
    lastOffset: Number(data.lastOffset),
    dirty: false,
    logged: true,
    bytes: 0,
  };
}
