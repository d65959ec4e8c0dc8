import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import type { LabelSelector } from '@palisade/crds';
import { LabelIndex } from './label-index.js';
import { compileSelector, selectorMatches } from './label-selector.js';

// Small alphabets so that random selectors and labels actually meet.
const key = fc.constantFrom('app', 'tier', 'canary', 'zone');
const value = fc.constantFrom('a', 'b', 'c');
const labels = fc.dictionary(key, value, { maxKeys: 4 });
const expression = fc.oneof(
  fc.record({
    key,
    operator: fc.constantFrom('In' as const, 'NotIn' as const),
    values: fc.array(value, { minLength: 1, maxLength: 3 }),
  }),
  fc.record({ key, operator: fc.constantFrom('Exists' as const, 'DoesNotExist' as const) }),
);
const selector: fc.Arbitrary<LabelSelector> = fc.record(
  {
    matchLabels: fc.dictionary(key, value, { maxKeys: 2 }),
    matchExpressions: fc.array(expression, { maxLength: 3 }),
  },
  { requiredKeys: [] },
);

describe('LabelIndex (property)', () => {
  it('selects exactly the objects brute-force matching selects, in ascending order', () => {
    fc.assert(
      fc.property(fc.array(labels, { maxLength: 40 }), selector, (objects, sel) => {
        const compiled = compileSelector(sel);
        if (!compiled.ok)
          throw new Error(`generator produced an invalid selector: ${compiled.message}`);
        const index = new LabelIndex();
        objects.forEach((l, id) => index.add(id, l));
        const expected = objects.flatMap((l, id) =>
          selectorMatches(compiled.selector, l) ? [id] : [],
        );
        expect(index.select(compiled.selector)).toEqual(expected);
      }),
      { numRuns: 500 },
    );
  });
});
