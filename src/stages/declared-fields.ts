// Which fields a pipeline's declared events can hold (event-contract.ts), and the fields its windows and
// event time read that they cannot: what `validate-config` refuses, naming each. A field a declarative
// stage adds (derive, user-agent) counts as declared; when a stage adds fields Sluice cannot know ahead
// (a lookup's columns, a module or TypeScript stage), such a field is only warned about.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError, type ConfigIssue } from '../config/config-error.js';
import type { ParseConfig, Pipeline } from '../config/schema.js';
import { messageOf } from '../errors.js';
import { contractKindOf, loadEventSchema } from './event-contract.js';
import { userEventSchema } from './user-event.js';

/** JSON Schema: does the schema describe `parts` (a property at each level, or a typed map)? */
function schemaHas(node: unknown, parts: readonly string[]): boolean {
  if (parts.length === 0) return true;
  if (node === null || typeof node !== 'object') return false;
  const n = node as { properties?: Record<string, unknown>; additionalProperties?: unknown };
  const [head, ...rest] = parts;
  const child = n.properties?.[head!];
  if (child !== undefined) return schemaHas(child, rest);
  // A map of typed values: any key is declared.
  return typeof n.additionalProperties === 'object' && n.additionalProperties !== null
    ? schemaHas(n.additionalProperties, rest)
    : false;
}

/** Avro: does the record schema have `parts` (a field at each level, through unions and maps)? */
function avroHas(type: unknown, parts: readonly string[]): boolean {
  if (parts.length === 0) return true;
  if (Array.isArray(type)) return type.some((t) => avroHas(t, parts));
  if (type === null || typeof type !== 'object') return false;
  const t = type as { type?: unknown; fields?: { name: string; type: unknown }[]; values?: unknown };
  if (t.type === 'map') return avroHas(t.values, parts.slice(1));
  if (t.type !== 'record') return typeof t.type === 'object' ? avroHas(t.type, parts) : false;
  const field = t.fields?.find((f) => f.name === parts[0]);
  return field !== undefined && avroHas(field.type, parts.slice(1));
}

/**
 * Whether the declared events can hold a field (a dotted path), for `validate-config`; undefined when
 * the declaration says nothing of fields (`any`).
 */
export function declaredFields(
  parse: ParseConfig,
  baseDir: string,
  defaultAvroSchema: string,
): ((path: string) => boolean) | undefined {
  const kind = contractKindOf(parse);
  if (kind === 'any') return undefined;
  if (kind === 'user-event') {
    const fields = new Set(Object.keys(userEventSchema.shape));
    return (path) => fields.has(path) || (path.startsWith('properties.') && path.split('.').length === 2);
  }
  if (kind === 'json-schema') {
    if (!parse.eventSchema) return undefined;
    const { schema } = loadEventSchema(resolve(baseDir, parse.eventSchema));
    return (path) => schemaHas(schema, path.split('.'));
  }
  const file = parse.schema ? resolve(baseDir, parse.schema) : defaultAvroSchema;
  let schema: unknown;
  try {
    schema = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new ConfigError([
      {
        path: 'parse.schema',
        expected: 'a readable Avro schema (.avsc)',
        found: `${file} (${messageOf(error)})`,
      },
    ]);
  }
  return (path) => avroHas(schema, path.split('.'));
}

/** What the user-agent stage adds. */
const USER_AGENT_FIELDS = ['browser', 'browserVersion', 'os', 'osVersion', 'device'];

export interface UndeclaredFields {
  /** Fields the events cannot hold and no stage adds: refused. */
  issues: ConfigIssue[];
  /** Fields the events cannot hold that a stage may add (its outputs are not known ahead): warned. */
  unsure: string[];
}

/** The fields the windows and the event time read that the declared events lack (none for `any`). */
export function undeclaredFields(
  pipeline: Pipeline,
  has: ((path: string) => boolean) | undefined,
): UndeclaredFields {
  if (!has) return { issues: [], unsure: [] };
  const added = new Set<string>();
  let unknownOutputs = false;
  for (const stage of pipeline.stages) {
    if ('type' in stage && stage.type === 'derive') stage.fields.forEach((f) => added.add(f.name));
    else if ('type' in stage && stage.type === 'user-agent') USER_AGENT_FIELDS.forEach((f) => added.add(f));
    else if (!('type' in stage) || stage.type !== 'filter') unknownOutputs = true;
  }
  const reads: { path: string; field: string }[] = [];
  if (pipeline.time.field) reads.push({ path: 'time.field', field: pipeline.time.field });
  pipeline.windows.forEach((w, i) => {
    w.groupBy.forEach((field, j) => reads.push({ path: `windows[${i}].groupBy[${j}]`, field }));
    w.aggregations.forEach((a, j) =>
      reads.push({ path: `windows[${i}].aggregations[${j}].field`, field: a.field }),
    );
  });
  const issues: ConfigIssue[] = [];
  const unsure: string[] = [];
  for (const read of reads) {
    // The event time is read at parse, before any stage: only the events themselves can hold it.
    const byStage = read.path !== 'time.field' && added.has(read.field.split('.')[0]!);
    if (has(read.field) || byStage) continue;
    if (unknownOutputs && read.path !== 'time.field') unsure.push(read.field);
    else
      issues.push({
        path: read.path,
        expected: `a field of the declared events (parse.events: ${contractKindOf(pipeline.parse)}) or one a stage adds`,
        found: read.field,
      });
  }
  return { issues, unsure: [...new Set(unsure)] };
}
