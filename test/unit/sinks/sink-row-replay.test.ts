// What `sluice dlq replay` reads from dead letters: the row a sink gave up on (and where it was going),
// the window a routed table belongs to, and the headers a replayed record carries back to its source
// (the key cap's windows become sluice.only.windows; Sluice's other headers go).
import { describe, expect, it } from 'vitest';
import { validatePipeline } from '../../../src/config/validate.js';
import { replayHeaders, sinkDeadLetterMessage } from '../../../src/sinks/dead-letters.js';
import { sinkRowOf, windowOfTable } from '../../../src/sinks/sink-row-replay.js';

const context = {
  pipeline: 'p',
  topic: 'events',
  partition: 2,
  reason: 'sink-exhausted' as const,
  error: new Error('connection refused'),
  failedAtMs: 0,
  sink: 'clickhouse',
  group: 'views',
};

describe('sink rows in the dead-letter topic', () => {
  it('come back as the row and its target, and nothing else is taken for one', () => {
    const row = { pipeline: 'p', window_start_ms: 60_000, url: '/a', count: 3, version: 7 };
    const message = sinkDeadLetterMessage(row, context);
    const value = Buffer.from(message.value as string);
    expect(sinkRowOf(message.headers, value)).toEqual({ sink: 'clickhouse', target: 'views', row });
    expect(sinkRowOf({ 'sluice.reason': 'stage-error' }, value)).toBeUndefined();
    expect(sinkRowOf(message.headers, Buffer.from('[1]'))).toBeUndefined();
    expect(sinkRowOf(message.headers, Buffer.from('{oops'))).toBeUndefined();
  });

  it('find the window of their table, by name or through a routing template', () => {
    const pipeline = validatePipeline({
      name: 'p',
      windows: [
        { name: 'views', type: 'tumbling', size: '1m', groupBy: ['url'] },
        { name: 'clicks', type: 'tumbling', size: '1m', groupBy: ['country'] },
      ],
      sinks: { clickhouse: { tables: { clicks: 'clicks_{country}' } } },
    });
    expect(windowOfTable(pipeline, 'views')?.name).toBe('views');
    expect(windowOfTable(pipeline, 'clicks_DE')?.name).toBe('clicks');
    expect(windowOfTable(pipeline, 'clicks')).toBeUndefined();
    expect(windowOfTable(pipeline, 'other')).toBeUndefined();
  });
});

describe('a replayed dead letter', () => {
  it('keeps its own headers, says where it came from, and names the windows the key cap dropped it from', () => {
    const headers = {
      trace: 'abc',
      'sluice.reason': 'key-cap',
      'sluice.key-cap.windows': 'views@60000,sessions',
      'sluice.only.windows': 'views@60000,sessions,clicks@60000',
      'sluice.source.offset': '5',
    };
    expect(replayHeaders(headers, 'events.dlq/0/9')).toEqual({
      trace: 'abc',
      'sluice.replayed.from': 'events.dlq/0/9',
      'sluice.only.windows': 'views@60000,sessions',
    });
    // A dead letter of an earlier replay keeps its restriction; any other has none.
    expect(replayHeaders({ 'sluice.only.windows': 'views@0', 'sluice.reason': 'stage-error' }, 'x')).toEqual({
      'sluice.replayed.from': 'x',
      'sluice.only.windows': 'views@0',
    });
    expect(replayHeaders({ 'sluice.reason': 'stage-error' }, 'x')).toEqual({ 'sluice.replayed.from': 'x' });
    // A re-keyed window's dead letter goes back to the repartition topic with its event time.
    expect(
      replayHeaders(
        { 'sluice.reason': 'key-cap', 'sluice.key-cap.windows': 'views@0', 'sluice.event.time': '1234' },
        'x',
      ),
    ).toEqual({ 'sluice.replayed.from': 'x', 'sluice.only.windows': 'views@0', 'sluice.event.time': '1234' });
  });
});
