// Record values → documents the event schema validates: JSON, plain Avro binary, or Avro in the
// Confluent wire format (magic byte 0, a big-endian 4-byte schema id, then the Avro body). Avro is read
// with the writer's schema and resolved to the reader's, so producers on an older or newer version of
// the schema keep working. Every format refuses values over parse.maxMessageBytes before reading them,
// and Avro bodies are walked against their bounds (avro-bounds.ts) before avsc decodes them.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import avsc, { type Type } from 'avsc';
import { messageOf } from '../errors.js';
import type { Logger } from '../ops/logger.js';
import type { ParseConfig } from '../config/schema.js';
import { ConfigError } from '../config/config-error.js';
import { checkAvroBounds } from './avro-bounds.js';
import { RecordInvalidError } from './record-error.js';
import { SchemaRegistryClient, UnknownSchemaError } from './schema-registry.js';

export const DEFAULT_READER_SCHEMA = fileURLToPath(
  new URL('../../schemas/avro/user-event.avsc', import.meta.url),
);

function loadAvsc(path: string, field: string): Type {
  try {
    return avsc.Type.forSchema(JSON.parse(readFileSync(path, 'utf8')) as avsc.Schema);
  } catch (error) {
    throw new ConfigError(
      [{ path: field, expected: 'a readable Avro schema (.avsc)', found: path }],
      undefined,
      error,
    );
  }
}

/** Avro unions decode absent optional fields as null; the event schema expects them absent. */
function withoutNulls(document: unknown): unknown {
  if (document === null || typeof document !== 'object' || Array.isArray(document)) return document;
  // Keys, not entries: one array per event rather than one per field as well (every event goes through).
  const out: Record<string, unknown> = {};
  const fields = document as Record<string, unknown>;
  for (const key of Object.keys(fields)) {
    const value = fields[key];
    if (value !== null) out[key] = value;
  }
  return out;
}

/** Reads one Avro value written with `writer`, resolved to `reader`. */
function avroReader(reader: Type, maxItems: number) {
  const resolvers = new Map<Type, avsc.Resolver>();
  return (writer: Type, body: Buffer): unknown => {
    const problem = checkAvroBounds(writer, body, { maxItems });
    if (problem) throw new RecordInvalidError(`Avro: ${problem}`);
    let resolver = resolvers.get(writer);
    if (!resolver) {
      try {
        resolver = reader.createResolver(writer);
      } catch (error) {
        throw new RecordInvalidError(
          `Avro: the writer schema cannot be read as the reader schema: ${messageOf(error)}`,
          error,
        );
      }
      resolvers.set(writer, resolver);
    }
    return withoutNulls(reader.fromBuffer(body, resolver, true));
  };
}

export interface DecoderContext {
  /** Where relative schema paths are resolved from (the config file's folder). */
  baseDir: string;
  logger?: Logger;
}

export interface DecoderHandle {
  /** Sync for JSON, plain Avro and cached registry schemas; a promise while a schema is fetched. */
  readonly decode: (value: Buffer) => unknown;
}

export function createDecoder(parse: ParseConfig, context: DecoderContext): DecoderHandle {
  const sized = (decode: (value: Buffer) => unknown) => (value: Buffer) => {
    if (value.length > parse.maxMessageBytes)
      throw new RecordInvalidError(
        `a value of ${value.length} bytes, more than parse.maxMessageBytes (${parse.maxMessageBytes})`,
      );
    return decode(value);
  };
  if (parse.format === 'json')
    return {
      decode: sized((value) => {
        try {
          return JSON.parse(value.toString('utf8'));
        } catch (error) {
          throw new RecordInvalidError(`invalid JSON: ${messageOf(error)}`, error);
        }
      }),
    };
  const reader = parse.schema
    ? loadAvsc(resolve(context.baseDir, parse.schema), 'parse.schema')
    : loadAvsc(DEFAULT_READER_SCHEMA, 'parse.schema');
  const read = avroReader(reader, parse.maxItems);
  if (parse.format === 'avro') {
    const writer = parse.writerSchema
      ? loadAvsc(resolve(context.baseDir, parse.writerSchema), 'parse.writerSchema')
      : reader;
    return { decode: sized((value) => read(writer, value)) };
  }
  const url = parse.registry.url ?? process.env.SCHEMA_REGISTRY_URL;
  if (!url)
    throw new ConfigError([
      {
        path: 'parse.registry.url',
        expected: 'a schema registry URL (or SCHEMA_REGISTRY_URL) for format avro-confluent',
        found: undefined,
      },
    ]);
  const registry = new SchemaRegistryClient(
    {
      url,
      username: process.env.SCHEMA_REGISTRY_USER,
      password: process.env.SCHEMA_REGISTRY_PASSWORD,
      cacheSize: parse.registry.cacheSize,
      timeoutMs: parse.registry.timeout,
    },
    context.logger,
  );
  const decode = sized((value) => {
    if (value.length < 5)
      throw new RecordInvalidError(
        `Confluent wire format: ${value.length} bytes, fewer than the 5-byte header`,
      );
    if (value[0] !== 0)
      throw new RecordInvalidError(
        `Confluent wire format: magic byte ${value[0]}, expected 0 (not Confluent-framed Avro?)`,
      );
    const id = value.readInt32BE(1);
    const body = value.subarray(5);
    const writer = registry.writerType(id);
    if (!(writer instanceof Promise)) return read(writer, body);
    return writer.then(
      (type) => read(type, body),
      (error: unknown) => {
        throw error instanceof UnknownSchemaError ? new RecordInvalidError(error.message, error) : error;
      },
    );
  });
  return { decode };
}
