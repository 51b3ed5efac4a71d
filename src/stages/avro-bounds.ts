// Bounded Avro decoding: before avsc decodes a record, this walks its bytes against the writer schema
// and refuses any length or count the buffer cannot hold. avsc alone trusts a block count: a hostile
// "2^60 entries" prefix on an array of nulls (items of zero bytes) would loop for ever, and strings
// past the end are read as empty. The walk allocates nothing and names the field that is wrong.
import type { Type } from 'avsc';

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

class BoundsError extends Error {}

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

function walk(type: Type, cursor: Cursor, path: string, bounds: AvroBounds): void {
  const t = underlying(type);
  const fail = (what: string): never => {
    throw new BoundsError(`field '${path || '(root)'}': ${what}`);
  };
  const need = (bytes: number, what: string) => {
    if (bytes > cursor.left) fail(`${what} needs ${bytes} bytes, ${cursor.left} left (truncated or hostile)`);
    cursor.pos += bytes;
  };
  const long = (what: string): number => cursor.long() ?? fail(`${what}: truncated or malformed number`);
  switch (t.typeName) {
    case 'null':
      return;
    case 'boolean':
      return need(1, 'a boolean');
    case 'int':
    case 'long':
      long('a number');
      return;
    case 'float':
      return need(4, 'a float');
    case 'double':
      return need(8, 'a double');
    case 'string':
    case 'bytes': {
      const length = long(`the length of a ${t.typeName}`);
      if (length < 0) fail(`a negative length (${length})`);
      return need(length, `a ${t.typeName} of ${length} bytes`);
    }
    case 'fixed':
      return need((t as Type & { size: number }).size, 'a fixed value');
    case 'enum': {
      const index = long('an enum index');
      const symbols = (t as Type & { symbols: string[] }).symbols;
      if (index < 0 || index >= symbols.length) fail(`enum index ${index} of ${symbols.length} symbols`);
      return;
    }
    case 'array':
    case 'map': {
      const items =
        t.typeName === 'array'
          ? (t as Type & { itemsType: Type }).itemsType
          : (t as Type & { valuesType: Type }).valuesType;
      const itemMin = minSize(items) + (t.typeName === 'map' ? 1 : 0);
      let total = 0;
      for (;;) {
        let count = long(`the block count of ${t.typeName === 'array' ? 'an array' : 'a map'}`);
        if (count === 0) return;
        if (count < 0) {
          count = -count;
          const size = long('a block size');
          if (size < 0 || size > cursor.left) fail(`a block of ${size} bytes, ${cursor.left} left`);
        }
        total += count;
        if (total > bounds.maxItems)
          fail(`${total} items in one ${t.typeName}, more than parse.maxItems (${bounds.maxItems})`);
        if (count * itemMin > cursor.left)
          fail(
            `${count} items of at least ${itemMin} bytes, ${cursor.left} bytes left (truncated or hostile)`,
          );
        for (let i = 0; i < count; i += 1) {
          if (t.typeName === 'map') {
            const keyLength = long('the length of a map key');
            if (keyLength < 0) fail(`a negative map key length (${keyLength})`);
            need(keyLength, `a map key of ${keyLength} bytes`);
          }
          walk(items, cursor, `${path}[${i}]`, bounds);
        }
      }
    }
    case 'union:unwrapped':
    case 'union:wrapped': {
      const branches = (t as Type & { types: Type[] }).types;
      const index = long('a union branch');
      if (index < 0 || index >= branches.length) fail(`union branch ${index} of ${branches.length}`);
      return walk(branches[index]!, cursor, path, bounds);
    }
    case 'record':
    case 'error':
      for (const field of (t as Type & { fields: { name: string; type: Type }[] }).fields)
        walk(field.type, cursor, path ? `${path}.${field.name}` : field.name, bounds);
      return;
    default:
      fail(`an Avro type this reader does not know (${t.typeName})`);
  }
}

/** Undefined when the bytes are one whole value of the writer type; else what is wrong, naming the field. */
export function checkAvroBounds(writer: Type, buf: Buffer, bounds: AvroBounds): string | undefined {
  const cursor = new Cursor(buf);
  try {
    walk(writer, cursor, '', bounds);
  } catch (error) {
    if (error instanceof BoundsError) return error.message;
    throw error;
  }
  if (cursor.left > 0) return `${cursor.left} bytes after the end of the record (wrong schema?)`;
  return undefined;
}
