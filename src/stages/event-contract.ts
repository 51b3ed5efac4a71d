// What a pipeline's events are, as it declares them (`parse.events`): any JSON object (the default for
// JSON: fields read by dotted path, each window checking the fields it needs), Sluice's built-in
// user-event contract, a JSON Schema (ajv, compiled once), or for Avro the reader schema the decoder
// already enforced. A document that breaks the contract is refused with the field, what was expected
// and what was found. The declared fields also let `validate-config` refuse windows that name a field
// the events cannot have.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { ErrorObject } from 'ajv';
import type { ParseConfig } from '../config/schema.js';
import { ConfigError } from '../config/config-error.js';
import { messageOf } from '../errors.js';
import { RecordInvalidError } from './record-error.js';
import { isPlainValidEvent, userEventSchema } from './user-event.js';

/** Checks a decoded document and returns it as the event; throws RecordInvalidError naming the field. */
export type EventContract = (document: unknown) => Record<string, unknown>;

export type ContractKind = 'any' | 'user-event' | 'json-schema' | 'avro';

/** The contract a parse config declares: its `events`, else `any` for JSON and the reader schema for Avro. */
export function contractKindOf(parse: Pick<ParseConfig, 'format' | 'events'>): ContractKind {
  return parse.events ?? (parse.format === 'json' ? 'any' : 'avro');
}

function found(value: unknown): string {
  if (value === undefined) return 'nothing';
  const text = JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function anObject(document: unknown): Record<string, unknown> {
  if (typeof document !== 'object' || document === null || Array.isArray(document))
    throw new RecordInvalidError(`expected a JSON object, found ${found(document)}`);
  return document as Record<string, unknown>;
}

function userEvent(document: unknown): Record<string, unknown> {
  if (isPlainValidEvent(document)) return document;
  const result = userEventSchema.safeParse(document);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const path = issue?.path.join('.') || '(root)';
  throw new RecordInvalidError(`field '${path}': ${issue?.message ?? 'invalid'}`, result.error);
}

/** `/properties/plan` → `properties.plan` (array items as their index). */
function dotted(instancePath: string): string {
  return instancePath.split('/').slice(1).join('.') || '(root)';
}

function valueAt(document: unknown, instancePath: string): unknown {
  let value = document;
  for (const part of instancePath.split('/').slice(1)) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<string, unknown>)[part.replaceAll('~1', '/').replaceAll('~0', '~')];
  }
  return value;
}

function schemaError(document: unknown, error: ErrorObject): string {
  if (error.keyword === 'required') {
    const missing = (error.params as { missingProperty: string }).missingProperty;
    const path = [dotted(error.instancePath), missing].filter((p) => p !== '(root)').join('.');
    return `field '${path}': expected a value (required by the event schema), found nothing`;
  }
  // ajv says "must be number", "must match pattern …": as "expected number", "expected to match …".
  const rule = (error.message ?? 'must match the event schema')
    .replace(/^must be /, '')
    .replace(/^must /, 'to ');
  return `field '${dotted(error.instancePath)}': expected ${rule}, found ${found(valueAt(document, error.instancePath))}`;
}

/** Reads and compiles the JSON Schema file; a bad file is a config error naming it. */
export function loadEventSchema(path: string): {
  schema: Record<string, unknown>;
  check: (d: unknown) => ErrorObject | undefined;
} {
  let schema: Record<string, unknown>;
  try {
    schema = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch (error) {
    throw new ConfigError([
      {
        path: 'parse.eventSchema',
        expected: 'a readable JSON Schema file',
        found: `${path} (${messageOf(error)})`,
      },
    ]);
  }
  try {
    // Draft 2020-12 and draft-07 schemas both compile here; `$schema` of another draft is not read.
    const ajv = new Ajv2020({ allErrors: false, strict: false, validateSchema: false });
    const validate = ajv.compile(schema);
    return { schema, check: (d) => (validate(d) ? undefined : (validate.errors?.[0] ?? undefined)) };
  } catch (error) {
    throw new ConfigError([
      {
        path: 'parse.eventSchema',
        expected: 'a JSON Schema that compiles',
        found: `${path}: ${messageOf(error)}`,
      },
    ]);
  }
}

export function createEventContract(parse: ParseConfig, baseDir: string): EventContract {
  const kind = contractKindOf(parse);
  switch (kind) {
    case 'any':
    case 'avro':
      return anObject;
    case 'user-event':
      return userEvent;
    case 'json-schema': {
      if (!parse.eventSchema)
        throw new ConfigError([
          {
            path: 'parse.eventSchema',
            expected: 'a JSON Schema file (with parse.events: json-schema)',
            found: undefined,
          },
        ]);
      const { check } = loadEventSchema(resolve(baseDir, parse.eventSchema));
      return (document) => {
        const event = anObject(document);
        const error = check(event);
        if (error) throw new RecordInvalidError(schemaError(event, error));
        return event;
      };
    }
  }
}
