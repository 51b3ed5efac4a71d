// Reads a version-2 window record (changelog-codec.ts: a 0x02 byte, then the WindowStateV2 Avro body)
// straight from its bytes into the open window the store holds: no Avro record, no serialised slots in
// between. A restore reads a million of them; the objects between bytes and window were most of what
// rebuilding cost. avsc still writes the records; a property test holds this reader to avsc's reading.
import type { AggregateState } from '../aggregations/aggregates.js';
import { SluiceError } from '../errors.js';
import { HyperLogLog } from '../aggregations/hyperloglog.js';
import type { Window } from '../windows/window.js';
import type { WindowDefinition } from '../windows/window-definition.js';
import type { Unrestored } from '../windows/window-restore.js';
import { heldKey, type OpenWindow } from '../windows/window-store.js';

type Slot = AggregateState['slots'][number];

/** The slot kinds, by the SlotKind enum's symbol order. */
const SUM = 0;
const EXTREME = 1;
const EXACT = 2;
const HLL = 3;
/** The kind each aggregation's slot must be. */
const KIND_OF = { sum: SUM, avg: SUM, min: EXTREME, max: EXTREME, count_distinct: EXACT } as const;
const NO_SLOTS: Slot[] = [];

/** What the record read before held: its definition's name (and bytes), and its window's span. */
const last: { name: string; nameBytes: Buffer; window: Window } = {
  name: '',
  nameBytes: Buffer.alloc(0),
  window: { start: Number.NaN, end: Number.NaN },
};

/** A record too short for what it says it holds: caught below, said as the record's problem. */
class Truncated extends SluiceError {
  constructor() {
    super('a window record ends before its fields do', { code: 'SLUICE_STATE_INVALID', retriable: false });
  }
}

/** A cursor over one record: Avro's zigzag varints, strings, doubles. */
class Cursor {
  at = 1; // after the version byte

  constructor(private readonly bytes: Buffer) {}

  /** A long within 2^53, as avsc writes them. */
  long(): number {
    const bytes = this.bytes;
    let byte = bytes[this.at++];
    if (byte === undefined) throw new Truncated();
    let n = byte & 0x7f;
    let scale = 128;
    while (byte & 0x80) {
      byte = bytes[this.at++];
      if (byte === undefined) throw new Truncated();
      n += (byte & 0x7f) * scale;
      scale *= 128;
    }
    return n % 2 === 0 ? n / 2 : -(n + 1) / 2;
  }

  /**
   * A string equal to `last` if its bytes are `last`'s (`lastBytes`): `last` itself, with no new string
   * made. Records read one after another mostly name the same definition.
   */
  sameString(last: string, lastBytes: Buffer): string {
    const at = this.at;
    const length = this.long();
    if (length === lastBytes.length && this.at + length <= this.bytes.length) {
      let i = 0;
      while (i < length && this.bytes[this.at + i] === lastBytes[i]) i += 1;
      if (i === length) {
        this.at += length;
        return last;
      }
    }
    this.at = at;
    return this.string();
  }

  string(): string {
    const length = this.long();
    const end = this.at + length;
    if (length < 0 || end > this.bytes.length) throw new Truncated();
    const text = this.bytes.toString('utf8', this.at, end);
    this.at = end;
    return text;
  }

  double(): number {
    if (this.at + 8 > this.bytes.length) throw new Truncated();
    const value = this.bytes.readDoubleLE(this.at);
    this.at += 8;
    return value;
  }

  bytesOf(): Uint8Array {
    const length = this.long();
    const end = this.at + length;
    if (length < 0 || end > this.bytes.length) throw new Truncated();
    const copy = new Uint8Array(this.bytes.subarray(this.at, end));
    this.at = end;
    return copy;
  }

  /** The item count of an array's next block (0: the array ended). */
  block(): number {
    const count = this.long();
    if (count >= 0) return count;
    this.long(); // the block's size in bytes, written with a negative count
    return -count;
  }

  strings(): string[] {
    const items: string[] = [];
    for (let n = this.block(); n !== 0; n = this.block())
      for (let i = 0; i < n; i += 1) items.push(this.string());
    return items;
  }
}

/** One Slot record, checked against the aggregation it must hold. */
function readSlot(cursor: Cursor, fn: keyof typeof KIND_OF | undefined): Slot | string {
  const kind = cursor.long();
  const sum = cursor.double();
  const n = cursor.long();
  const value = cursor.long() === 0 ? null : cursor.double();
  const exact = cursor.long() === 0 ? null : cursor.strings();
  const hll = cursor.long() === 0 ? null : cursor.bytesOf();
  const expected = fn === undefined ? undefined : KIND_OF[fn];
  if (expected !== (kind === HLL ? EXACT : kind))
    return `a ${fn ?? 'missing'} aggregation holds another kind of state`;
  if (kind === SUM) return { sum, n };
  if (kind === EXTREME) return { value };
  if (kind === HLL) {
    if (hll?.length !== HyperLogLog.bytes)
      return `HyperLogLog state of ${hll?.length ?? 0} bytes, expected ${HyperLogLog.bytes}`;
    return { exact: null, hll: new HyperLogLog(hll) };
  }
  return { exact: new Set(exact), hll: null };
}

/**
 * The open window a version-2 record holds, under today's definition of its name; or why it cannot
 * come back: its definition is gone, or its aggregations changed (the reasons restoredWindow gives).
 */
export function readWindowV2(
  value: Buffer,
  definitions: ReadonlyMap<string, WindowDefinition>,
): OpenWindow | Unrestored {
  const cursor = new Cursor(value);
  let name = '';
  try {
    name = cursor.sameString(last.name, last.nameBytes);
    if (name !== last.name) {
      last.name = name;
      last.nameBytes = Buffer.from(name);
    }
    const definition = definitions.get(name);
    if (!definition) return { definition: name, problem: `window definition ${name} no longer exists` };
    const start = cursor.long();
    const end = cursor.long();
    // Windows of one span share its object (the store shares one per group too; none is changed).
    if (last.window.start !== start || last.window.end !== end) last.window = { start, end };
    const window = last.window;
    const key = heldKey(cursor.strings());
    const count = cursor.long();
    const specs = definition.aggregations;
    let slots = NO_SLOTS;
    let held = 0;
    let problem: string | undefined;
    for (let n = cursor.block(); n !== 0; n = cursor.block())
      for (let i = 0; i < n; i += 1, held += 1) {
        const slot = readSlot(cursor, specs[held]?.fn);
        if (typeof slot === 'string') problem ??= slot;
        else if (problem === undefined) (slots === NO_SLOTS ? (slots = []) : slots).push(slot);
      }
    if (held !== specs.length)
      problem = `changelog state has ${held} aggregations, the pipeline ${specs.length}`;
    if (problem !== undefined)
      return { definition: name, problem: `window definition ${name} changed its aggregations: ${problem}` };
    const firstOffset = cursor.long();
    const lastOffset = cursor.long();
    return {
      definition,
      window,
      key,
      count,
      slots,
      firstOffset,
      lastOffset,
      dirty: false,
      logged: true,
    };
  } catch (error) {
    if (!(error instanceof Truncated)) throw error;
    return {
      definition: name,
      problem: `a window record of ${value.length} bytes ends before its fields do`,
    };
  }
}
