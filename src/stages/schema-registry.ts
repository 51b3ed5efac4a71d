// A Confluent Schema Registry client for reading: writer schemas by id (`GET /schemas/ids/{id}`),
// parsed once and cached (LRU), so a record costs a map lookup, not a request. Concurrent records with
// an unknown id share one request. An id the registry does not know is the record's fault (it goes to
// the dead-letter topic); a registry that cannot be reached is retried until it answers, holding the
// partition back rather than dead-lettering good records.
import { setTimeout as sleep } from 'node:timers/promises';
import avsc, { type Type } from 'avsc';
import { LRUCache } from 'lru-cache';
import { SluiceError, messageOf } from '../errors.js';
import type { Logger } from '../ops/logger.js';

export interface RegistryOptions {
  url: string;
  /** Basic auth, from SCHEMA_REGISTRY_USER / SCHEMA_REGISTRY_PASSWORD or user:password in the URL. */
  username?: string;
  password?: string;
  cacheSize: number;
  timeoutMs: number;
}

/** The registry answered that it has no schema with this id: the record's fault. */
export class UnknownSchemaError extends SluiceError {
  constructor(
    readonly id: number,
    reason = 'the registry has no such schema',
  ) {
    super(`unknown schema id ${id}: ${reason}`, { code: 'SLUICE_RECORD_INVALID', retriable: false });
  }
}

/** The registry did not give a usable answer; retried until it does, holding the partition back. */
export class SchemaRegistryUnavailableError extends SluiceError {
  constructor(message: string, cause?: unknown) {
    super(message, { code: 'SLUICE_SCHEMA_REGISTRY_UNAVAILABLE', retriable: true, cause });
  }
}

export class SchemaRegistryClient {
  private readonly cache: LRUCache<number, Type>;
  private readonly pending = new Map<number, Promise<Type>>();
  private readonly base: string;
  private readonly auth: string | undefined;

  constructor(
    private readonly options: RegistryOptions,
    private readonly logger?: Logger,
  ) {
    this.cache = new LRUCache({ max: options.cacheSize });
    const url = new URL(options.url);
    const username = options.username ?? decodeURIComponent(url.username);
    const password = options.password ?? decodeURIComponent(url.password);
    url.username = '';
    url.password = '';
    this.base = url.toString().replace(/\/$/, '');
    this.auth = username ? `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}` : undefined;
  }

  /** The writer type of schema `id`: at once when cached, else after one request shared by all callers. */
  writerType(id: number): Type | Promise<Type> {
    const cached = this.cache.get(id);
    if (cached) return cached;
    let request = this.pending.get(id);
    if (!request) {
      request = this.fetchUntilAnswered(id).finally(() => this.pending.delete(id));
      this.pending.set(id, request);
    }
    return request;
  }

  private async fetchUntilAnswered(id: number): Promise<Type> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        const type = await this.fetchSchema(id);
        this.cache.set(id, type);
        return type;
      } catch (error) {
        if (error instanceof UnknownSchemaError) throw error;
        const delay = Math.min(10_000, 200 * 2 ** Math.min(attempt, 6));
        this.logger?.warn(
          { registry: this.base, id, attempt, retryInMs: delay, err: messageOf(error) },
          'schema registry unavailable; retrying (the partition waits)',
        );
        await sleep(delay);
      }
    }
  }

  private async fetchSchema(id: number): Promise<Type> {
    const response = await fetch(`${this.base}/schemas/ids/${id}`, {
      headers: {
        accept: 'application/vnd.schemaregistry.v1+json, application/json',
        ...(this.auth ? { authorization: this.auth } : {}),
      },
      signal: AbortSignal.timeout(this.options.timeoutMs),
    });
    if (response.status === 404) throw new UnknownSchemaError(id);
    if (!response.ok) throw new SchemaRegistryUnavailableError(`HTTP ${response.status} from ${this.base}`);
    const body = (await response.json()) as { schema?: string; schemaType?: string };
    if (body.schemaType !== undefined && body.schemaType !== 'AVRO')
      throw new UnknownSchemaError(id, `it is a ${body.schemaType} schema, not Avro`);
    if (typeof body.schema !== 'string')
      throw new SchemaRegistryUnavailableError(`no schema in the answer for id ${id}`);
    return avsc.Type.forSchema(JSON.parse(body.schema) as avsc.Schema);
  }
}
