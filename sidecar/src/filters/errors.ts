/**
 * Errors raised by the policy filters. Each has a stable `code` that callers branch on (never the
 * message) and, where another failure caused it, that failure as `cause`.
 */

/** A filter's options are unusable (e.g. `requests: 0`). Raised at config time, never per request. */
export class InvalidFilterConfigError extends Error {
  readonly code = 'PALISADE_INVALID_FILTER_CONFIG';
  override readonly name = 'InvalidFilterConfigError';

  /** `field` names the offending option, e.g. `limit.requests`. */
  constructor(
    readonly field: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${field}: ${message}`, options);
  }
}

/** Why the global rate-limit backend could not decide in time. */
export type RateLimitBackendFailureReason =
  /** Redis did not answer within the decision budget. */
  | 'timeout'
  /** The client is not connected (Redis down, or still reconnecting); nothing was sent. */
  | 'not-connected'
  /** Too many decisions were already waiting on Redis; nothing was sent. */
  | 'overloaded'
  /** Redis answered with an error, or the connection failed mid-command. */
  | 'error';

/**
 * The global rate limiter had to decide by `failureMode` instead of by Redis. Built only when a
 * failure listener is registered (no cost otherwise).
 */
export class RateLimitBackendError extends Error {
  readonly code = 'PALISADE_RATE_LIMIT_BACKEND';
  override readonly name = 'RateLimitBackendError';

  constructor(
    readonly reason: RateLimitBackendFailureReason,
    options?: { cause?: unknown },
  ) {
    super(`global rate limit backend failed: ${reason}`, options);
  }
}

/** Throws `InvalidFilterConfigError` unless `value` is an integer in [min, max]. */
export function requireInteger(
  field: string,
  value: number,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new InvalidFilterConfigError(
      field,
      `must be an integer in [${min}, ${max}], got ${value}`,
    );
  }
}

/** Throws `InvalidFilterConfigError` unless `value` is a finite number in [min, max]. */
export function requireNumber(
  field: string,
  value: number,
  min: number,
  max = Number.MAX_VALUE,
): void {
  if (!Number.isFinite(value) || value < min || value > max) {
    throw new InvalidFilterConfigError(field, `must be a number in [${min}, ${max}], got ${value}`);
  }
}
