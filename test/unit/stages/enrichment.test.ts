// The pure enrichment stages: derived fields (time and URL parts, case) and user-agent parsing, and a
// lookup from a local file (read once, merged or nested, missing keys kept, dropped or failed).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { validatePipeline } from '../../../src/config/validate.js';
import { deriveProcessor } from '../../../src/stages/derive-stage.js';
import { createLookup } from '../../../src/stages/lookup-stage.js';
import type { StageRecord } from '../../../src/config/user-functions.js';
import { parseUserAgent, userAgentProcessor } from '../../../src/stages/user-agent-stage.js';

const ctx = {
  stage: 's',
  topic: 't',
  partition: 0,
  offset: '0',
  attempt: 1,
  signal: new AbortController().signal,
};
const record = (value: object) => ({ value }) as StageRecord;

function stageOf(stage: object) {
  return validatePipeline({
    name: 'p',
    stages: [stage],
    windows: [{ name: 'w', type: 'tumbling', size: '1m', groupBy: ['type'] }],
  }).stages[0]!;
}

describe('enrichment stages', () => {
  it('derive: time parts, URL parts and case; leaves out what cannot be computed', () => {
    const stage = stageOf({
      name: 'd',
      type: 'derive',
      fields: [
        { name: 'hour', fn: 'hour', from: 'timestamp' },
        { name: 'day', fn: 'day', from: 'timestamp' },
        { name: 'weekday', fn: 'weekday', from: 'timestamp' },
        { name: 'minute', fn: 'minute', from: 'timestamp' },
        { name: 'referrerHost', fn: 'url-host', from: 'referrer' },
        { name: 'section', fn: 'url-segment', from: 'url' },
        { name: 'path', fn: 'url-path', from: 'url' },
        { name: 'TYPE', fn: 'upper', from: 'type' },
      ],
    });
    if (!('type' in stage) || stage.type !== 'derive') throw new Error('not a derive stage');
    const derive = deriveProcessor(stage);
    const out = derive(
      record({
        timestamp: Date.UTC(2026, 10, 23, 14, 5),
        referrer: 'https://news.ycombinator.com/item?id=1',
        url: '/docs/windows?x=1',
        type: 'click',
      }),
      ctx,
    );
    expect(out).toMatchObject({
      hour: 14,
      day: '2026-11-23',
      weekday: 'monday',
      minute: '2026-11-23 14:05',
      referrerHost: 'news.ycombinator.com',
      section: 'docs',
      path: '/docs/windows',
      TYPE: 'CLICK',
    });
    const sparse = derive(record({ url: '/', type: 7 }), ctx) as Record<string, unknown>;
    expect(sparse.section).toBe('');
    expect(sparse).not.toHaveProperty('hour');
    expect(sparse).not.toHaveProperty('referrerHost');
    expect(sparse).not.toHaveProperty('TYPE');
  });

  it('user-agent: browser, OS and device, bots recognised', () => {
    expect(
      parseUserAgent(
        'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1',
      ),
    ).toMatchObject({ browser: 'Mobile Safari', browserVersion: '17', os: 'iOS', device: 'mobile' });
    expect(
      parseUserAgent(
        'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36',
      ),
    ).toEqual({
      browser: 'Chrome',
      browserVersion: '124',
      os: 'Windows',
      osVersion: '10',
      device: 'desktop',
    });
    expect(parseUserAgent('Googlebot/2.1 (+http://www.google.com/bot.html)').device).toBe('bot');
    const stage = userAgentProcessor('userAgent');
    expect(stage(record({ userAgent: '' }), ctx)).toEqual({ userAgent: '', device: 'unknown' });
  });

  it('lookup from a file: merged or nested, and a missing key kept, dropped or failed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-lookup-'));
    writeFileSync(join(dir, 'users.csv'), 'id,plan,seats\nu1,pro,5\nu2,free,1\n');
    const lookup = async (extra: object) => {
      const stage = stageOf({
        name: 'users',
        type: 'lookup',
        key: 'userId',
        from: { file: 'users.csv', column: 'id' },
        ...extra,
      });
      if (!('type' in stage) || stage.type !== 'lookup') throw new Error('not a lookup stage');
      return createLookup(stage, { baseDir: dir });
    };
    const merged = await lookup({});
    expect(merged.size).toBe(2);
    expect(merged.process(record({ userId: 'u1', type: 'click' }), ctx)).toEqual({
      id: 'u1',
      plan: 'pro',
      seats: 5,
      userId: 'u1',
      type: 'click',
    });
    expect(merged.process(record({ userId: 'u9' }), ctx)).toEqual({ userId: 'u9' });
    // The event's own fields win over the row's.
    expect(merged.process(record({ userId: 'u2', plan: 'trial' }), ctx)).toEqual({
      id: 'u2',
      plan: 'trial',
      seats: 1,
      userId: 'u2',
    });
    const nested = await lookup({ into: 'user', onMissing: 'drop' });
    expect(nested.process(record({ userId: 'u2' }), ctx)).toEqual({
      userId: 'u2',
      user: { id: 'u2', plan: 'free', seats: 1 },
    });
    expect(nested.process(record({ userId: 'u9' }), ctx)).toBeNull();
    const strict = await lookup({ onMissing: 'fail' });
    expect(() => strict.process(record({ userId: 'u9' }), ctx)).toThrow(/field 'userId': no row for "u9"/);
    await expect(lookup({ from: { file: 'nope.csv' } })).rejects.toThrow(
      /a readable CSV, JSON or NDJSON file/,
    );
  });
});
