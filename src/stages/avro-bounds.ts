// Bounded Avro decoding: before avsc decodes a record, this walks its bytes against the writer schema
// and refuses any length or count the buffer cannot hold. avsc alone trusts a block count: a hostile
// "2^60 entries" prefix on an array of nulls (items of zero bytes) would loop for ever, and strings
// past the end are read as empty. The walk allocates nothing and names the field that is wrong.
import type { Type } from 'avsc';
import { SluiceError } from '../errors.js';

export interface AvroBounds {
  /** Most items in one array or map, whatever their size (zero-byte items make counts free). */
  maxItems: number;
}

class Cursor {
  pos = 0;
  constructor(readonly buf: Buffer) {}

  get left(): number {
    return this.buf.length - this.pos;
  }

  /** A zig-zag varint, as Avro writes int and long; undefined when truncated or over 10 bytes. */
  long(): number | undefined {
    let result = 0;
    let shift = 1;
    for (let i = 0; i < 10; i += 1) {
      if (this.pos >= this.buf.length) return undefined;
      const byte = this.buf[this.pos++]!;
      result += (byte & 0x7f) * shift;
      if ((byte & 0x80) === 0) return result % 2 === 0 ? result / 2 : -(result + 1) / 2;
      shift *= 128;
    }
    return undefined;
  }
}

/** A declared count or length that the rest of the value cannot hold: the record's fault. */
class BoundsError extends SluiceError {
  constructor(message: string) {
    super(message, { code: 'SLUICE_RECORD_INVALID', retriable: false });
  }
}

function underlying(type: Type): Type {
  const logical = type as Type & { underlyingType?: Type };
  return logical.underlyingType ?? type;
}

/** The fewest bytes a value of the type takes: what a count of items must be multiplied by. */
function minSize(type: Type, seen = new Set<Type>()): number {
  const t = underlying(type);
  switch (t.typeName) {
    case 'null':
      return 0;
    case 'float':
      return 4;
    case 'double':
      return 8;
    case 'fixed':
      return (t as Type & { size: number }).size;
    case 'record':
    case 'error': {
      if (seen.has(t)) return 0;
      seen.add(t);
      const fields = (t as Type & { fields: { type: Type }[] }).fields;
      return fields.reduce((sum, f) => sum + minSize(f.type, seen), 0);
    }
    default:
      return 1;
  }
}

/**
 * Where the walk is: field names and item indexes from the root. Pushed and popped as it goes and only
 * joined into a path when something is wrong, so a good record costs no strings.
 */
type Path = (string | number)[];

function pathText(path: Path): string {
  let text = '';
  for (const part of path) text += typeof part === 'number' ? `[${part}]` : text ? `.${part}` : part;
  return text || '(root)';
}

function fail(path: Path, what: string): never {
  throw new BoundsError(`field '${pathText(path)}': ${what}`);
}

function need(cursor: Cursor, path: Path, bytes: number, what: string): void {
  if (bytes > cursor.left)
    fail(path, `${what} needs ${bytes} bytes, ${cursor.left} left (truncated or hostile)`);
  cursor.pos += bytes;
}

function long(cursor: Cursor, path: Path, what: string): number {
  return cursor.long() ?? fail(path, `${what}: truncated or malformed number`);
}

function walk(type: Type, cursor: Cursor, path: Path, bounds: AvroBounds): void {
  const t = underlying(type);
  switch (t.typeName) {
    case 'null':
      return;
    case 'boolean':
      return need(cursor, path, 1, 'a boolean');
    case 'int':
    case 'long':
      long(cursor, path, 'a number');
      return;
    case 'float':
      return need(cursor, path, 4, 'a float');
    case 'double':
      return need(cursor, path, 8, 'a double');
    case 'string':
    case 'bytes': {
      const length = long(cursor, path, `the length of a ${t.typeName}`);
      if (length < 0) fail(path, `a negative length (${length})`);
      return need(cursor, path, length, `a ${t.typeName} of ${length} bytes`);
    }
    case 'fixed':
      return need(cursor, path, (t as Type & { size: number }).size, 'a fixed value');
    case 'enum': {
      const index = long(cursor, path, 'an enum index');
      const symbols = (t as Type & { symbols: string[] }).symbols;
      if (index < 0 || index >= symbols.length)
        fail(path, `enum index ${index} of ${symbols.length} symbols`);
      return;
    }
    case 'array':
    case 'map': {
      const isMap = t.typeName === 'map';
      const items = isMap
        ? (t as Type & { valuesType: Type }).valuesType
        : (t as Type & { itemsType: Type }).itemsType;
      const itemMin = minSize(items) + (isMap ? 1 : 0);
      let total = 0;
      for (;;) {
        let count = long(cursor, path, `the block count of ${isMap ? 'a map' : 'an array'}`);
        if (count === 0) return;
        if (count < 0) {
          count = -count;
          const size = long(cursor, path, 'a block size');
          if (size < 0 || size > cursor.left) fail(path, `a block of ${size} bytes, ${cursor.left} left`);
        }
        total += count;
        if (total > bounds.maxItems)
          fail(path, `${total} items in one ${t.typeName}, more than parse.maxItems (${bounds.maxItems})`);
        if (count * itemMin > cursor.left)
          fail(
            path,
            `${count} items of at least ${itemMin} bytes, ${cursor.left} bytes left (truncated or hostile)`,
          );
        for (let i = 0; i < count; i += 1) {
          if (isMap) {
            const keyLength = long(cursor, path, 'the length of a map key');
            if (keyLength < 0) fail(path, `a negative map key length (${keyLength})`);
            need(cursor, path, keyLength, `a map key of ${keyLength} bytes`);
          }
          path.push(i);
          walk(items, cursor, path, bounds);
          path.pop();
        }
      }
    }
    case 'union:unwrapped':
    case 'union:wrapped': {
      const branches = (t as Type & { types: Type[] }).types;
      const index = long(cursor, path, 'a union branch');
      if (index < 0 || index >= branches.length) fail(path, `union branch ${index} of ${branches.length}`);
      return walk(branches[index]!, cursor, path, bounds);
    }
    case 'record':
    case 'error':
      for (const field of (t as Type & { fields: { name: string; type: Type }[] }).fields) {
        path.push(field.name);
        walk(field.type, cursor, path, bounds);
        path.pop();
      }
      return;
    default:
      fail(path, `an Avro type this reader does not know (${t.typeName})`);
  }
}

/** Undefined when the bytes are one whole value of the writer type; else what is wrong, naming the field. */
export function checkAvroBounds(writer: Type, buf: Buffer, bounds: AvroBounds): string | undefined {
  const cursor = new Cursor(buf);
  try {
    walk(writer, cursor, [], bounds);
  } catch (error) {
    if (error instanceof BoundsError) return error.message;
    throw error;
  }
  if (cursor.left > 0) return `${cursor.left} bytes after the end of the record (wrong schema?)`;
  return undefined;
}
