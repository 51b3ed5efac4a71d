// One window definition compiled from its config for the hot path: durations in ms, group-by and
// aggregation paths split once, and a fingerprint of everything that gives its rows their meaning, so
// state or a table written under another meaning of the same name can be told apart. Pure data.
import type { AggregateSpec } from '../aggregations/aggregates.js';
import type { TimeConfig, WindowConfig } from '../config/schema.js';
import { fieldPath, type FieldPath } from '../aggregations/field-path.js';
import { keyedWhereItIs } from '../config/rekeying.js';

export type WindowType = WindowConfig['type'];

export interface WindowDefinition {
  readonly name: string;
  readonly type: WindowType;
  /** Window length (tumbling, sliding); 0 for sessions. */
  readonly sizeMs: number;
  /** Distance between window starts: `sizeMs` for tumbling, 0 for sessions. */
  readonly advanceMs: number;
  /** Inactivity that ends a session; 0 for the others. */
  readonly gapMs: number;
  /** The group-by fields as configured, and split for reading events. */
  readonly groupBy: readonly string[];
  readonly groupByPaths: readonly FieldPath[];
  /** With `path` set: each aggregation's field split once. */
  readonly aggregations: readonly AggregateSpec[];
  readonly emit: { readonly mode: 'final' | 'update'; readonly everyMs: number };
  readonly maxKeys: number;
  readonly onKeyCap: 'drop' | 'other';
  /** How long after its end (by the watermark) a window still takes events. */
  readonly graceMs: number;
  /**
   * How long after it fired (end + grace) a tumbling or sliding window's state is kept, so a late event
   * updates its row; 0 for sessions. Not part of the fingerprint: it changes when rows are written, not
   * what they mean.
   */
  readonly allowedLatenessMs: number;
  /**
   * Re-keyed by its group key before it is computed (rekeying.ts): one row per window and key. Else
   * computed per source partition, where the source's keying already puts each key in one partition.
   */
  readonly rekeyed: boolean;
  /**
   * Canonical JSON over type, size, advance, gap, group-by (in order), aggregations (function and
   * field, in order), emit mode and, for a re-keyed window, `per-key`: equal exactly when rows mean
   * the same. The name, column names, update cadence, key cap and grace are not part of it. A window
   * computed per source partition has no 8th field, so fingerprints of Sluice 0.1 (which computed
   * every window so) still match.
   */
  readonly fingerprint: string;
}

/**
 * `keyedBy` is the pipeline's `source.keyedBy`: a window whose groupBy lacks one of its fields (or any
 * window, without it) is re-keyed.
 */
export function defineWindow(
  config: WindowConfig,
  time: Pick<TimeConfig, 'grace'>,
  keyedBy: readonly string[] | undefined,
): WindowDefinition {
  const rekeyed = !keyedWhereItIs(config, keyedBy);
  const sizeMs = config.type === 'session' ? 0 : config.size;
  const advanceMs = config.type === 'sliding' ? config.advance : sizeMs;
  const gapMs = config.type === 'session' ? config.gap : 0;
  const aggregations = config.aggregations.map((spec) => ({ ...spec, path: fieldPath(spec.field) }));
  return {
    name: config.name,
    type: config.type,
    sizeMs,
    advanceMs,
    gapMs,
    groupBy: config.groupBy,
    groupByPaths: config.groupBy.map(fieldPath),
    aggregations,
    emit: { mode: config.emit.mode, everyMs: config.emit.every },
    maxKeys: config.maxKeys,
    onKeyCap: config.onKeyCap,
    graceMs: time.grace,
    allowedLatenessMs: config.allowedLateness ?? 0,
    rekeyed,
    fingerprint: fingerprintOf(config, rekeyed),
  };
}

/** What defineWindow's fingerprint is, for the window computed re-keyed or per source partition. */
export function fingerprintOf(config: WindowConfig, rekeyed: boolean): string {
  const sizeMs = config.type === 'session' ? 0 : config.size;
  return JSON.stringify([
    config.type,
    sizeMs,
    config.type === 'sliding' ? config.advance : sizeMs,
    config.type === 'session' ? config.gap : 0,
    config.groupBy,
    config.aggregations.map((spec) => [spec.fn, spec.field]),
    config.emit.mode,
    ...(rekeyed ? ['per-key'] : []),
  ]);
}
