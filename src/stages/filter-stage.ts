// The built-in `filter` stage of YAML pipelines: keeps the events whose field holds one of the values.
import type { Processor } from '../config/user-functions.js';

export function filterProcessor(field: string, values: readonly (string | number | boolean)[]): Processor {
  const keep = new Set<unknown>(values);
  return (record) =>
    keep.has((record.value as Record<string, unknown> | null)?.[field]) ? record.value : null;
}
