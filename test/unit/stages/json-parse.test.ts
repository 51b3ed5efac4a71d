import { describe, expect, it } from 'vitest';
import { validateEvent } from '../../../src/stages/json-parse.js';
import { RecordError } from '../../../src/stages/record-error.js';

const origin = { topic: 'user-events', partition: 2, offset: '17' };
const raw = { value: null, timestamp: '1700000000000' };
const good = { eventId: 'e1', type: 'page_view', userId: 'u1', url: '/', timestamp: 1_000 };

describe('validateEvent', () => {
  it('reads the event time from the configured field, as epoch ms or ISO-8601', () => {
    expect(validateEvent(good, raw, origin, 'timestamp').eventTimeMs).toBe(1_000);
    const iso = { ...good, timestamp: '2026-01-01T00:00:01Z' };
    expect(validateEvent(iso, raw, origin, 'timestamp').eventTimeMs).toBe(Date.UTC(2026, 0, 1, 0, 0, 1));
  });

  it('falls back to the Kafka record timestamp when no field is configured', () => {
    expect(validateEvent(good, raw, origin, undefined).eventTimeMs).toBe(1_700_000_000_000);
  });

  it.each([
    [{ ...good, userId: undefined }, /user-events\[2\]@17 parse: field 'userId'/],
    [
      { ...good, timestamp: 'soon' },
      /field 'timestamp': expected epoch milliseconds or an ISO-8601 time, found "soon"/,
    ],
    [{ ...good, timestamp: undefined }, /field 'timestamp': expected the event time, found nothing/],
  ])('refuses %j with an error that names the record and the field', (document, message) => {
    const attempt = () => validateEvent(document, raw, origin, 'timestamp');
    expect(attempt).toThrow(RecordError);
    expect(attempt).toThrow(message);
  });
});
