// Data-quality rules: each rule against a simple model, and each severity through a partition worker:
// error → the record is dead-lettered (stage `quality`, message naming the field), warning → the event
// goes on into its window flagged with `qualityWarnings`, info → it goes on unflagged, the violation
// reported for the log and the metric.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { validatePipeline } from '../../../src/config/validate.js';
import { createLogger } from '../../../src/ops/logger.js';
import { PartitionWorker, type FetchedRecord } from '../../../src/runtime/partition-worker.js';
import type { StageFailure } from '../../../src/runtime/stage-chain.js';
import type { StageRecord } from '../../../src/config/user-functions.js';
import { QualityChecker, type Violation } from '../../../src/stages/quality-rules.js';
import { compiledForTest } from '../../support/compiled-pipeline.js';

function rules(quality: unknown[]) {
  return validatePipeline(
    {
      name: 'p',
      quality,
      windows: [{ name: 'w', type: 'tumbling', size: '1m', groupBy: ['type'] }],
    },
    'test',
  ).quality;
}

describe('QualityChecker', () => {
  it('required, regex, range and enum flag exactly the values a direct check rejects', () => {
    const checker = new QualityChecker(
      rules([
        { rule: 'required', field: 'userId' },
        { rule: 'regex', field: 'url', pattern: '^/[a-z]*$' },
        { rule: 'range', field: 'value', min: 0, max: 100 },
        { rule: 'enum', field: 'type', values: ['page_view', 'click'] },
      ]),
    );
    const eventArb = fc.record({
      userId: fc.option(fc.constantFrom('', 'u1'), { nil: undefined }),
      url: fc.option(fc.constantFrom('/', '/docs', '/Docs', 'docs'), { nil: undefined }),
      value: fc.option(fc.integer({ min: -50, max: 150 }), { nil: undefined }),
      type: fc.constantFrom('page_view', 'click', 'purchase'),
    });
    fc.assert(
      fc.property(eventArb, (event) => {
        const broken = checker.check(event, 0).map((v) => v.rule);
        const expected = [
          ...(event.userId ? [] : ['required']),
          ...(event.url === undefined || /^\/[a-z]*$/.test(event.url) ? [] : ['regex']),
          ...(event.value === undefined || (event.value >= 0 && event.value <= 100) ? [] : ['range']),
          ...(['page_view', 'click'].includes(event.type) ? [] : ['enum']),
        ];
        expect(broken).toEqual(expected);
      }),
    );
  });

  it('unique: a value seen again within the stretch of event time is a duplicate, later it is not', () => {
    const checker = new QualityChecker(rules([{ rule: 'unique', field: 'eventId', within: '10m' }]));
    expect(checker.check({ eventId: 'a' }, 1_000_000)).toEqual([]);
    const [duplicate] = checker.check({ eventId: 'a' }, 1_000_000 + 60_000);
    expect(duplicate?.message).toBe(
      'field \'eventId\' (unique): expected a value not seen in the 600 s around this event (a duplicate), found "a"',
    );
    expect(checker.check({ eventId: 'a' }, 1_000_000 + 60_000 + 11 * 60_000)).toEqual([]);
    expect(checker.check({ eventId: 'b' }, 1_000_000)).toEqual([]);
  });

  it('names the field, what was expected and what was found', () => {
    const checker = new QualityChecker(rules([{ rule: 'range', field: 'value', min: 0 }]));
    expect(checker.check({ value: -3 }, 0)[0]?.message).toBe(
      "field 'value' (range): expected a number from 0 to ∞, found -3",
    );
  });
});

describe('quality severities in a partition worker', () => {
  function run(severity: string) {
    const failures: StageFailure[] = [];
    const violations: Violation[] = [];
    const seen: unknown[] = [];
    const pipeline = validatePipeline({
      name: 'p',
      time: { field: 'timestamp', maxOutOfOrderness: '1s', grace: '0s', idleTimeout: '10s' },
      quality: [{ rule: 'range', field: 'value', min: 0, severity }],
      stages: [
        {
          name: 'spy',
          process: (record: StageRecord) => {
            seen.push(record.value);
            return record.value;
          },
        },
      ],
      windows: [{ name: 'w', type: 'tumbling', size: '1m', groupBy: ['type'] }],
    });
    const worker = new PartitionWorker('t', 0, compiledForTest(pipeline), createLogger('silent'), {
      deadLetter: (failure) => {
        failures.push(failure);
        return Promise.resolve();
      },
      overflow: () => Promise.resolve(),
      late: () => Promise.resolve(),
      keyCapped: () => Promise.resolve(),
      abort: (error) => {
        throw error;
      },
      qualityViolation: (violation) => violations.push(violation),
    });
    const records: FetchedRecord[] = [5, -5].map((value, i) => ({
      offset: String(i),
      key: null,
      timestamp: '0',
      value: Buffer.from(
        JSON.stringify({ eventId: `e${i}`, type: 'click', userId: 'u', value, timestamp: 60_000 }),
      ),
    }));
    worker.accept(records, 2n);
    return { failures, violations, seen };
  }

  it('error: dead-letters the record from stage quality', async () => {
    const { failures, violations, seen } = run('error');
    await new Promise((resolve) => setImmediate(resolve));
    expect(failures.map((f) => [f.stage, f.origin.raw.offset, (f.error as Error).message])).toEqual([
      ['quality', '1', "t[0]@1 quality: field 'value' (range): expected a number from 0 to ∞, found -5"],
    ]);
    expect(violations.map((v) => v.severity)).toEqual(['error']);
    expect(seen).toHaveLength(1);
  });

  it('warning: the event goes on, flagged', async () => {
    const { failures, seen } = run('warning');
    await new Promise((resolve) => setImmediate(resolve));
    expect(failures).toEqual([]);
    expect(seen).toHaveLength(2);
    expect((seen[1] as { qualityWarnings: string[] }).qualityWarnings).toEqual([
      "field 'value' (range): expected a number from 0 to ∞, found -5",
    ]);
    expect(seen[0]).not.toHaveProperty('qualityWarnings');
  });

  it('info: the event goes on unflagged; the violation is reported', async () => {
    const { failures, violations, seen } = run('info');
    await new Promise((resolve) => setImmediate(resolve));
    expect(failures).toEqual([]);
    expect(seen).toHaveLength(2);
    expect(seen[1]).not.toHaveProperty('qualityWarnings');
    expect(violations.map((v) => [v.severity, v.field])).toEqual([['info', 'value']]);
  });
});
