import { describe, expect, it } from '@jest/globals';
import { InvalidFilterConfigError } from './errors.js';
import { compileOutcomeClassifier } from './outcome-classifier.js';

describe('compileOutcomeClassifier', () => {
  it('defaults to 5xx, timeouts and connection errors as failures', () => {
    const classify = compileOutcomeClassifier();
    expect([200, 404, 429, 499, 500, 503, 599].map(classify.status)).toEqual([
      'success',
      'success',
      'success',
      'success',
      'failure',
      'failure',
      'failure',
    ]);
    expect(classify.timeout).toBe('failure');
    expect(classify.connectionError).toBe('failure');
  });

  it('mixes classes and single codes', () => {
    const classify = compileOutcomeClassifier({ statuses: ['503', '429', '4XX'] });
    expect(classify.status(503)).toBe('failure');
    expect(classify.status(500)).toBe('success');
    expect(classify.status(404)).toBe('failure');
    expect(classify.status(429)).toBe('failure');
    expect(classify.status(200)).toBe('success');
    expect(classify.status(700)).toBe('success');
  });

  it('ignores (neither success nor failure) timeouts and connection errors when told they are not failures', () => {
    const classify = compileOutcomeClassifier({
      statuses: [],
      timeouts: false,
      connectionErrors: false,
    });
    expect(classify.timeout).toBe('ignored');
    expect(classify.connectionError).toBe('ignored');
    expect(classify.status(500)).toBe('success');
  });

  it('names the bad pattern', () => {
    expect(() => compileOutcomeClassifier({ statuses: ['5xx', '600'] })).toThrow(
      InvalidFilterConfigError,
    );
    expect(() => compileOutcomeClassifier({ statuses: ['5x'] })).toThrow(
      /failureOn\.statuses\[0\]/,
    );
  });
});
