// The fields windows read: a group-by field must hold a key part, an aggregation field a number (or a
// scalar for count_distinct) when present; the first broken need names the field, the expectation,
// what was found and which window needs it. An event that breaks one goes into no window.
import { describe, expect, it } from 'vitest';
import { windowSchema } from '../../../src/config/schema.js';
import { brokenNeed, fieldNeedsOf } from '../../../src/windows/event-fields.js';
import { defineWindow } from '../../../src/windows/window-definition.js';
import { partitionWindowsOf } from '../../support/partition-windows.js';
import { validatePipeline } from '../../../src/config/validate.js';

const define = (config: Record<string, unknown>) =>
  defineWindow(windowSchema.parse(config), { grace: 0 }, undefined);
const needs = fieldNeedsOf([
  define({
    name: 'by_sensor',
    type: 'tumbling',
    size: '1m',
    groupBy: ['sensor', 'zone'],
    aggregations: [{ fn: 'avg', field: 'reading.celsius' }],
  }),
  define({
    name: 'devices',
    type: 'session',
    gap: '5m',
    groupBy: ['zone'],
    aggregations: [{ fn: 'count_distinct', field: 'sensor' }],
  }),
]);

describe('the fields windows need', () => {
  it('reads each field once, keeping its strictest need', () => {
    expect(needs.map((n) => [n.field, n.need])).toEqual([
      ['sensor', 'key'],
      ['zone', 'key'],
      ['reading.celsius', 'number'],
    ]);
  });

  it('accepts an event with every need met, or an aggregation field absent', () => {
    expect(brokenNeed({ sensor: 's1', zone: 3, reading: { celsius: 20.5 } }, needs)).toBeUndefined();
    expect(brokenNeed({ sensor: 's1', zone: 'a' }, needs)).toBeUndefined();
  });

  it.each([
    [
      { zone: 'a' },
      "field 'sensor': expected a string, number or boolean (groupBy of window by_sensor), found nothing",
    ],
    [
      { sensor: 's1', zone: { id: 1 } },
      'field \'zone\': expected a string, number or boolean (groupBy of window by_sensor), found {"id":1}',
    ],
    [
      { sensor: 's1', zone: 'a', reading: { celsius: '20' } },
      'field \'reading.celsius\': expected a number (avg of window by_sensor), found "20"',
    ],
  ])('refuses %j naming the field', (event, message) => {
    expect(brokenNeed(event, needs)).toBe(message);
  });

  it('puts an event that breaks a need into no window and leaves the watermark', () => {
    const windows = partitionWindowsOf(
      validatePipeline({
        name: 'p',
        time: { maxOutOfOrderness: 0, grace: 0, idleTimeout: '1h' },
        windows: [
          {
            name: 'w',
            type: 'tumbling',
            size: '10s',
            groupBy: ['sensor'],
            aggregations: [{ fn: 'sum', field: 'v' }],
          },
        ],
      }),
    );
    const outcome = windows.absorb({ value: { v: 'x', sensor: 's' }, eventTimeMs: 50_000 }, 0n, 0);
    expect(outcome.invalid).toBe('field \'v\': expected a number (sum of window w), found "x"');
    expect(windows.openWindows).toBe(0);
    expect(windows.currentWatermark(0)).toBe(Number.NEGATIVE_INFINITY);
  });
});
