import { describe, expect, it } from '@jest/globals';
import { canonicalJson, contentHash } from './canonical-json.js';

describe('canonicalJson', () => {
  it('sorts keys at every level and drops undefined properties', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: undefined } })).toBe(
      '{"a":{"d":[1,{"y":2,"z":1}]},"b":1}',
    );
  });
  it('refuses numbers JSON cannot carry', () => {
    expect(() => canonicalJson({ a: Number.NaN })).toThrow(RangeError);
  });
});

describe('contentHash', () => {
  it('is equal for equal content in any key order, different otherwise, 16 hex chars', () => {
    const a = contentHash({ x: 1, y: [1, 2] });
    expect(a).toMatch(/^[0-9a-f]{16}$/);
    expect(contentHash({ y: [1, 2], x: 1 })).toBe(a);
    expect(contentHash({ y: [2, 1], x: 1 })).not.toBe(a);
  });
});
