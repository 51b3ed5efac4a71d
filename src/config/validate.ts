// Turns zod's issues into ConfigErrors that name the path (`windows[0].size`), what was expected and
// what was found, so a user can fix a config without reading the schema.
import type { z } from 'zod';
import { ConfigError, type ConfigIssue } from './config-error.js';
import { formatDuration } from './duration.js';
import { pipelineSchema, type Pipeline, type WindowConfig } from './schema.js';
import { groupByColumn } from './columns.js';

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
      return issue.message === 'Invalid input' ? 'a duration' : issue.message;
    default:
      return issue.message;
  }
}

/**
 * For a value matching none of a union's forms: the issues of the one form whose fields all exist and
 * whose constants match, so `stages[0].in` is named rather than the whole stage; none when no form fits.
 */
function closestForm(issue: z.core.$ZodIssue): z.core.$ZodIssue[] | undefined {
  if (issue.code !== 'invalid_union') return undefined;
  // A form fits when it knows every field given and its constants (a `type: tumbling`) match.
  const fitting = issue.errors.filter((form) =>
    form.every((i) => i.code !== 'unrecognized_keys' && i.code !== 'invalid_value'),
  );
  if (fitting.length !== 1) return undefined;
  return fitting[0]!.map((inner) => ({ ...inner, path: [...issue.path, ...inner.path] }));
}

function toConfigIssues(issues: readonly z.core.$ZodIssue[], input: unknown): ConfigIssue[] {
  return issues.flatMap((issue) => {
    const closest = closestForm(issue);
    if (closest) return toConfigIssues(closest, input);
    return [{ path: formatPath(issue.path), expected: expectedOf(issue), found: valueAt(input, issue.path) }];
  });
}

/** The columns every result row has besides its group-by fields and aggregations (clickhouse-tables.ts). */
const ROW_COLUMNS = [
  'pipeline',
  'window_start',
  'window_end',
  'window_start_ms',
  'window_end_ms',
  'source_partition',
  'count',
  'emit_reason',
  'superseded',
  'commit_interval',
  'late_applied',
  'version',
];

/** The stage names the built-in steps report under in metrics, status and dead letters. */
const BUILT_IN_STAGES = ['parse', 'quality'];

/**
 * Kafka's guidance: at most a third, so a member that misses a heartbeat or two (a long fetch, a GC
 * pause) still keeps its partitions. kafkajs itself refuses an interval that is not below the timeout.
 */
function heartbeatIssues(source: Pipeline['source']): ConfigIssue[] {
  if (source.heartbeatInterval * 3 <= source.sessionTimeout) return [];
  return [
    {
      path: 'source.heartbeatInterval',
      expected: `at most a third of source.sessionTimeout (${formatDuration(source.sessionTimeout)}), so a late heartbeat does not cost the partitions`,
      found: formatDuration(source.heartbeatInterval),
    },
  ];
}

/** Names that identify one thing each: a window's table, state and routing; a stage's metrics and dead letters. */
function nameIssues(pipeline: Pipeline): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const windows = new Set<string>();
  pipeline.windows.forEach((w, i) => {
    if (windows.has(w.name))
      issues.push({
        path: `windows[${i}].name`,
        expected: "a name no other window has (it names the window's table, state and results)",
        found: w.name,
      });
    windows.add(w.name);
  });
  const stages = new Set<string>(BUILT_IN_STAGES);
  pipeline.stages.forEach((stage, i) => {
    if (stages.has(stage.name))
      issues.push({
        path: `stages[${i}].name`,
        expected: `a name no other stage has, nor a built-in step (${BUILT_IN_STAGES.join(', ')}): metrics, status and dead letters tell stages apart by it`,
        found: stage.name,
      });
    stages.add(stage.name);
  });
  return issues;
}

/** A result row holds each column once: a group-by field or aggregation may not take another's name. */
function columnIssues(window: WindowConfig, index: number): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const owners = new Map<string, string>(ROW_COLUMNS.map((c) => [c, 'a column every result row has']));
  const claim = (column: string, owner: string, path: string, found: string, hint = '') => {
    const taken = owners.get(column);
    if (taken === undefined) owners.set(column, owner);
    else
      issues.push({ path, expected: `a result column of its own ("${column}" is ${taken}${hint})`, found });
  };
  window.groupBy.forEach((field, j) =>
    claim(groupByColumn(field), `groupBy[${j}]`, `windows[${index}].groupBy[${j}]`, field),
  );
  window.aggregations.forEach((aggregation, k) => {
    const path = `windows[${index}].aggregations[${k}].name`;
    const hint = '; give the aggregation another name';
    claim(aggregation.name, `aggregations[${k}]`, path, aggregation.name, hint);
    if (aggregation.fn === 'count_distinct')
      claim(`${aggregation.name}_exact`, `aggregations[${k}]`, path, aggregation.name, hint);
    if (aggregation.fn === 'avg')
      claim(`${aggregation.name}_n`, `aggregations[${k}]`, path, aggregation.name, hint);
  });
  return issues;
}

/**
 * What one field cannot say about another: routing and output names must fit the windows, names must
 * be unique, and the consumer group's timings must fit together.
 */
function crossFieldIssues(pipeline: Pipeline): ConfigIssue[] {
  const issues: ConfigIssue[] = [
    ...heartbeatIssues(pipeline.source),
    ...nameIssues(pipeline),
    ...pipeline.windows.flatMap(columnIssues),
  ];
  const windows = new Map(pipeline.windows.map((w) => [w.name, w]));
  for (const [name, template] of Object.entries(pipeline.sinks.clickhouse.tables)) {
    const window = windows.get(name);
    if (!window) {
      issues.push({
        path: `sinks.clickhouse.tables.${name}`,
        expected: `a window name (${[...windows.keys()].join(', ')})`,
        found: name,
      });
      continue;
    }
    const columns = window.groupBy.map(groupByColumn);
    for (const [, field] of template.matchAll(/\{([^}]*)\}/g))
      if (!columns.includes(field!))
        issues.push({
          path: `sinks.clickhouse.tables.${name}`,
          expected: `{column} parts from the window's groupBy columns (${columns.join(', ') || 'none'})`,
          found: template,
        });
  }
  const kafka = pipeline.sinks.kafka;
  if (kafka?.format === 'avro' && pipeline.windows.length > 1 && !kafka.topic.includes('{window}'))
    issues.push({
      path: 'sinks.kafka.topic',
      expected:
        'a name with {window} when the format is avro and there are several windows (one schema per topic)',
      found: kafka.topic,
    });
  if (!pipeline.sinks.clickhouse.enabled && !kafka)
    issues.push({
      path: 'sinks',
      expected: 'at least one sink (clickhouse enabled, or kafka)',
      found: 'clickhouse disabled and no kafka sink',
    });
  return issues;
}

/** Validates a pipeline, filling defaults; throws ConfigError naming every bad field. */
export function validatePipeline(input: unknown, source?: string): Pipeline {
  const result = pipelineSchema.safeParse(input);
  if (!result.success)
    throw new ConfigError(toConfigIssues(result.error.issues, input), source, result.error);
  const issues = crossFieldIssues(result.data);
  if (issues.length > 0) throw new ConfigError(issues, source);
  return result.data;
}
