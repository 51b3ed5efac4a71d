// The aggregate state of one open window: its record count plus one slot per configured aggregation
// (sum, avg, min, max, count_distinct). Slots add events, merge (when session windows merge), report
// their results, and serialise to plain JSON for the changelog. Pure: no I/O.
import { fieldPath, readField, type FieldPath } from './field-path.js';
import { HyperLogLog } from './hyperloglog.js';
import { SluiceError } from '../errors.js';

export type AggregateFn = 'sum' | 'avg' | 'min' | 'max' | 'count_distinct';

export interface AggregateSpec {
  /** Column name of the result. */
  name: string;
  fn: AggregateFn;
  /** Event field, a dotted path into nested objects (`properties.price`). */
  field: string;
  /** `field`, split once (windows/window-definition.ts sets it); split per event when absent. */
  path?: FieldPath;
  /** count_distinct: exact up to this many distinct values, HyperLogLog beyond. */
  exactUpTo?: number;
}

interface SumSlot {
  sum: number;
  n: number;
}
interface ExtremeSlot {
  value: number | null;
}
interface DistinctSlot {
  exact: Set<string> | null;
  hll: HyperLogLog | null;
}
type Slot = SumSlot | ExtremeSlot | DistinctSlot;

export interface AggregateState {
  count: number;
  slots: Slot[];
}

/** A result value per column: numbers, null where nothing was aggregated, and 1/0 exactness flags. */
export type AggregateResults = Record<string, number | null>;

function numberOf(value: unknown): number | undefined {
  const n =
    typeof value === 'number' ? value : typeof value === 'string' && value !== '' ? Number(value) : NaN;
  return Number.isFinite(n) ? n : undefined;
}

function distinctKey(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function emptySlot(spec: AggregateSpec): Slot {
  switch (spec.fn) {
    case 'sum':
    case 'avg':
      return { sum: 0, n: 0 };
    case 'min':
    case 'max':
      return { value: null };
    case 'count_distinct':
      return { exact: new Set(), hll: null };
  }
}

export function emptyAggregate(specs: readonly AggregateSpec[]): AggregateState {
  return { count: 0, slots: specs.map(emptySlot) };
}

function addDistinct(slot: DistinctSlot, key: string, exactUpTo: number): void {
  if (slot.hll) {
    slot.hll.add(key);
    return;
  }
  const exact = slot.exact as Set<string>;
  exact.add(key);
  if (exact.size > exactUpTo) {
    const hll = new HyperLogLog();
    for (const k of exact) hll.add(k);
    slot.hll = hll;
    slot.exact = null;
  }
}

export function addEvent(state: AggregateState, specs: readonly AggregateSpec[], event: unknown): void {
  state.count += 1;
  specs.forEach((spec, i) => {
    const slot = state.slots[i] as Slot;
    const raw = readField(event, spec.path ?? fieldPath(spec.field));
    if (spec.fn === 'count_distinct') {
      const key = distinctKey(raw);
      if (key !== undefined) addDistinct(slot as DistinctSlot, key, spec.exactUpTo ?? 1_000);
      return;
    }
    const n = numberOf(raw);
    if (n === undefined) return;
    if (spec.fn === 'sum' || spec.fn === 'avg') {
      (slot as SumSlot).sum += n;
      (slot as SumSlot).n += 1;
    } else {
      const extreme = slot as ExtremeSlot;
      if (extreme.value === null || (spec.fn === 'min' ? n < extreme.value : n > extreme.value))
        extreme.value = n;
    }
  });
}

/** Folds `from` into `into` (two session windows that an event bridged). */
export function mergeAggregates(
  into: AggregateState,
  from: AggregateState,
  specs: readonly AggregateSpec[],
): void {
  into.count += from.count;
  specs.forEach((spec, i) => {
    const a = into.slots[i] as Slot;
    const b = from.slots[i] as Slot;
    if (spec.fn === 'count_distinct') {
      const da = a as DistinctSlot;
      const db = b as DistinctSlot;
      if (db.hll) {
        if (!da.hll) {
          da.hll = new HyperLogLog();
          for (const k of da.exact ?? []) da.hll.add(k);
          da.exact = null;
        }
        da.hll.merge(db.hll);
      } else {
        for (const k of db.exact ?? []) addDistinct(da, k, spec.exactUpTo ?? 1_000);
      }
    } else if (spec.fn === 'sum' || spec.fn === 'avg') {
      (a as SumSlot).sum += (b as SumSlot).sum;
      (a as SumSlot).n += (b as SumSlot).n;
    } else {
      const va = (a as ExtremeSlot).value;
      const vb = (b as ExtremeSlot).value;
      if (vb !== null && (va === null || (spec.fn === 'min' ? vb < va : vb > va)))
        (a as ExtremeSlot).value = vb;
    }
  });
}

/**
 * Column values: `count`, each aggregation by name, `<name>_exact` (1 or 0) for count_distinct, and
 * `<name>_n` (the values averaged) for avg, so that a row's average can take one more value exactly
 * (`sluice late replay`).
 */
export function aggregateResults(state: AggregateState, specs: readonly AggregateSpec[]): AggregateResults {
  const out: AggregateResults = { count: state.count };
  specs.forEach((spec, i) => {
    const slot = state.slots[i] as Slot;
    switch (spec.fn) {
      case 'sum':
        out[spec.name] = (slot as SumSlot).sum;
        break;
      case 'avg':
        out[spec.name] = (slot as SumSlot).n === 0 ? null : (slot as SumSlot).sum / (slot as SumSlot).n;
        out[`${spec.name}_n`] = (slot as SumSlot).n;
        break;
      case 'min':
      case 'max':
        out[spec.name] = (slot as ExtremeSlot).value;
        break;
      case 'count_distinct': {
        const distinct = slot as DistinctSlot;
        out[spec.name] = distinct.hll ? distinct.hll.estimate() : (distinct.exact?.size ?? 0);
        out[`${spec.name}_exact`] = distinct.hll ? 0 : 1;
        break;
      }
    }
  });
  return out;
}

export type SerializedAggregate = { count: number; slots: unknown[] };

export function serializeAggregate(state: AggregateState): SerializedAggregate {
  return {
    count: state.count,
    slots: state.slots.map((slot) => {
      if ('exact' in slot)
        return slot.hll ? { hll: slot.hll.toBase64() } : { exact: [...(slot.exact ?? [])] };
      return slot;
    }),
  };
}

export function deserializeAggregate(
  data: SerializedAggregate,
  specs: readonly AggregateSpec[],
): AggregateState {
  if (data.slots.length !== specs.length)
    throw new SluiceError(
      `changelog state has ${data.slots.length} aggregations, the pipeline ${specs.length}`,
      {
        code: 'SLUICE_STATE_INVALID',
        retriable: false,
      },
    );
  return {
    count: data.count,
    slots: specs.map((spec, i) => {
      const slot = data.slots[i] as Record<string, unknown>;
      if (spec.fn === 'count_distinct') {
        return typeof slot.hll === 'string'
          ? { exact: null, hll: HyperLogLog.fromBase64(slot.hll) }
          : { exact: new Set(slot.exact as string[]), hll: null };
      }
      return { ...slot } as unknown as Slot;
    }),
  };
}
