// What validate-config and run refuse: windows (and the event time) reading fields the declared events
// cannot hold, unless a stage adds them; with stages whose outputs are not known ahead, only a warning.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { validatePipeline } from '../../../src/config/validate.js';
import { declaredFields, undeclaredFields } from '../../../src/stages/declared-fields.js';
import { DEFAULT_READER_SCHEMA } from '../../../src/stages/record-decoders.js';

const check = (config: Record<string, unknown>, baseDir = '/') => {
  const pipeline = validatePipeline({ name: 'p', time: { field: 'timestamp' }, ...config });
  return undeclaredFields(pipeline, declaredFields(pipeline.parse, baseDir, DEFAULT_READER_SCHEMA));
};
const window = (groupBy: string[], field = 'value') => ({
  name: 'w',
  type: 'tumbling',
  size: '1m',
  groupBy,
  aggregations: [{ fn: 'sum', field }],
});

describe('fields the declared events lack', () => {
  it('checks nothing for any JSON object', () => {
    expect(check({ windows: [window(['plan'])] })).toEqual({ issues: [], unsure: [] });
  });

  it('refuses a window field the user-event contract lacks, naming where and what', () => {
    expect(check({ parse: { events: 'user-event' }, windows: [window(['type', 'url'])] }).issues).toEqual([]);
    expect(
      check({ parse: { events: 'user-event' }, windows: [window(['plan'], 'properties.price')] }).issues,
    ).toEqual([
      {
        path: 'windows[0].groupBy[0]',
        expected: 'a field of the declared events (parse.events: user-event) or one a stage adds',
        found: 'plan',
      },
    ]);
  });

  it('takes a field a derive stage adds, and only warns where a lookup may add it', () => {
    const derive = {
      name: 'hours',
      type: 'derive',
      fields: [{ name: 'hour', fn: 'hour', from: 'timestamp' }],
    };
    expect(
      check({ parse: { events: 'user-event' }, stages: [derive], windows: [window(['hour'])] }).issues,
    ).toEqual([]);
    const lookup = {
      name: 'regions',
      type: 'lookup',
      key: 'country',
      from: { clickhouse: { table: 'regions', column: 'country' } },
    };
    expect(
      check({ parse: { events: 'user-event' }, stages: [lookup], windows: [window(['region'])] }),
    ).toEqual({
      issues: [],
      unsure: ['region'],
    });
  });

  it('reads a JSON Schema and an Avro reader schema, nested fields included', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-declared-'));
    writeFileSync(
      join(dir, 'reading.schema.json'),
      JSON.stringify({
        type: 'object',
        properties: {
          sensor: { type: 'string' },
          ts: { type: 'number' },
          reading: { type: 'object', properties: { celsius: { type: 'number' } } },
        },
      }),
    );
    const schema = {
      parse: { events: 'json-schema', eventSchema: 'reading.schema.json' },
      time: { field: 'ts' },
    };
    expect(check({ ...schema, windows: [window(['sensor'], 'reading.celsius')] }, dir).issues).toEqual([]);
    expect(
      check({ ...schema, windows: [window(['sensor'], 'reading.kelvin')] }, dir).issues.map((i) => i.found),
    ).toEqual(['reading.kelvin']);
    // The shipped user-event reader schema: properties is a map, so any key of it is declared.
    const avro = { parse: { format: 'avro' } };
    expect(check({ ...avro, windows: [window(['country'], 'value')] }).issues).toEqual([]);
    expect(
      check({ ...avro, windows: [window(['plan'], 'properties.price')] }).issues.map((i) => i.found),
    ).toEqual(['plan']);
  });

  it('refuses an event-time field the events lack, even if a stage would add it', () => {
    const derive = { name: 'copy', type: 'derive', fields: [{ name: 'when', fn: 'lower', from: 'type' }] };
    const result = check({
      parse: { events: 'user-event' },
      time: { field: 'when' },
      stages: [derive],
      windows: [window(['type'])],
    });
    expect(result.issues.map((i) => i.path)).toEqual(['time.field']);
  });
});
