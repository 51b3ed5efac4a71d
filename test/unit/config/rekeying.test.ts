// Which windows are re-keyed: every window unless the source is declared keyed by fields its groupBy
// holds; windows with the same group key (in any order) share one repartition write.
import { describe, expect, it } from 'vitest';
import { rekeyPlanOf } from '../../../src/config/rekeying.js';
import { validatePipeline } from '../../../src/config/validate.js';
import { defineWindow } from '../../../src/windows/window-definition.js';
import { differencesOf } from '../../../src/windows/definition-changes.js';

const windows = [
  { name: 'by_type', type: 'tumbling', size: '10s', groupBy: ['type'] },
  { name: 'by_url', type: 'tumbling', size: '30s', groupBy: ['type', 'url'] },
  { name: 'by_url_sliding', type: 'sliding', size: '30s', advance: '10s', groupBy: ['url', 'type'] },
  { name: 'sessions', type: 'session', gap: '30s', groupBy: ['userId'] },
  { name: 'user_pages', type: 'tumbling', size: '1m', groupBy: ['userId', 'url'] },
];

describe('rekeyPlanOf', () => {
  it('re-keys every window when the keying is unknown, one group per distinct group key', () => {
    const plan = rekeyPlanOf(validatePipeline({ name: 'p', windows }));
    expect(plan.direct).toEqual([]);
    expect(plan.rekeyed.map((w) => w.name)).toEqual(windows.map((w) => w.name));
    expect(plan.groups).toEqual([
      { groupBy: ['type'], windows: ['by_type'] },
      { groupBy: ['type', 'url'], windows: ['by_url', 'by_url_sliding'] },
      { groupBy: ['userId'], windows: ['sessions'] },
      { groupBy: ['userId', 'url'], windows: ['user_pages'] },
    ]);
  });

  it('computes where they are the windows whose groupBy holds every field the topic is keyed by', () => {
    const plan = rekeyPlanOf(validatePipeline({ name: 'p', source: { keyedBy: ['userId'] }, windows }));
    expect(plan.direct.map((w) => w.name)).toEqual(['sessions', 'user_pages']);
    expect(plan.rekeyed.map((w) => w.name)).toEqual(['by_type', 'by_url', 'by_url_sliding']);
    expect(plan.groups.map((g) => g.windows)).toEqual([['by_type'], ['by_url', 'by_url_sliding']]);
  });

  it('refuses an empty keyedBy (a topic keyed by nothing spreads every key)', () => {
    expect(() => validatePipeline({ name: 'p', source: { keyedBy: [] }, windows })).toThrow(
      /source\.keyedBy/,
    );
  });
});

describe('a re-keyed window’s fingerprint', () => {
  const time = { grace: 0 };
  const config = validatePipeline({ name: 'p', windows }).windows[3]!;

  it('says its rows are per key, and a window computed per partition keeps the fingerprint of 0.1', () => {
    const rekeyed = defineWindow(config, time, undefined);
    const direct = defineWindow(config, time, ['userId']);
    expect(rekeyed.rekeyed).toBe(true);
    expect(direct.rekeyed).toBe(false);
    expect(JSON.parse(direct.fingerprint)).toHaveLength(7);
    expect(JSON.parse(rekeyed.fingerprint)).toEqual([
      ...(JSON.parse(direct.fingerprint) as unknown[]),
      'per-key',
    ]);
    expect(differencesOf(direct.fingerprint, rekeyed.fingerprint)).toEqual([
      'rows: per source partition → one per window and key',
    ]);
  });
});
