import { InvalidFilterConfigError } from './errors.js';

/** A rule's `key`: what requests share a bucket. */
export type RateLimitKeySpec =
  { type: 'global' } | { type: 'remoteAddress' } | { type: 'header'; name: string };

/**
 * A compiled `key`: the bucket key of a request, from what the proxy already holds (the client
 * address and Node's flat raw header list), without allocating in the common cases.
 *
 * - `global`: one bucket for every request (the empty string);
 * - `remoteAddress`: the socket's peer address;
 * - `header`: the first value of that header. Requests WITHOUT the header all share one bucket
 *   (the key `MISSING_HEADER_KEY`) rather than escaping the limit: omitting the header must not be
 *   a way around it.
 */
export type RateLimitKeyExtractor = (
  remoteAddress: string,
  rawHeaders: readonly string[],
) => string;

/** Bucket of requests that lack the keyed header; cannot collide with a real value (NUL is not allowed in header values). */
export const MISSING_HEADER_KEY = '\u0000missing';

/** Compiles a rule's `key` at config time. */
export function compileRateLimitKey(spec: RateLimitKeySpec): RateLimitKeyExtractor {
  switch (spec.type) {
    case 'global':
      return () => '';
    case 'remoteAddress':
      return (remoteAddress) => remoteAddress;
    case 'header': {
      const lower = spec.name.toLowerCase();
      if (!/^[!#$%&'*+.^_`|~0-9a-z-]+$/.test(lower)) {
        throw new InvalidFilterConfigError(
          'key.name',
          `is not a valid header name: ${JSON.stringify(spec.name)}`,
        );
      }
      const length = lower.length;
      return (_remoteAddress, raw) => {
        for (let i = 0; i + 1 < raw.length; i += 2) {
          const name = raw[i] as string;
          if (name === lower || (name.length === length && name.toLowerCase() === lower))
            return raw[i + 1] as string;
        }
        return MISSING_HEADER_KEY;
      };
    }
    default:
      throw new InvalidFilterConfigError('key.type', 'expected global, remoteAddress or header');
  }
}
