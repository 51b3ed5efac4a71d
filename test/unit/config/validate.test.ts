import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/config/config-error.js';
import { parseDuration } from '../../../src/config/duration.js';
import { loadPipelineFile } from '../../../src/config/load.js';
import { validatePipeline } from '../../../src/config/validate.js';

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
    expect(pipeline.time).toEqual({ maxOutOfOrderness: 5_000, grace: 0, idleTimeout: 30_000 });
    expect(pipeline.windows[0]).toEqual({
      name: 'w',
      type: 'tumbling',
      size: 60_000,
      groupBy: [],
      aggregations: [],
      emit: { mode: 'final', every: 5_000 },
      maxKeys: 100_000,
      onKeyCap: 'drop',
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
        expected: "{field} parts from the window's groupBy (country)",
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
