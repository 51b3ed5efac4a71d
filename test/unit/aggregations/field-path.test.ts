// One dotted-path reader for windows, aggregations and quality rules.
import { describe, expect, it } from 'vitest';
import { fieldPath, readField } from '../../../src/aggregations/field-path.js';

describe('readField', () => {
  it('reads top-level and nested fields, and nothing through a non-object', () => {
    const event = { a: 1, p: { price: 3, deep: { x: 'y' } }, n: null };
    expect(readField(event, fieldPath('a'))).toBe(1);
    expect(readField(event, fieldPath('p.price'))).toBe(3);
    expect(readField(event, fieldPath('p.deep.x'))).toBe('y');
    expect(readField(event, fieldPath('n.x'))).toBeUndefined();
    expect(readField(event, fieldPath('a.b'))).toBeUndefined();
    expect(readField(null, fieldPath('a'))).toBeUndefined();
    expect(readField('text', fieldPath('length'))).toBeUndefined();
  });
});
