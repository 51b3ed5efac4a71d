import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/config/config-error.js';
import { parseDuration } from '../../../src/config/duration.js';
import { loadPipelineFile } from '../../../src/config/load.js';
import { validatePipeline } from '../../../src/config/validate.js';
import { windowColumns } from '../../../src/sinks/clickhouse-tables.js';

const minimal = { name: 'p', windows: [{ name: 'w', type: 'tumbling', size: '1m' }] };

function issuesOf(input: unknown) {
  try {
    validatePipeline(input);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).issues;
  }
  throw new Error('expected a ConfigError');
}

describe('pipeline config', () => {
  it('keeps "__" out of window names: it marks a table derived from a window', () => {
    expect(issuesOf({ ...minimal, windows: [{ ...minimal.windows[0], name: 'views__hourly' }] })).toEqual([
      {
        path: 'windows[0].name',
        expected:
          'a name without "__" (it marks a ClickHouse table derived from a window, such as a materialized view’s target)',
        found: 'views__hourly',
      },
    ]);
  });

  it('fills every default and turns durations into milliseconds', () => {
    const pipeline = validatePipeline(minimal);
    expect(pipeline.source).toEqual({
      topic: 'user-events',
      fromBeginning: true,
      clientId: 'sluice',
      sessionTimeout: 30_000,
      heartbeatInterval: 3_000,
    });
    expect(pipeline.backpressure).toEqual({
      strategy: 'pause-upstream',
      maxBufferSize: 10_000,
      maxBufferBytes: 64 * 1024 * 1024,
      lowWaterMark: 0.5,
    });
    expect(pipeline.time).toEqual({
      format: 'auto',
      maxOutOfOrderness: 5_000,
      grace: 0,
      idleTimeout: 30_000,
    });
    expect(pipeline.windows[0]).toEqual({
      name: 'w',
      type: 'tumbling',
      size: 60_000,
      groupBy: [],
      aggregations: [],
      emit: { mode: 'final', every: 5_000 },
      maxKeys: 100_000,
      onKeyCap: 'drop',
      allowedLateness: 0,
    });
    expect(pipeline.sinks.clickhouse).toEqual({
      enabled: true,
      username: 'default',
      password: '',
      database: 'sluice',
      tables: {},
      batch: { maxSize: 10_000, maxWaitMs: 1_000 },
      retry: { max: 5, backoff: 'exponential', baseDelay: 200, maxDelay: 10_000, jitter: true },
      circuitBreaker: { failures: 3, halfOpenAfter: 5_000 },
      onExhausted: 'backpressure',
    });
    expect(pipeline.sinks.kafka).toBeUndefined();
  });

  it('names the path, what was expected and what was found', () => {
    const bad = { ...minimal, windows: [{ name: 'w', type: 'tumbling', size: 'sixty' }] };
    expect(issuesOf(bad)).toEqual([
      { path: 'windows[0].size', expected: "a duration such as '1m', '30s' or '250ms'", found: 'sixty' },
    ]);
    expect(() => validatePipeline(bad)).toThrow(
      `windows[0].size: expected a duration such as '1m', '30s' or '250ms', found "sixty"`,
    );
  });

  it('reports unknown fields, wrong types and missing fields together', () => {
    const issues = issuesOf({
      name: 'p',
      windows: [{ name: 'w', type: 'sliding', size: '1m' }],
      source: { topic: 3, tpoic: 'x' },
    });
    const paths = issues.map((i) => i.path);
    expect(paths).toContain('source');
    expect(paths).toContain('source.topic');
    // A sliding window without its advance: the sliding form is the one that fits, so its field is named.
    expect(paths).toContain('windows[0].advance');
    const [unknownType] = issuesOf({ name: 'p', windows: [{ name: 'w', type: 'hopping', size: '1m' }] });
    expect(unknownType?.path).toBe('windows[0]');
    expect(unknownType?.expected).toContain('{name, type: sliding, size, advance}');
    const missing = issuesOf({ name: 'p' });
    expect(missing).toEqual([{ path: 'windows', expected: 'a list', found: undefined }]);
    expect(new ConfigError(missing).message).toContain('windows: expected a list, found nothing');
  });

  it('names the field inside the one stage form that fits, or lists the forms when none does', () => {
    const filter = { name: 'f', type: 'filter', field: 'type', in: 'click' };
    expect(issuesOf({ ...minimal, stages: [filter] })).toEqual([
      { path: 'stages[0].in', expected: 'a list', found: 'click' },
    ]);
    const moduleStage = { name: 'm', module: './m.mjs', concurrency: 0 };
    expect(issuesOf({ ...minimal, stages: [moduleStage] })).toEqual([
      { path: 'stages[0].concurrency', expected: 'at least 1', found: 0 },
    ]);
    const [none] = issuesOf({ ...minimal, stages: [{ name: 's', modul: './m.mjs' }] });
    expect(none?.path).toBe('stages[0]');
    expect(none?.expected).toContain(
      '{name, type: filter|user-agent|derive|lookup, …}, {name, module, export}',
    );
  });

  it('loads a module stage relative to the config file and says when its export is missing', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sluice-config-'));
    await writeFile(
      join(dir, 'upper.mjs'),
      'export const upper = (r) => ({ ...r.value, url: r.value.url.toUpperCase() });',
    );
    const config = join(dir, 'pipeline.yaml');
    await writeFile(
      config,
      'name: p\nstages:\n  - { name: up, module: ./upper.mjs, export: upper }\nwindows:\n  - { name: w, type: tumbling, size: 1m }\n',
    );
    const stage = (await loadPipelineFile(config)).stages[0];
    expect(stage && 'process' in stage && typeof stage.process).toBe('function');
    const wrong = join(dir, 'wrong.yaml');
    await writeFile(
      wrong,
      'name: p\nstages:\n  - { name: up, module: ./upper.mjs, export: lower }\nwindows:\n  - { name: w, type: tumbling, size: 1m }\n',
    );
    await expect(loadPipelineFile(wrong)).rejects.toThrow(
      /stages\[0\]\.export: expected a function exported as "lower" by \.\/upper\.mjs, found nothing/,
    );
    const missing = join(dir, 'missing.yaml');
    await writeFile(
      missing,
      'name: p\nstages:\n  - { name: up, module: ./nope.mjs }\nwindows:\n  - { name: w, type: tumbling, size: 1m }\n',
    );
    await expect(loadPipelineFile(missing)).rejects.toThrow(
      /stages\[0\]\.module: expected a module that can be imported/,
    );
  });

  it('checks sink routing and output names against the windows', () => {
    const windows = [
      { name: 'a', type: 'tumbling', size: '1m', groupBy: ['country'] },
      { name: 'b', type: 'tumbling', size: '1m' },
    ];
    expect(
      issuesOf({
        ...minimal,
        windows,
        sinks: {
          clickhouse: { tables: { a: 'a_{country}_{url}', nope: 'x' } },
          kafka: { topic: 'results', format: 'avro' },
        },
      }),
    ).toEqual([
      {
        path: 'sinks.clickhouse.tables.a',
        expected: "{column} parts from the window's groupBy columns (country)",
        found: 'a_{country}_{url}',
      },
      { path: 'sinks.clickhouse.tables.nope', expected: 'a window name (a, b)', found: 'nope' },
      {
        path: 'sinks.kafka.topic',
        expected:
          'a name with {window} when the format is avro and there are several windows (one schema per topic)',
        found: 'results',
      },
    ]);
    expect(issuesOf({ ...minimal, sinks: { clickhouse: { enabled: false } } })).toEqual([
      {
        path: 'sinks',
        expected: 'at least one sink (clickhouse enabled, or kafka)',
        found: 'clickhouse disabled and no kafka sink',
      },
    ]);
    expect(
      validatePipeline({
        ...minimal,
        windows,
        sinks: {
          clickhouse: { tables: { a: 'a_{country}' } },
          kafka: { topic: 'r.{window}', format: 'avro' },
        },
      }).sinks.kafka?.batch,
    ).toEqual({ maxSize: 10_000, maxWaitMs: 1_000 });
  });

  it('wants the heartbeat at most a third of the session timeout, as Kafka advises', () => {
    expect(issuesOf({ ...minimal, source: { sessionTimeout: '30s', heartbeatInterval: '15s' } })).toEqual([
      {
        path: 'source.heartbeatInterval',
        expected:
          'at most a third of source.sessionTimeout (30s), so a late heartbeat does not cost the partitions',
        found: '15s',
      },
    ]);
    // Below the timeout is not enough: kafkajs accepts it, yet two late heartbeats lose the partitions.
    expect(issuesOf({ ...minimal, source: { sessionTimeout: '6s', heartbeatInterval: '5s' } })).toHaveLength(
      1,
    );
    expect(
      validatePipeline({ ...minimal, source: { sessionTimeout: '6s', heartbeatInterval: '2s' } }).source,
    ).toMatchObject({ sessionTimeout: 6_000, heartbeatInterval: 2_000 });
  });

  it('refuses two windows or two stages of one name, and a stage named like a built-in step', () => {
    const w = { type: 'tumbling', size: '1m' };
    expect(
      issuesOf({
        ...minimal,
        windows: [
          { name: 'a', ...w },
          { name: 'b', ...w },
          { name: 'a', ...w },
        ],
      }),
    ).toEqual([
      {
        path: 'windows[2].name',
        expected: "a name no other window has (it names the window's table, state and results)",
        found: 'a',
      },
    ]);
    const filter = { type: 'filter', field: 'type', in: ['click'] };
    const stages = [
      { name: 'keep', ...filter },
      { name: 'keep', ...filter },
      { name: 'parse', ...filter },
    ];
    const expected =
      'a name no other stage has, nor a built-in step (parse, quality): metrics, status and dead letters tell stages apart by it';
    expect(issuesOf({ ...minimal, stages })).toEqual([
      { path: 'stages[1].name', expected, found: 'keep' },
      { path: 'stages[2].name', expected, found: 'parse' },
    ]);
  });

  it('puts a nested group-by field in a column named with underscores, and refuses one another field takes', () => {
    const window = (groupBy: string[]) => ({ name: 'w', type: 'tumbling', size: '1m', groupBy });
    expect(() => validatePipeline({ ...minimal, windows: [window(['device.site', 'kind'])] })).not.toThrow();
    expect(
      issuesOf({
        ...minimal,
        windows: [window(['device_site', 'device.site'])],
        sinks: { clickhouse: { tables: { w: 'w_{device_site}' } } },
      }),
    ).toEqual([
      {
        path: 'windows[0].groupBy[1]',
        expected: 'a result column of its own ("device_site" is groupBy[0])',
        found: 'device.site',
      },
    ]);
    expect(issuesOf({ ...minimal, windows: [window(['device..site'])] })[0]?.expected).toMatch(/dotted path/);
  });

  it('refuses a group-by field or aggregation that takes a result column already taken', () => {
    const window = {
      name: 'w',
      type: 'tumbling',
      size: '1m',
      groupBy: ['country', 'version', 'country'],
      aggregations: [
        { fn: 'sum', field: 'price.net' },
        { fn: 'max', field: 'price_net' }, // max_price_net: its own
        { fn: 'avg', field: 'price_net', name: 'sum_price_net' },
        { fn: 'count_distinct', field: 'userId', name: 'users' },
        { fn: 'min', field: 'x', name: 'users_exact' },
        { fn: 'avg', field: 'x', name: 'mean' },
        { fn: 'max', field: 'x', name: 'mean_n' },
      ],
    };
    expect(issuesOf({ ...minimal, windows: [window] })).toEqual([
      {
        path: 'windows[0].groupBy[1]',
        expected: 'a result column of its own ("version" is a column every result row has)',
        found: 'version',
      },
      {
        path: 'windows[0].groupBy[2]',
        expected: 'a result column of its own ("country" is groupBy[0])',
        found: 'country',
      },
      {
        path: 'windows[0].aggregations[2].name',
        expected:
          'a result column of its own ("sum_price_net" is aggregations[0]; give the aggregation another name)',
        found: 'sum_price_net',
      },
      {
        path: 'windows[0].aggregations[4].name',
        expected:
          'a result column of its own ("users_exact" is aggregations[3]; give the aggregation another name)',
        found: 'users_exact',
      },
      {
        path: 'windows[0].aggregations[6].name',
        expected:
          'a result column of its own ("mean_n" is aggregations[5]; give the aggregation another name)',
        found: 'mean_n',
      },
    ]);
    // Every column the table has besides group-by fields and aggregations is known to the check.
    const bare = validatePipeline(minimal).windows[0]!;
    for (const { name } of windowColumns(bare))
      expect(issuesOf({ ...minimal, windows: [{ ...minimal.windows[0], groupBy: [name] }] })).toHaveLength(1);
  });

  it('parses the durations people write', () => {
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('30s')).toBe(30_000);
    expect(parseDuration('1m')).toBe(60_000);
    expect(parseDuration('2h')).toBe(7_200_000);
    expect(parseDuration(1500)).toBe(1500);
    expect(parseDuration('1.5m')).toBeUndefined();
    expect(parseDuration(-1)).toBeUndefined();
  });

  it('loads YAML and says which file and line is broken', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sluice-config-'));
    const good = join(dir, 'good.yaml');
    await writeFile(good, 'name: p\nwindows:\n  - { name: w, type: tumbling, size: 1m }\n');
    expect((await loadPipelineFile(good)).name).toBe('p');
    const broken = join(dir, 'broken.yaml');
    await writeFile(broken, 'name: p\nwindows: [\n');
    await expect(loadPipelineFile(broken)).rejects.toThrow(/broken\.yaml[\s\S]*expected valid YAML or JSON/);
    await expect(loadPipelineFile(join(dir, 'missing.yaml'))).rejects.toThrow(
      /expected a readable YAML or JSON file/,
    );
  });
});
