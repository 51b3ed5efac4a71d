// Data-quality rules on parsed events: required, regex, range, enum, and unique within a stretch of
// event time (deduplication by a field such as eventId). Pure: each partition keeps its own checker,
// whose only state is the values `unique` rules have seen. The caller acts on the violations by
// severity: error → dead-letter, warning → flag and count, info → log.
import { LRUCache } from 'lru-cache';
import type { QualityRule } from '../config/schema.js';
import { fieldPath, readField, type FieldPath } from '../aggregations/field-path.js';

export interface Violation {
  rule: QualityRule['rule'];
  field: string;
  severity: QualityRule['severity'];
  /** What was expected and what was found, naming the field. */
  message: string;
}

const shown = (value: unknown) => (value === undefined ? 'nothing' : JSON.stringify(value));

export class QualityChecker {
  private readonly patterns = new Map<number, RegExp>();
  /** Per unique rule: value → the event time it was last seen at. */
  private readonly seen = new Map<number, LRUCache<string, number>>();
  /** Each rule's field, split once. */
  private readonly paths: readonly FieldPath[];

  constructor(private readonly rules: readonly QualityRule[]) {
    this.paths = rules.map((rule) => fieldPath(rule.field));
    rules.forEach((rule, i) => {
      if (rule.rule === 'regex') this.patterns.set(i, new RegExp(rule.pattern));
      if (rule.rule === 'unique') this.seen.set(i, new LRUCache({ max: rule.maxKeys }));
    });
  }

  get active(): boolean {
    return this.rules.length > 0;
  }

  /** The rules this event breaks, in rule order; remembers unique values. */
  check(event: Record<string, unknown>, eventTimeMs: number): Violation[] {
    const violations: Violation[] = [];
    this.rules.forEach((rule, i) => {
      const value = readField(event, this.paths[i]!);
      const fail = (expected: string) =>
        violations.push({
          rule: rule.rule,
          field: rule.field,
          severity: rule.severity,
          message: `field '${rule.field}' (${rule.rule}): expected ${expected}, found ${shown(value)}`,
        });
      const absent = value === undefined || value === null || value === '';
      switch (rule.rule) {
        case 'required':
          if (absent) fail('a value');
          return;
        case 'regex':
          if (
            !absent &&
            !this.patterns.get(i)!.test(typeof value === 'string' ? value : JSON.stringify(value))
          )
            fail(`text matching /${rule.pattern}/`);
          return;
        case 'range': {
          if (absent) return;
          const n = typeof value === 'number' ? value : Number.NaN;
          const within =
            Number.isFinite(n) &&
            (rule.min === undefined || n >= rule.min) &&
            (rule.max === undefined || n <= rule.max);
          if (!within) fail(`a number from ${rule.min ?? '-∞'} to ${rule.max ?? '∞'}`);
          return;
        }
        case 'enum':
          if (!absent && !rule.values.includes(value as string | number | boolean))
            fail(`one of ${rule.values.map((v) => JSON.stringify(v)).join(', ')}`);
          return;
        case 'unique': {
          if (absent) return;
          const key = typeof value === 'string' ? value : JSON.stringify(value);
          const seen = this.seen.get(i)!;
          const before = seen.get(key);
          if (before !== undefined && Math.abs(eventTimeMs - before) <= rule.within) {
            fail(`a value not seen in the ${rule.within / 1000} s around this event (a duplicate)`);
            return;
          }
          seen.set(key, eventTimeMs);
          return;
        }
      }
    });
    return violations;
  }
}
