// The parse stage's second half: the declared event contract (any object, the user-event contract, a
// JSON Schema) and the event time in each stated format, every refusal naming the record and field.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseSchema } from '../../../src/config/schema.js';
import { createEventContract } from '../../../src/stages/event-contract.js';
import { parseEvent, type EventTime } from '../../../src/stages/event-parse.js';
import { timeOf } from '../../../src/stages/event-time.js';
import { RecordError } from '../../../src/stages/record-error.js';

const origin = { topic: 'readings', partition: 2, offset: '17' };
const raw = { value: null, timestamp: '1700000000000' };
const at = (field: string | undefined, format: EventTime['format'] = 'auto'): EventTime => ({
  field,
  path: field?.includes('.') ? field.split('.') : field,
  format,
});
const contract = (config: Record<string, unknown>) => createEventContract(parseSchema.parse(config), '/');

describe('event contracts', () => {
  it('takes any JSON object by default, and refuses what is not one', () => {
    const any = contract({});
    const reading = { sensor: 's1', temperature: 21.5, ts: 1_000 };
    expect(parseEvent(reading, raw, origin, any, at('ts'))).toEqual({ event: reading, eventTimeMs: 1_000 });
    for (const document of [[1, 2], 'text', 42, null])
      expect(() => parseEvent(document, raw, origin, any, at(undefined))).toThrow(
        /readings\[2\]@17 parse: expected a JSON object, found/,
      );
  });

  it('checks the built-in user-event contract when declared', () => {
    const userEvent = contract({ events: 'user-event' });
    const good = { eventId: 'e1', type: 'page_view', userId: 'u1', timestamp: 1_000 };
    expect(parseEvent(good, raw, origin, userEvent, at('timestamp')).eventTimeMs).toBe(1_000);
    expect(() => parseEvent({ ...good, userId: undefined }, raw, origin, userEvent, at('timestamp'))).toThrow(
      /field 'userId'/,
    );
  });

  it('validates against a JSON Schema file, naming the field, what was expected and what was found', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-schema-'));
    writeFileSync(
      join(dir, 'reading.schema.json'),
      JSON.stringify({
        type: 'object',
        required: ['sensor', 'reading'],
        properties: {
          sensor: { type: 'string' },
          reading: {
            type: 'object',
            required: ['celsius'],
            properties: { celsius: { type: 'number' } },
          },
        },
      }),
    );
    const schema = createEventContract(
      parseSchema.parse({ events: 'json-schema', eventSchema: 'reading.schema.json' }),
      dir,
    );
    const good = { sensor: 's1', reading: { celsius: 20 } };
    expect(parseEvent(good, raw, origin, schema, at(undefined)).event).toEqual(good);
    const attempt = (document: unknown) => () => parseEvent(document, raw, origin, schema, at(undefined));
    expect(attempt({ sensor: 's1' })).toThrow(RecordError);
    expect(attempt({ sensor: 's1' })).toThrow(
      /field 'reading': expected a value \(required by the event schema\), found nothing/,
    );
    expect(attempt({ sensor: 's1', reading: { celsius: 'warm' } })).toThrow(
      /field 'reading\.celsius': expected number, found "warm"/,
    );
  });

  it('refuses a json-schema contract without its file, or with a file that is not a schema', () => {
    expect(() => contract({ events: 'json-schema' })).toThrow(
      /parse\.eventSchema: expected a JSON Schema file/,
    );
    expect(() => contract({ events: 'json-schema', eventSchema: 'missing.json' })).toThrow(
      /parse\.eventSchema: expected a readable JSON Schema file, found "\/missing\.json/,
    );
  });
});

describe('event time', () => {
  it('reads each stated format, and a nested field', () => {
    expect(timeOf(1_700_000_000_123, 'ts', 'epoch-millis')).toBe(1_700_000_000_123);
    expect(timeOf('1700000000123', 'ts', 'epoch-millis')).toBe(1_700_000_000_123);
    expect(timeOf(1_700_000_000, 'ts', 'epoch-seconds')).toBe(1_700_000_000_000);
    expect(timeOf('1700000000.5', 'ts', 'epoch-seconds')).toBe(1_700_000_000_500);
    expect(timeOf('2026-11-30T08:00:00Z', 'ts', 'iso-8601')).toBe(Date.UTC(2026, 10, 30, 8));
    expect(timeOf('2026-11-30T08:00:00+01:00', 'ts', 'auto')).toBe(Date.UTC(2026, 10, 30, 7));
    expect(timeOf(5, 'ts', 'auto')).toBe(5);
    const nested = { meta: { at: '2026-11-30T08:00:00Z' } };
    expect(parseEvent(nested, raw, origin, contract({}), at('meta.at', 'iso-8601')).eventTimeMs).toBe(
      Date.UTC(2026, 10, 30, 8),
    );
  });

  it('falls back to the Kafka record timestamp when no field is named', () => {
    expect(parseEvent({}, raw, origin, contract({}), at(undefined)).eventTimeMs).toBe(1_700_000_000_000);
  });

  it.each([
    ['epoch-seconds', '2026-11-30', /field 'ts': expected epoch seconds, found "2026-11-30"/],
    ['epoch-millis', undefined, /field 'ts': expected epoch milliseconds, found nothing/],
    ['iso-8601', 1_000, /field 'ts': expected an ISO-8601 time such as 2026-11-30T08:00:00Z, found 1000/],
    ['auto', 'soon', /field 'ts': expected epoch milliseconds or an ISO-8601 time, found "soon"/],
  ] as const)('refuses a %s time of %j, naming the field', (format, value, message) => {
    expect(() => parseEvent({ ts: value }, raw, origin, contract({}), at('ts', format))).toThrow(message);
  });
});
