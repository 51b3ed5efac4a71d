// One window definition compiled from its config for the hot path: durations in ms, group-by and
// aggregation paths split once, and a fingerprint of everything that gives its rows their meaning, so
// state or a table written under another meaning of the same name can be told apart. Pure data.
import type { AggregateSpec } from '../aggregations/aggregates.js';
import type { TimeConfig, WindowConfig } from '../config/schema.js';
import { fieldPath, type FieldPath } from '../aggregations/field-path.js';

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
   * Canonical JSON over type, size, advance, gap, group-by (in order), aggregations (function and
   * field, in order) and emit mode: equal exactly when rows mean the same. The name, column names,
   * update cadence, key cap and grace are not part of it.
   */
  readonly fingerprint: string;
}

export function defineWindow(config: WindowConfig, time: Pick<TimeConfig, 'grace'>): WindowDefinition {
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
    fingerprint: JSON.stringify([
      config.type,
      sizeMs,
      advanceMs,
      gapMs,
      config.groupBy,
      config.aggregations.map((spec) => [spec.fn, spec.field]),
      config.emit.mode,
    ]),
  };
}
