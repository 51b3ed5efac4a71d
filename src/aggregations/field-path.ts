// An event field named by a dotted path (`properties.price`), read from parsed events. Paths are split
// once, where a pipeline is defined: a top-level field stays its string, so the hot path reads it with
// one property access and no array per event.

/** A compiled path: a top-level field name, or the parts of a dotted path. */
export type FieldPath = string | readonly string[];

export function fieldPath(path: string): FieldPath {
  return path.includes('.') ? path.split('.') : path;
}

/** The value at `path`, or undefined where the event has no such field (or a non-object on the way). */
export function readField(event: unknown, path: FieldPath): unknown {
  if (typeof path === 'string')
    return event !== null && typeof event === 'object' ? (event as Record<string, unknown>)[path] : undefined;
  let value: unknown = event;
  for (const part of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}
