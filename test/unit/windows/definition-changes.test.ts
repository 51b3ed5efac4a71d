// Which windows changed meaning, told field by field, and which were removed; a change that does not
// alter meaning (column names, cadence, key cap) is none.
import { describe, expect, it } from 'vitest';
import { windowSchema } from '../../../src/config/schema.js';
import { definitionChanges, differencesOf } from '../../../src/windows/definition-changes.js';
import { defineWindow } from '../../../src/windows/window-definition.js';

const time = { grace: 2_000 };
const window = (config: Record<string, unknown>) =>
  defineWindow(
    windowSchema.parse({
      name: 'w',
      type: 'tumbling',
      size: '10s',
      groupBy: ['type', 'url'],
      aggregations: [{ fn: 'min', field: 'value' }],
      ...config,
    }),
    time,
    undefined,
  );
const stored = (config: Record<string, unknown>) => ({ w: window(config).fingerprint });

describe('definitionChanges', () => {
  it.each([
    [{ aggregations: [{ fn: 'max', field: 'value' }] }, 'aggregations: [min(value)] → [max(value)]'],
    [{ size: '30s' }, 'size: 10s → 30s'],
    [{ groupBy: ['type'] }, 'groupBy: [type, url] → [type]'],
    [{ type: 'sliding', size: '10s', advance: '5s' }, 'type: tumbling → sliding'],
    [{ emit: { mode: 'update' } }, 'emit mode: final → update'],
  ])('tells the change %j', (now, difference) => {
    const changes = definitionChanges(stored({}), [window(now)]);
    expect(changes.changed).toHaveLength(1);
    expect(changes.changed[0]!.name).toBe('w');
    expect(changes.changed[0]!.differences).toContain(difference);
    expect(changes.removed).toEqual([]);
  });

  it('finds no change when only what does not alter meaning differs', () => {
    const now = window({
      aggregations: [{ fn: 'min', field: 'value', name: 'smallest' }],
      maxKeys: 10,
      emit: { mode: 'final', every: '2s' },
    });
    expect(definitionChanges(stored({}), [now])).toEqual({ changed: [], removed: [] });
  });

  it('lists removed windows, and ignores windows that are new', () => {
    const other = defineWindow(
      windowSchema.parse({
        name: 'new',
        type: 'session',
        gap: '20s',
        groupBy: ['u'],
        aggregations: [{ fn: 'sum', field: 'v' }],
      }),
      time,
      undefined,
    );
    expect(definitionChanges({ gone: window({}).fingerprint }, [other])).toEqual({
      changed: [],
      removed: ['gone'],
    });
  });

  it('still says something of a fingerprint it cannot read', () => {
    expect(differencesOf('garbage', window({}).fingerprint)[0]).toMatch(/^definition: garbage → /);
  });
});
