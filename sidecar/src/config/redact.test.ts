import { describe, expect, it } from '@jest/globals';
import { REDACTED, redactSecrets, redactUrl } from './redact.js';

describe('redactUrl', () => {
  it('hides the password of a URL with credentials, keeps the user and host', () => {
    expect(redactUrl('redis://default:s3cret@redis.palisade:6379/0')).toBe(
      `redis://default:${REDACTED}@redis.palisade:6379/0`,
    );
    expect(redactUrl('rediss://:s3cret@r:6380')).toBe(`rediss://:${REDACTED}@r:6380`);
    expect(redactUrl('redis://s3cret@r')).toBe(`redis://${REDACTED}@r`);
  });

  it('hides secret-looking query parameters only', () => {
    expect(redactUrl('http://h/p?a=1&token=xyz&password=p')).toBe(
      `http://h/p?a=1&token=${REDACTED}&password=${REDACTED}`,
    );
  });

  it('leaves URLs without secrets alone', () => {
    expect(redactUrl('http://otel-collector:4318')).toBe('http://otel-collector:4318');
  });
});

describe('redactSecrets', () => {
  it('redacts nested URLs and secret-named keys but keeps secret file paths', () => {
    const input = {
      redis: { url: 'redis://:pw@r:6379' },
      rateLimits: [{ redis: { url: 'redis://u:pw2@r2:6379' } }],
      sagas: [
        { steps: [{ action: { headers: { Authorization: 'Bearer abc', 'x-api-key': 'k' } } }] },
      ],
      raft: { secretFile: '/var/run/palisade/raft-secret' },
    };
    const out = redactSecrets(input);
    expect(JSON.stringify(out)).not.toMatch(/pw|Bearer abc|"k"/);
    expect(out.raft.secretFile).toBe('/var/run/palisade/raft-secret');
    expect(out.sagas[0]?.steps[0]?.action.headers.Authorization).toBe(REDACTED);
    expect(input.redis.url).toBe('redis://:pw@r:6379'); // the input is not modified
  });
});
