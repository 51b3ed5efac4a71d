// The fast event check agrees with the zod schema: whatever it accepts, zod accepts (so skipping zod
// changes nothing), and the events producers really send take the fast path.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sampleEvents } from '../../../src/tools/produce/sample-events.js';
import { isPlainValidEvent, userEventSchema } from '../../../src/stages/user-event.js';

const oddValue = fc.oneof(
  fc.string(),
  fc.constant(''),
  fc.double(),
  fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, 0, -1),
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
  fc.array(fc.string(), { maxLength: 2 }),
  fc.dictionary(fc.string({ maxLength: 3 }), fc.oneof(fc.string(), fc.integer()), { maxKeys: 3 }),
);

describe('isPlainValidEvent', () => {
  it('accepts only what the zod schema accepts', () => {
    const fields = [
      'eventId',
      'type',
      'userId',
      'sessionId',
      'url',
      'referrer',
      'userAgent',
      'ip',
      'country',
      'value',
      'timestamp',
      'properties',
      'extra',
    ];
    // A valid event with one or two fields replaced by odd values or removed, or anything at all.
    const validArb = fc.record({
      eventId: fc.string({ minLength: 1 }),
      type: fc.constantFrom('page_view', 'click'),
      userId: fc.string({ minLength: 1 }),
      url: fc.constant('/docs'),
      value: fc.integer(),
      timestamp: fc.integer({ min: 0 }),
      properties: fc.dictionary(fc.string({ maxLength: 3 }), fc.string(), { maxKeys: 2 }),
    });
    const mutated = fc
      .tuple(
        validArb,
        fc.array(fc.tuple(fc.constantFrom(...fields), oddValue, fc.boolean()), { maxLength: 2 }),
      )
      .map(([event, changes]) => {
        const document: Record<string, unknown> = { ...event };
        for (const [field, value, remove] of changes) {
          if (remove) delete document[field];
          else document[field] = value;
        }
        return document;
      });
    const documentArb = fc.oneof(mutated, mutated, oddValue);
    fc.assert(
      fc.property(documentArb, (document) => {
        if (isPlainValidEvent(document)) expect(userEventSchema.safeParse(document).success).toBe(true);
      }),
      { numRuns: 3_000 },
    );
  });

  it('takes the fast path for the events producers send', () => {
    for (const event of sampleEvents(500, Date.UTC(2026, 0, 1), 60_000, 3)) {
      expect(isPlainValidEvent(JSON.parse(JSON.stringify(event)))).toBe(true);
    }
  });
});
