// Turns zod's issues into ConfigErrors that name the path (`windows[0].size`), what was expected and
// what was found, so a user can fix a config without reading the schema.
import type { z } from 'zod';
import { ConfigError, type ConfigIssue } from './config-error.js';
import { pipelineSchema, type Pipeline } from './schema.js';

function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((out, key) => {
    if (typeof key === 'number') return `${out}[${key}]`;
    return out === '' ? String(key) : `${out}.${String(key)}`;
  }, '');
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let value = input;
  for (const key of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

function expectedOf(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      return issue.expected === 'array' ? 'a list' : `a ${issue.expected}`;
    case 'invalid_value':
      return `one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'unrecognized_keys':
      return `no field named ${issue.keys.map((k) => JSON.stringify(k)).join(', ')} (unknown)`;
    case 'too_small':
      return issue.origin === 'array' ? `at least ${issue.minimum} item(s)` : `at least ${issue.minimum}`;
    case 'invalid_union':
      return 'a duration or one of the listed forms';
    default:
      return issue.message;
  }
}

function toConfigIssues(error: z.ZodError, input: unknown): ConfigIssue[] {
  return error.issues.map((issue) => ({
    path: formatPath(issue.path),
    expected: expectedOf(issue),
    found: valueAt(input, issue.path),
  }));
}

/** Validates a pipeline, filling defaults; throws ConfigError naming every bad field. */
export function validatePipeline(input: unknown, source?: string): Pipeline {
  const result = pipelineSchema.safeParse(input);
  if (!result.success) throw new ConfigError(toConfigIssues(result.error, input), source, result.error);
  return result.data;
}
