// The zod schema of a pipeline: the single source of truth for its shape, its defaults, the types
// the code uses (z.infer) and the configuration reference. Every field has a description and an example.
import { z } from 'zod';
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
  })
  .strict();

export const parseSchema = z
  .object({
    format: z
      .literal('json')
      .default('json')
      .meta({ description: 'How record values are encoded.', examples: ['json'] }),
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
          'Event field holding the event time (epoch milliseconds or an ISO-8601 string). When absent, the Kafka record timestamp is used.',
        examples: ['timestamp'],
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

export const windowSchema = z
  .object({
    name: identifier.meta({
      description: 'Name of the window definition; part of every result row’s identity.',
      examples: ['page_views_1m'],
    }),
    type: z.literal('tumbling').meta({ description: 'Window type.', examples: ['tumbling'] }),
    size: duration('Window length; windows are aligned to the epoch.', '1m'),
    groupBy: z
      .array(identifier)
      .default([])
      .meta({ description: 'Event fields whose values form the group key.', examples: [['type', 'url']] }),
  })
  .strict();

export const clickhouseSinkSchema = z
  .object({
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
  })
  .strict();

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
      })
      .strict()
      .default(() => ({ clickhouse: clickhouseSinkSchema.parse({}) }))
      .meta({ description: 'Where results go.' }),
  })
  .strict();

/** A pipeline as written by a user (defaults optional). */
export type PipelineInput = z.input<typeof pipelineSchema>;
/** A validated pipeline with every default filled in and every duration in milliseconds. */
export type Pipeline = z.output<typeof pipelineSchema>;
export type WindowConfig = Pipeline['windows'][number];
export type TimeConfig = Pipeline['time'];
export type ClickHouseSinkConfig = Pipeline['sinks']['clickhouse'];
