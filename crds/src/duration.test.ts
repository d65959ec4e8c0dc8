import { describe, expect, it } from '@jest/globals';
import { InvalidDurationError, parseDuration } from './duration.js';

describe('parseDuration', () => {
  it.each([
    ['250ms', 250],
    ['10s', 10_000],
    ['1m', 60_000],
    ['1h', 3_600_000],
    ['1m30s', 90_000],
    ['1.5s', 1500],
  ])('%s is %d ms', (input, ms) => {
    expect(parseDuration(input)).toBe(ms);
  });

  it.each(['', '10', 's', '10 s', '-1s', '1d', '1s ', 'ms'])('refuses %j', (input) => {
    expect(() => parseDuration(input)).toThrow(InvalidDurationError);
  });
});
