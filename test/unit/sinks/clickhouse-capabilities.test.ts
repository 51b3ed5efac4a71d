// What each ClickHouse release gets: the baseline for 18.16, the better paths where a release has them,
// and the DDL and rows that follow. No server.
import { describe, expect, it } from 'vitest';
import type { WindowConfig } from '../../../src/config/schema.js';
import { validatePipeline } from '../../../src/config/validate.js';
import {
  BASELINE,
  capabilitiesOf,
  describeCapabilities,
} from '../../../src/sinks/clickhouse-capabilities.js';
import { windowColumns, windowTableDdl } from '../../../src/sinks/clickhouse-tables.js';
import { withMillisecondBounds } from '../../../src/sinks/result-row.js';

const [sessions, minutes] = validatePipeline({
  name: 'p',
  source: { brokers: ['localhost:9092'], topic: 't', groupId: 'g' },
  windows: [
    { name: 'sessions', type: 'session', gap: '30s', groupBy: ['userId'] },
    { name: 'minutes', type: 'tumbling', size: '1m', groupBy: ['type'] },
  ],
}).windows as [WindowConfig, WindowConfig];
const typeOf = (columns: ReturnType<typeof windowColumns>, name: string) =>
  columns.find((c) => c.name === name)?.type;

describe('ClickHouse capabilities', () => {
  it('gives 18.16 the baseline and current releases every better path, by version', () => {
    expect(capabilitiesOf('18.16.1')).toEqual({ ...BASELINE, version: '18.16.1' });
    expect(capabilitiesOf('19.17.4.11')).toMatchObject({ lowCardinality: true, dateTime64: false });
    expect(capabilitiesOf('20.1.2.4')).toMatchObject({ dateTime64: true, insertDeduplicationToken: false });
    expect(capabilitiesOf('22.2.1')).toMatchObject({ insertDeduplicationToken: true });
    expect(capabilitiesOf('26.7.2.1')).toEqual({
      version: '26.7.2.1',
      dateTime64: true,
      lowCardinality: true,
      insertDeduplicationToken: true,
    });
    // Whatever a server calls itself that is not a version: the baseline, which every release accepts.
    expect(capabilitiesOf('unknown')).toEqual({ ...BASELINE, version: 'unknown' });
    expect(describeCapabilities(capabilitiesOf('26.7.2.1'))).toBe(
      "ClickHouse 26.7.2.1: DateTime64(3, 'UTC') session bounds, LowCardinality group keys, retried inserts deduplicated by the server",
    );
  });

  it('types the bounds and group keys, and remembers insert tokens, only where the server has them', () => {
    const old = windowColumns(sessions, capabilitiesOf('18.16.1'));
    expect(typeOf(old, 'window_start')).toBe("DateTime('UTC')");
    expect(typeOf(old, 'userId')).toBe('String');
    const current = windowColumns(sessions, capabilitiesOf('26.7.2.1'));
    expect(typeOf(current, 'window_start')).toBe("DateTime64(3, 'UTC')");
    expect(typeOf(current, 'window_end')).toBe("DateTime64(3, 'UTC')");
    expect(typeOf(current, 'userId')).toBe('LowCardinality(String)');
    // The same columns either way: only their types differ.
    expect(current.map((c) => c.name)).toEqual(old.map((c) => c.name));
    // Tumbling and sliding windows are whole seconds: DateTime on every server.
    expect(typeOf(windowColumns(minutes, capabilitiesOf('26.7.2.1')), 'window_start')).toBe(
      "DateTime('UTC')",
    );
    expect(typeOf(windowColumns(minutes, capabilitiesOf('26.7.2.1')), 'type')).toBe('LowCardinality(String)');
    expect(windowTableDdl('db', sessions, 'sessions_rows', capabilitiesOf('18.16.1'))).not.toContain(
      'SETTINGS',
    );
    expect(windowTableDdl('db', sessions, 'sessions_rows', capabilitiesOf('26.7.2.1'))).toMatch(
      /\nSETTINGS non_replicated_deduplication_window = 1000$/,
    );
  });

  it('writes bounds to the millisecond for DateTime64 tables, from the *_ms columns', () => {
    const row = {
      window_start: '2026-05-01 10:00:00',
      window_end: '2026-05-01 10:00:31',
      window_start_ms: Date.UTC(2026, 4, 1, 10, 0, 0, 123),
      window_end_ms: Date.UTC(2026, 4, 1, 10, 0, 31, 9),
      count: 2,
    };
    expect(withMillisecondBounds(row)).toEqual({
      ...row,
      window_start: '2026-05-01 10:00:00.123',
      window_end: '2026-05-01 10:00:31.009',
    });
  });
});
