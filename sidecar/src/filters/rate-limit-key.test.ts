import { describe, expect, it } from '@jest/globals';
import { InvalidFilterConfigError } from './errors.js';
import {
  compileRateLimitKey,
  MISSING_HEADER_KEY,
  type RateLimitKeySpec,
} from './rate-limit-key.js';

describe('compileRateLimitKey', () => {
  it('keys global rules on one bucket and remoteAddress rules on the peer address', () => {
    expect(compileRateLimitKey({ type: 'global' })('10.0.0.7', ['x-user-id', 'u1'])).toBe('');
    expect(compileRateLimitKey({ type: 'remoteAddress' })('10.0.0.7', [])).toBe('10.0.0.7');
  });

  it('keys header rules on the first value of the header, whatever the name case', () => {
    const key = compileRateLimitKey({ type: 'header', name: 'X-User-Id' });
    expect(key('10.0.0.7', ['Host', 'shop', 'x-user-id', 'alice'])).toBe('alice');
    expect(key('10.0.0.7', ['X-USER-ID', 'bob', 'x-user-id', 'carol'])).toBe('bob');
  });

  it('puts requests without the header in one shared bucket instead of letting them through', () => {
    const key = compileRateLimitKey({ type: 'header', name: 'x-user-id' });
    expect(key('10.0.0.7', ['Host', 'shop'])).toBe(MISSING_HEADER_KEY);
    expect(key('10.0.0.8', [])).toBe(MISSING_HEADER_KEY);
    expect(key('10.0.0.8', ['x-user', MISSING_HEADER_KEY])).toBe(MISSING_HEADER_KEY);
  });

  it('refuses invalid header names and unknown key types', () => {
    expect(() => compileRateLimitKey({ type: 'header', name: 'x user' })).toThrow(
      InvalidFilterConfigError,
    );
    expect(() => compileRateLimitKey({ type: 'cookie' } as unknown as RateLimitKeySpec)).toThrow(
      /key\.type/,
    );
  });
});
