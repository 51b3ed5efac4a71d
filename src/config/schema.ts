// The zod schema of a pipeline: the single source of truth for its shape, its defaults, the types
// the code uses (z.infer) and the configuration reference. Every field has a description and an example.
import { z } from 'zod';
import type { BatchHooks, OnStageError, Processor, ResultRow } from './user-functions.js';
import { formatDuration, parseDuration } from './duration.js';

/**
 * A duration field: '1m', '30s', '250ms' or a number of milliseconds; parsed to milliseconds. The
 * description sits on the input side, where the reference and the editor schema read it.
 */
function durationSchema(meta: { description: string; examples: string[]; default?: string }) {
  return z
    .union([z.string(), z.number()])
    .meta(meta)
    .transform((value, ctx) => {
      const ms = parseDuration(value);
      if (ms === undefined) {
        ctx.issues.push({
          code: 'custom',
          message: "a duration such as '1m', '30s' or '250ms'",
          input: value,
        });
        return z.NEVER;
      }
      return ms;
    });
}

function duration(description: string, example: string) {
  return durationSchema({ description, examples: [example] });
}

/** A duration with a default, shown as written ('5s') in the reference and the editor schema. */
function durationWithDefault(description: string, example: string, defaultMs: number) {
  return durationSchema({ description, examples: [example], default: formatDuration(defaultMs) }).default(
    defaultMs,
  );
}

const identifier = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'a name of letters, digits and underscores, not starting with a digit');

export const sourceSchema = z
  .object({
    brokers: z
      .array(z.string().min(1))
      .min(1)
      .optional()
      .meta({
        description:
          'Kafka bootstrap servers. When absent: KAFKA_BROKERS (comma-separated), then the local stack started by `sluice stack up`.',
        examples: [['localhost:9092']],
      }),
    topic: z
      .string()
      .min(1)
      .default('user-events')
      .meta({ description: 'The topic to consume.', examples: ['user-events'] }),
    groupId: z
      .string()
      .min(1)
      .optional()
      .meta({
        description: 'Consumer group id. Defaults to `sluice-<pipeline name>`.',
        examples: ['sluice-page-views'],
      }),
    keyedBy: z
      .array(
        z
          .string()
          .regex(
            /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/,
            'a field name, or a dotted path of them (device.site)',
          ),
      )
      .min(1)
      .optional()
      .meta({
        description:
          'The event fields the topic is keyed by: every event with the same values of these fields is in one partition (a producer keying by userId: [userId]). A window whose groupBy holds all of them is computed where its events are; every other window is re-keyed by its groupBy first, through the repartition topic, so each window and key has one row whatever the topic is keyed by. Absent: the keying is unknown and every window is re-keyed.',
        examples: [['userId']],
      }),
    fromBeginning: z
      .boolean()
      .default(true)
      .meta({
        description:
          'Where a group with no committed offset starts: the earliest record (true) or the next new one.',
        examples: [true],
      }),
    clientId: z
      .string()
      .default('sluice')
      .meta({ description: 'Kafka client id, seen in broker logs and quotas.', examples: ['sluice'] }),
    sessionTimeout: durationWithDefault(
      'Consumer group session timeout: a member whose heartbeats stop this long is removed and its partitions move. Heartbeats continue while partitions are paused. A broker accepts 6s to 30m unless its group.min.session.timeout.ms / group.max.session.timeout.ms say otherwise.',
      '30s',
      30_000,
    ),
    heartbeatInterval: durationWithDefault(
      'How often the member heartbeats: at most a third of sessionTimeout (Kafka’s advice), so a late heartbeat does not cost the partitions.',
      '3s',
      3_000,
    ),
  })
  .strict();

export const retrySchema = z
  .object({
    max: z
      .number()
      .int()
      .min(0)
      .default(3)
      .meta({
        description:
          'Retries after the first attempt, for errors that may pass (timeouts, unavailable lookups).',
        examples: [3],
      }),
    backoff: z
      .enum(['exponential', 'fixed'])
      .default('exponential')
      .meta({ description: 'How the delay between attempts grows.', examples: ['exponential'] }),
    baseDelay: durationWithDefault('Delay before the first retry.', '100ms', 100),
    maxDelay: durationWithDefault('Upper bound of the delay between retries.', '10s', 10_000),
    jitter: z
      .boolean()
      .default(true)
      .meta({ description: 'Randomise each delay (×1 to ×2) so retries spread out.', examples: [true] }),
  })
  .strict();

const stagePolicy = {
  concurrency: z
    .number()
    .int()
    .min(1)
    .max(10_000)
    .default(1)
    .meta({
      description: 'Records of one partition in this stage at once; results still leave in offset order.',
      examples: [16],
    }),
  timeout: durationWithDefault('Time one attempt may take before it fails as retriable.', '30s', 30_000),
  retry: retrySchema
    .default(() => retrySchema.parse({}))
    .meta({ description: 'Retries of a failed attempt.' }),
  onError: z
    .enum(['skip', 'dead-letter', 'abort'])
    .default('dead-letter')
    .meta({
      description:
        'What happens to a record whose stage fails for good (bad input, or retries exhausted), unless onStageError decides.',
      examples: ['dead-letter'],
    }),
};

export const registrySchema = z
  .object({
    url: z
      .string()
      .url()
      .optional()
      .meta({
        description:
          'Confluent-compatible schema registry; else SCHEMA_REGISTRY_URL. Basic auth from SCHEMA_REGISTRY_USER / SCHEMA_REGISTRY_PASSWORD.',
        examples: ['http://localhost:8081'],
      }),
    cacheSize: z
      .number()
      .int()
      .positive()
      .default(1_000)
      .meta({ description: 'Writer schemas kept parsed, by id (LRU).', examples: [1000] }),
    timeout: durationWithDefault('One request to the registry; a failed one is retried.', '5s', 5_000),
  })
  .strict();

export const parseSchema = z
  .object({
    format: z
      .enum(['json', 'avro', 'avro-confluent'])
      .default('json')
      .meta({
        description:
          'How record values are encoded: JSON, plain Avro binary (writer schema from `writerSchema`), or Avro in the Confluent wire format (magic byte, 4-byte schema id, then Avro; writer schema from the registry).',
        examples: ['avro-confluent'],
      }),
    schema: z
      .string()
      .min(1)
      .optional()
      .meta({
        description:
          'Avro reader schema (.avsc), relative to the config file; records written with older or newer versions are resolved to it. Defaults to the shipped schemas/avro/user-event.avsc.',
        examples: ['./schemas/user-event.avsc'],
      }),
    writerSchema: z
      .string()
      .min(1)
      .optional()
      .meta({
        description: 'format avro: the schema producers write with, when it differs from `schema`.',
        examples: ['./schemas/user-event.v1.avsc'],
      }),
    events: z
      .enum(['any', 'user-event', 'json-schema'])
      .optional()
      .meta({
        description:
          "What the events are. `any` (the default for JSON): any JSON object, fields read by dotted path; a field a window needs that is missing or of the wrong type sends the record to the dead-letter topic, naming it. `user-event`: Sluice's built-in user-event contract (the demo's). `json-schema`: validated against `eventSchema`. Avro records are what their reader schema (`schema`) says; `user-event` also checks them against the contract.",
        examples: ['any'],
      }),
    eventSchema: z
      .string()
      .min(1)
      .optional()
      .meta({
        description:
          'events json-schema: the JSON Schema file (draft 2020-12 or 07) the events must match, relative to the config file.',
        examples: ['./schemas/sensor-reading.schema.json'],
      }),
    registry: registrySchema.default(() => registrySchema.parse({})),
    maxMessageBytes: z
      .number()
      .int()
      .positive()
      .default(1_048_576)
      .meta({
        description: 'Larger record values are dead-lettered unread.',
        examples: [1048576],
      }),
    maxItems: z
      .number()
      .int()
      .positive()
      .default(10_000)
      .meta({
        description:
          'Avro: most items in one array or map. With the byte bound, a hostile length prefix cannot make decoding allocate or loop.',
        examples: [10000],
      }),
    onError: stagePolicy.onError,
  })
  .strict();

const stageName = identifier.meta({
  description: 'Stage name, used in metrics, logs and dead letters.',
  examples: ['only_views'],
});

export const filterStageSchema = z
  .object({
    name: stageName,
    type: z
      .literal('filter')
      .meta({ description: 'Keep only the events whose field has one of the values.' }),
    field: z
      .string()
      .min(1)
      .meta({ description: 'Event field to test.', examples: ['type'] }),
    in: z
      .array(z.union([z.string(), z.number(), z.boolean()]))
      .min(1)
      .meta({ description: 'Values to keep.', examples: [['page_view', 'click']] }),
    ...stagePolicy,
  })
  .strict();

export const customStageSchema = z
  .object({
    name: stageName,
    process: z
      .custom<Processor>((value) => typeof value === 'function', 'a function (record, ctx) => value(s)')
      .meta({ description: 'TypeScript only: the processor function.' }),
    ...stagePolicy,
  })
  .strict();

export const moduleStageSchema = z
  .object({
    name: stageName,
    module: z
      .string()
      .min(1)
      .meta({
        description:
          'A JavaScript module (path relative to the config file, or a package name) exporting the processor function (record, ctx) => value(s).',
        examples: ['./stages/enrich.mjs'],
      }),
    export: z
      .string()
      .min(1)
      .default('default')
      .meta({ description: 'The name of the exported processor function.', examples: ['enrich'] }),
    ...stagePolicy,
  })
  .strict();

export const userAgentStageSchema = z
  .object({
    name: stageName,
    type: z.literal('user-agent').meta({
      description: 'Parse a user-agent string into browser, browserVersion, os, osVersion and device.',
    }),
    field: z
      .string()
      .min(1)
      .default('userAgent')
      .meta({ description: 'Event field holding the user agent.', examples: ['userAgent'] }),
    ...stagePolicy,
  })
  .strict();

export const deriveFunctions = [
  'minute',
  'hour',
  'day',
  'weekday',
  'url-host',
  'url-path',
  'url-segment',
  'lower',
  'upper',
] as const;

export const deriveStageSchema = z
  .object({
    name: stageName,
    type: z.literal('derive').meta({ description: 'Add fields computed from others.' }),
    fields: z
      .array(
        z
          .object({
            name: z
              .string()
              .min(1)
              .meta({ description: 'The new field.', examples: ['hour'] }),
            fn: z.enum(deriveFunctions).meta({
              description:
                'minute / hour / day (UTC, YYYY-MM-DD) / weekday of an epoch-ms or ISO time; url-host, url-path, url-segment (index: 1 = first path segment) of a URL; lower / upper of text.',
              examples: ['hour'],
            }),
            from: z
              .string()
              .min(1)
              .meta({ description: 'The field it is computed from.', examples: ['timestamp'] }),
            index: z
              .number()
              .int()
              .positive()
              .default(1)
              .meta({ description: 'url-segment: which segment.', examples: [1] }),
          })
          .strict(),
      )
      .min(1)
      .meta({ description: 'Fields to add, in order (a later one may use an earlier one).' }),
    ...stagePolicy,
  })
  .strict();

export const lookupStageSchema = z
  .object({
    name: stageName,
    type: z.literal('lookup').meta({
      description:
        'Join each event with a row of a ClickHouse table or a local file (CSV, JSON, NDJSON) by a key field.',
    }),
    key: z
      .string()
      .min(1)
      .meta({ description: 'Event field whose value is looked up.', examples: ['userId'] }),
    from: z
      .union([
        z
          .object({
            clickhouse: z
              .object({
                table: z
                  .string()
                  .regex(/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/, 'a table, database.table')
                  .meta({ description: 'Table to read (database.table).', examples: ['crm.users'] }),
                column: z
                  .string()
                  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'a column name')
                  .meta({ description: 'Its key column.', examples: ['user_id'] }),
              })
              .strict(),
          })
          .strict(),
        z
          .object({
            file: z
              .string()
              .min(1)
              .meta({
                description:
                  'CSV (with a header), JSON array or NDJSON, relative to the config file; loaded at start.',
                examples: ['./users.csv'],
              }),
            column: z
              .string()
              .min(1)
              .optional()
              .meta({ description: 'Its key field (default: the event key field).', examples: ['id'] }),
          })
          .strict(),
      ])
      .meta({ description: '`{clickhouse: {table, column}}` or `{file, column}`.' }),
    into: z
      .string()
      .min(1)
      .optional()
      .meta({
        description: 'Put the row under this field; by default its fields are merged into the event.',
        examples: ['user'],
      }),
    onMissing: z
      .enum(['keep', 'drop', 'fail'])
      .default('keep')
      .meta({
        description:
          'A key the source does not have: keep the event as it is, drop it, or fail it (the stage error policy decides).',
        examples: ['keep'],
      }),
    cache: z
      .object({
        maxEntries: z
          .number()
          .int()
          .positive()
          .default(10_000)
          .meta({ description: 'Rows (and misses) kept, LRU.', examples: [10000] }),
        ttl: durationWithDefault('How long a cached row (or miss) is trusted.', '5m', 300_000),
      })
      .strict()
      .default({ maxEntries: 10_000, ttl: 300_000 })
      .meta({ description: 'ClickHouse lookups: the LRU cache with TTL in front of the table.' }),
    maxConcurrent: z
      .number()
      .int()
      .positive()
      .default(8)
      .meta({ description: 'Queries to the table at once, over all partitions.', examples: [8] }),
    ...stagePolicy,
  })
  .strict();

export const stageSchema = z.union(
  [
    filterStageSchema,
    userAgentStageSchema,
    deriveStageSchema,
    lookupStageSchema,
    moduleStageSchema,
    customStageSchema,
  ],
  {
    error: () =>
      'a stage: {name, type: filter|user-agent|derive|lookup, …}, {name, module, export} or, in TypeScript, {name, process}',
  },
);

export const deadLetterSchema = z
  .object({
    topic: z
      .string()
      .min(1)
      .optional()
      .meta({
        description: 'Dead-letter topic; created when missing. Defaults to `<source topic>.dlq`.',
        examples: ['user-events.dlq'],
      }),
    retention: durationWithDefault(
      'How long the dead-letter topic keeps records (time-based retention).',
      '14d',
      14 * 86_400_000,
    ),
  })
  .strict();

export const backpressureSchema = z
  .object({
    strategy: z
      .enum(['pause-upstream', 'drop-oldest', 'reject'])
      .default('pause-upstream')
      .meta({
        description:
          'When a partition’s buffer is full: pause fetching (loses nothing), drop the oldest unprocessed records, or send them to the overflow topic. Drops are counted. Records are shed from the source topic only: the side computing re-keyed windows pauses the internal repartition topic whatever the strategy.',
        examples: ['pause-upstream'],
      }),
    maxBufferSize: z
      .number()
      .int()
      .min(1)
      .default(10_000)
      .meta({
        description:
          'Records per partition between fetch and sink (in stages, and results awaiting the sink).',
        examples: [10_000],
      }),
    maxBufferBytes: z
      .number()
      .int()
      .min(1024)
      .default(64 * 1024 * 1024)
      .meta({
        description: 'Bytes of record values per partition between fetch and the last stage.',
        examples: [67_108_864],
      }),
    lowWaterMark: z
      .number()
      .gt(0)
      .lt(1)
      .default(0.5)
      .meta({
        description: 'A paused partition resumes when its buffer is below this fraction of both bounds.',
        examples: [0.5],
      }),
    overflowTopic: z
      .string()
      .min(1)
      .optional()
      .meta({
        description: 'For `reject`: where overflowing records go. Defaults to `<source topic>.overflow`.',
        examples: ['user-events.overflow'],
      }),
  })
  .strict();

export const httpSchema = z
  .object({
    enabled: z
      .boolean()
      .default(true)
      .meta({ description: 'Serve /healthz, /readyz, /status and /metrics.', examples: [true] }),
    host: z
      .string()
      .min(1)
      .default('0.0.0.0')
      .meta({ description: 'Address to listen on.', examples: ['0.0.0.0'] }),
    port: z
      .number()
      .int()
      .min(0)
      .max(65_535)
      .default(8080)
      .meta({ description: 'Port to listen on (0: any free port, logged at start).', examples: [8080] }),
  })
  .strict();

export const shutdownSchema = z
  .object({
    timeout: durationWithDefault(
      'On SIGTERM, stop(), drain() or revoke: time to finish in-flight records, flush and commit before leaving anyway. Keep it below Kubernetes’ terminationGracePeriodSeconds.',
      '25s',
      25_000,
    ),
  })
  .strict();

export const timeSchema = z
  .object({
    field: z
      .string()
      .min(1)
      .optional()
      .meta({
        description:
          'Event field holding the event time, a dotted path (see `format`). When absent, the Kafka record timestamp is used.',
        examples: ['timestamp'],
      }),
    format: z
      .enum(['auto', 'epoch-millis', 'epoch-seconds', 'iso-8601'])
      .default('auto')
      .meta({
        description:
          'How `field` holds the time: `epoch-millis` or `epoch-seconds` (a number, or a string of digits), `iso-8601` (a string such as 2026-11-30T08:00:00Z), or `auto` (a number is epoch milliseconds, a string ISO-8601).',
        examples: ['epoch-seconds'],
      }),
    maxOutOfOrderness: durationWithDefault(
      'How far behind the newest event time an event may arrive and still count: watermark = max event time − this.',
      '5s',
      5_000,
    ),
    grace: durationWithDefault('Extra time a window stays open after the watermark passes its end.', '0s', 0),
    idleTimeout: durationWithDefault(
      'After this much wall-clock time without records, a partition’s watermark follows the wall clock (now − idleTimeout), so a quiet topic still closes its windows.',
      '30s',
      30_000,
    ),
  })
  .strict();

/** A window length: a whole number of seconds, because result rows carry ClickHouse DateTime bounds. */
function windowDuration(description: string, example: string) {
  return duration(description, example).refine((ms) => ms >= 1_000 && ms % 1_000 === 0, {
    message: 'a whole number of seconds, at least 1s',
  });
}

const aggregateField = z
  .string()
  .min(1)
  .meta({ description: 'Event field, a dotted path for nested fields.', examples: ['value'] });

const aggregateName = identifier.optional().meta({
  description: 'Result column name. Defaults to `<fn>_<field>` with non-identifier characters as `_`.',
  examples: ['revenue'],
});

export const aggregationSchema = z
  .union(
    [
      z
        .object({
          fn: z
            .enum(['sum', 'avg', 'min', 'max'])
            .meta({ description: 'Aggregate function.', examples: ['sum'] }),
          field: aggregateField,
          name: aggregateName,
        })
        .strict(),
      z
        .object({
          fn: z.literal('count_distinct').meta({ description: 'Distinct values of the field.' }),
          field: aggregateField,
          name: aggregateName,
          exactUpTo: z
            .number()
            .int()
            .min(0)
            .default(1_000)
            .meta({
              description:
                'Counted exactly up to this many distinct values per window, then estimated with HyperLogLog (about 1.6 % error); the result column `<name>_exact` says which.',
              examples: [1_000],
            }),
        })
        .strict(),
    ],
    { error: () => 'an aggregation: {fn: sum|avg|min|max, field} or {fn: count_distinct, field, exactUpTo}' },
  )
  .transform((spec) => ({
    ...spec,
    name: spec.name ?? `${spec.fn}_${spec.field.replace(/[^A-Za-z0-9_]/g, '_')}`,
  }));

const windowCommon = {
  name: identifier
    .refine((name) => !name.includes('__'), {
      message:
        'a name without "__" (it marks a ClickHouse table derived from a window, such as a materialized view’s target)',
    })
    .meta({
      description:
        'Name of the window definition; its ClickHouse table and part of every result row’s identity. Without `__`, which marks a table derived from a window.',
      examples: ['page_views_1m'],
    }),
  groupBy: z
    .array(
      z
        .string()
        .regex(
          /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/,
          'a field name, or a dotted path of them (device.site)',
        ),
    )
    .default([])
    .meta({
      description:
        'Event fields whose values form the group key; a dotted path reads a nested field and lands in a column named with underscores (`device.site` → `device_site`).',
      examples: [['type', 'url']],
    }),
  aggregations: z.array(aggregationSchema).default([]).meta({
    description: 'Aggregations besides `count` (always computed): sum, avg, min, max, count_distinct.',
  }),
  emit: z
    .object({
      mode: z
        .enum(['final', 'update'])
        .default('final')
        .meta({
          description:
            '`final`: one row per window, when it closes. `update`: also early rows every `every` while it is open, each superseded in ClickHouse by a higher version.',
          examples: ['final'],
        }),
      every: durationWithDefault(
        'Update mode: how often open windows that changed are emitted.',
        '5s',
        5_000,
      ),
    })
    .strict()
    .default({ mode: 'final', every: 5_000 })
    .meta({ description: 'When results are written.' }),
  maxKeys: z
    .number()
    .int()
    .min(1)
    .default(100_000)
    .meta({
      description:
        'Most group keys one window may hold (for session windows: open sessions per partition). Beyond it, `onKeyCap` applies.',
      examples: [100_000],
    }),
  onKeyCap: z
    .enum(['drop', 'other'])
    .default('drop')
    .meta({
      description:
        'At the key cap: `drop` the event from this window (it goes to the dead-letter topic with `sluice.reason: key-cap`, so `sluice dlq replay` can bring it back once the cap is raised), or aggregate it under the key `__other__` (session windows always drop). Either way it is counted.',
      examples: ['drop'],
    }),
};

const allowedLateness = durationWithDefault(
  "How long a window keeps its state after it fired (the watermark past its end + grace): a late event within it updates the window and writes its row again (a higher version replaces the fired one in ClickHouse, emit reason `late`); later events go to the late-events topic. The state kept counts in `state.maxBytes` and in `sluice_windows_retained`. As Flink's allowed lateness.",
  '10m',
  0,
);

export const windowSchema = z.union(
  [
    z
      .object({
        type: z
          .literal('tumbling')
          .meta({ description: 'Fixed, non-overlapping windows aligned to the epoch.' }),
        size: windowDuration('Window length.', '1m'),
        ...windowCommon,
        allowedLateness,
      })
      .strict(),
    z
      .object({
        type: z.literal('sliding').meta({
          description:
            'Fixed-size windows starting every `advance` (hopping windows); an event is in size/advance of them.',
        }),
        size: windowDuration('Window length; a multiple of `advance`.', '10m'),
        advance: windowDuration('Distance between window starts.', '1m'),
        ...windowCommon,
        allowedLateness,
      })
      .strict()
      .refine((w) => w.size % w.advance === 0 && w.size >= w.advance, {
        message: 'a size that is a multiple of advance',
        path: ['size'],
      }),
    z
      .object({
        type: z.literal('session').meta({
          description:
            'Per group key: events less than `gap` apart share a session; a late-arriving event can merge two.',
        }),
        gap: windowDuration('Inactivity that ends a session.', '30m'),
        ...windowCommon,
        allowedLateness: allowedLateness.refine((ms) => ms === 0, {
          message:
            '0 for session windows (a late event would have to merge sessions that already fired): raise time.grace instead',
        }),
      })
      .strict(),
  ],
  {
    error: () =>
      'a window: {name, type: tumbling, size}, {name, type: sliding, size, advance} or {name, type: session, gap}',
  },
);

export const processingSchema = z
  .object({
    guarantee: z
      .enum(['exactly-once', 'at-least-once'])
      .default('exactly-once')
      .meta({
        description:
          '`exactly-once`: each commit is one Kafka transaction holding the changelog records and the offsets. `at-least-once`: the changelog transaction is committed, then the offsets; window results stay exact, but dead letters, late events and Kafka output rows may be written twice after a crash.',
        examples: ['exactly-once'],
      }),
    commitInterval: durationWithDefault(
      "How often each partition commits: its changed windows to the changelog and its offset. Shorter: less to replay after a crash, and under `exactly-once` results sooner queryable (a re-keyed result waits for two commits, its source partition's and its own); longer: fewer transactions.",
      '1s',
      1_000,
    ),
    stalledAfterIntervals: z
      .number()
      .int()
      .min(2)
      .default(30)
      .meta({
        description:
          '/healthz answers 503 when a partition holding uncommitted records has not committed for this many commit intervals: commits that keep failing without recovering. A partition being restored, or paused for a sink that is down, does not count (a restart would not help).',
        examples: [30],
      }),
  })
  .strict();

export const stateSchema = z
  .object({
    changelogTopic: z
      .string()
      .min(1)
      .optional()
      .meta({
        description:
          'Compacted topic holding the window state, one partition per source partition; created when missing. Defaults to `sluice-<pipeline name>-changelog`.',
        examples: ['sluice-page_views-changelog'],
      }),
    repartitionTopic: z
      .string()
      .min(1)
      .optional()
      .meta({
        description:
          'The internal topic re-keyed windows read their events from, keyed by group key, with as many partitions as the source; created when missing. Its windows keep their state in `<changelogTopic>-rekeyed` and commit as the consumer group `<groupId>-rekeyed`. Defaults to `sluice-<pipeline name>-repartition`.',
        examples: ['sluice-page_views-repartition'],
      }),
    maxBytes: z
      .number()
      .int()
      .min(1024 * 1024)
      .default(256 * 1024 * 1024)
      .meta({
        description:
          'Byte budget of one partition’s window state (an estimate). Above it the windows due first are closed early, with reason `state-budget`, and counted.',
        examples: [268_435_456],
      }),
  })
  .strict();

export const lateEventsSchema = z
  .object({
    topic: z
      .string()
      .min(1)
      .optional()
      .meta({
        description:
          'Where events that arrive after their window closed go, with how late they were. Defaults to `<source topic>.late`.',
        examples: ['user-events.late'],
      }),
  })
  .strict();

/** A sink's retries: more patient than a stage's, since a batch holds many records' results. */
const sinkRetrySchema = retrySchema.extend({
  max: z
    .number()
    .int()
    .min(0)
    .default(5)
    .meta({
      description: 'Retries of a batch after its first attempt, for errors that may pass.',
      examples: [5],
    }),
  baseDelay: durationWithDefault('Delay before the first retry.', '200ms', 200),
});

/** How a sink batches, retries and stops hammering a failing target: shared by every sink. */
export const sinkDeliverySchema = {
  batch: z
    .object({
      maxSize: z
        .number()
        .int()
        .min(1)
        .default(10_000)
        .meta({
          description: 'Rows per batch: a group with this many rows is written at once.',
          examples: [10_000],
        }),
      maxWaitMs: z
        .number()
        .int()
        .min(1)
        .default(1_000)
        .meta({
          description:
            'Milliseconds the first row of a group may wait before its batch is written. Commits also write what is waiting.',
          examples: [1_000],
        }),
    })
    .strict()
    .default({ maxSize: 10_000, maxWaitMs: 1_000 })
    .meta({ description: 'When a batch is written: by size, by age, or on demand (commit, revoke, stop).' }),
  retry: sinkRetrySchema
    .default(() => sinkRetrySchema.parse({}))
    .meta({
      description: 'Retries of a failed write (backoff with jitter) before the circuit breaker counts it.',
    }),
  circuitBreaker: z
    .object({
      failures: z
        .number()
        .int()
        .min(1)
        .default(3)
        .meta({
          description: 'Consecutive failed writes (after retries) that open the circuit.',
          examples: [3],
        }),
      halfOpenAfter: durationWithDefault(
        'How long an open circuit waits before one write tries the target again.',
        '5s',
        5_000,
      ),
    })
    .strict()
    .default({ failures: 3, halfOpenAfter: 5_000 })
    .meta({
      description:
        'While open, every source partition is paused (backpressure) instead of failing in a loop; rows are kept.',
    }),
  hooks: z
    .custom<BatchHooks<ResultRow>>(
      (value) => typeof value === 'object' && value !== null,
      'an object of hook functions',
    )
    .optional()
    .meta({
      description:
        'TypeScript only: `beforeFlush(rows, group)` filters or reshapes a batch, `onSuccess(rows, group)`, `onFail(error, rows, group)`.',
    }),
  onExhausted: z
    .enum(['backpressure', 'dead-letter'])
    .default('backpressure')
    .meta({
      description:
        'A batch whose retries are exhausted: keep it and wait for the target (backpressure), or send its rows to the dead-letter topic and move on. Rows the target rejects as invalid always go to the dead-letter topic.',
      examples: ['backpressure'],
    }),
};

export const clickhouseSinkSchema = z
  .object({
    enabled: z
      .boolean()
      .default(true)
      .meta({ description: 'Write window results to ClickHouse.', examples: [true] }),
    url: z
      .string()
      .url()
      .optional()
      .meta({
        description:
          'ClickHouse HTTP endpoint. When absent: CLICKHOUSE_URL, then the local stack started by `sluice stack up`.',
        examples: ['http://localhost:8123'],
      }),
    username: z
      .string()
      .default('default')
      .meta({ description: 'ClickHouse user.', examples: ['default'] }),
    password: z
      .string()
      .default('')
      .meta({
        description: 'ClickHouse password. Prefer CLICKHOUSE_PASSWORD in the environment.',
        examples: [''],
      }),
    database: identifier.default('sluice').meta({
      description: 'Database for the result tables; created when missing.',
      examples: ['sluice'],
    }),
    cluster: z
      .string()
      .regex(/^[A-Za-z0-9_.-]+$/, 'a cluster name of the servers’ remote_servers')
      .optional()
      .meta({
        description:
          "A cluster of the servers' `remote_servers` to make the tables on (ON CLUSTER): each window's rows are stored in a replicated `<window>_rows_local` on every server, written and read through a Distributed `<window>_rows` sharded by the row's identity. The servers need ZooKeeper (or Keeper) and `{shard}` and `{replica}` macros. Absent: the tables live on the server at `url` alone.",
        examples: ['sluice'],
      }),
    tables: z
      .record(
        z.string(),
        z.string().regex(/^[A-Za-z_{][A-Za-z0-9_{}]*$/, 'a table name, may hold {field} parts'),
      )
      .default({})
      .meta({
        description:
          "Routing: per window name, the table its rows go to, which may use the window's groupBy fields, e.g. `views_{country}`; tables are created on first use. Default: the window's name.",
        examples: [{ views: 'views_{country}' }],
      }),
    migrations: z
      .string()
      .optional()
      .meta({
        description:
          'A folder of `.sql` files applied in name order, once each, at start-up and by `sluice migrate` (recorded in `<database>.sluice_migrations`).',
        examples: ['schemas/clickhouse'],
      }),
    ...sinkDeliverySchema,
  })
  .strict();

export const kafkaSinkSchema = z
  .object({
    topic: z
      .string()
      .regex(/^[A-Za-z0-9._{}-]+$/, 'a topic name, may hold {window}')
      .meta({
        description:
          'Output topic for window results, keyed by the group key; `{window}` puts each window in its own topic (required with Avro and several windows). Created with the source partition count when missing.',
        examples: ['page-views.{window}'],
      }),
    format: z
      .enum(['json', 'avro'])
      .default('json')
      .meta({
        description:
          'JSON, or Avro binary with the schema Sluice derives from the window (printed by `sluice schemas`).',
        examples: ['json'],
      }),
    ...sinkDeliverySchema,
  })
  .strict();

const severity = z
  .enum(['error', 'warning', 'info'])
  .default('error')
  .meta({
    description:
      '`error`: the record goes to the dead-letter topic; `warning`: it goes on, flagged in `qualityWarnings` and counted; `info`: it goes on and the violation is logged.',
    examples: ['warning'],
  });
const ruleField = z
  .string()
  .min(1)
  .meta({ description: 'Event field the rule checks (a.b for nested).', examples: ['url'] });

export const qualityRuleSchema = z.discriminatedUnion('rule', [
  z.object({ rule: z.literal('required'), field: ruleField, severity }).strict(),
  z
    .object({
      rule: z.literal('regex'),
      field: ruleField,
      pattern: z
        .string()
        .refine((p) => {
          try {
            new RegExp(p);
            return true;
          } catch {
            return false;
          }
        }, 'a valid regular expression')
        .meta({ description: 'The value (as text) must match it.', examples: ['^/'] }),
      severity,
    })
    .strict(),
  z
    .object({
      rule: z.literal('range'),
      field: ruleField,
      min: z
        .number()
        .optional()
        .meta({ description: 'Lowest allowed value.', examples: [0] }),
      max: z
        .number()
        .optional()
        .meta({ description: 'Highest allowed value.', examples: [100000] }),
      severity,
    })
    .strict(),
  z
    .object({
      rule: z.literal('enum'),
      field: ruleField,
      values: z
        .array(z.union([z.string(), z.number(), z.boolean()]))
        .min(1)
        .meta({ description: 'Allowed values.', examples: [['page_view', 'click']] }),
      severity,
    })
    .strict(),
  z
    .object({
      rule: z.literal('unique'),
      field: ruleField,
      within: durationWithDefault(
        'A value seen again within this much event time is a duplicate (per partition).',
        '10m',
        600_000,
      ),
      maxKeys: z
        .number()
        .int()
        .positive()
        .default(100_000)
        .meta({
          description: 'Values remembered per partition (least recently seen go first).',
          examples: [100000],
        }),
      severity,
    })
    .strict(),
]);

export const pipelineSchema = z
  .object({
    name: identifier.meta({
      description: 'Pipeline name; names the consumer group, metrics and result rows.',
      examples: ['page_views'],
    }),
    source: sourceSchema
      .default(() => sourceSchema.parse({}))
      .meta({ description: 'The Kafka topic and consumer group the pipeline reads.' }),
    parse: parseSchema
      .default(() => parseSchema.parse({}))
      .meta({ description: 'How record values are decoded into events.' }),
    quality: z.array(qualityRuleSchema).default([]).meta({
      description:
        'Data-quality rules checked on every parsed event, before the stages: required, regex, range, enum, and unique (deduplicate by a field, e.g. eventId). Each with a severity.',
    }),
    stages: z.array(stageSchema).default([]).meta({
      description: 'Processors between parse and the windows, in order: filter, map, fan-out.',
    }),
    time: timeSchema
      .default(() => timeSchema.parse({}))
      .meta({ description: 'Event time, watermarks and idleness, per partition.' }),
    windows: z
      .array(windowSchema)
      .min(1)
      .meta({ description: 'Window definitions; each writes to its own ClickHouse table, named after it.' }),
    sinks: z
      .object({
        clickhouse: clickhouseSinkSchema
          .default(() => clickhouseSinkSchema.parse({}))
          .meta({ description: 'Where window results land: one ReplacingMergeTree table per window.' }),
        kafka: kafkaSinkSchema.optional().meta({
          description:
            'Window results to a Kafka topic as well, inside the exactly-once transaction when that guarantee is on.',
        }),
      })
      .strict()
      .default(() => ({ clickhouse: clickhouseSinkSchema.parse({}) }))
      .meta({ description: 'Where results go.' }),
    processing: processingSchema
      .default(() => processingSchema.parse({}))
      .meta({ description: 'Delivery guarantee and commit cadence.' }),
    state: stateSchema
      .default(() => stateSchema.parse({}))
      .meta({ description: 'In-memory window state per partition.' }),
    lateEvents: lateEventsSchema
      .default(() => lateEventsSchema.parse({}))
      .meta({ description: 'The side output for late events.' }),
    deadLetter: deadLetterSchema
      .default(() => deadLetterSchema.parse({}))
      .meta({ description: 'Where records that fail a stage for good are parked, with their context.' }),
    backpressure: backpressureSchema
      .default(() => backpressureSchema.parse({}))
      .meta({ description: 'Per-partition buffer bounds and what happens when they are reached.' }),
    shutdown: shutdownSchema.default(() => shutdownSchema.parse({})).meta({ description: 'Graceful stop.' }),
    http: httpSchema
      .default(() => httpSchema.parse({}))
      .meta({ description: 'The health, readiness, status and metrics endpoints of `sluice run`.' }),
    onStageError: z
      .custom<OnStageError>(
        (value) => typeof value === 'function',
        'a function (stage, error, ctx) => action',
      )
      .optional()
      .meta({
        description: 'TypeScript only: decides retry, skip, dead-letter or abort for any stage error.',
      }),
  })
  .strict();

/** A pipeline as written by a user (defaults optional). */
export type PipelineInput = z.input<typeof pipelineSchema>;
/** A validated pipeline with every default filled in and every duration in milliseconds. */
export type Pipeline = z.output<typeof pipelineSchema>;
export type WindowConfig = Pipeline['windows'][number];
export type AggregationConfig = WindowConfig['aggregations'][number];
export type TimeConfig = Pipeline['time'];
export type ClickHouseSinkConfig = Pipeline['sinks']['clickhouse'];
export type KafkaSinkConfig = NonNullable<Pipeline['sinks']['kafka']>;
export type SinkDeliveryConfig = Pick<ClickHouseSinkConfig, keyof typeof sinkDeliverySchema>;
export type StageConfig = Pipeline['stages'][number];
export type RetryConfig = z.output<typeof retrySchema>;
export type BackpressureConfig = Pipeline['backpressure'];
export type QualityRule = Pipeline['quality'][number];
export type ParseConfig = Pipeline['parse'];
export type SourceConfig = Pipeline['source'];
export type StateConfig = Pipeline['state'];
