import { InvalidFilterConfigError } from './errors.js';

/**
 * How a call ended, as far as a circuit breaker (or a retry budget) cares: `ignored` outcomes
 * (e.g. the client went away, or a timeout when `failureOn.timeouts` is false) release a half-open
 * probe slot without counting either way.
 */
export type CallOutcome = 'success' | 'failure' | 'ignored';

/** The CircuitBreaker's `failureOn` field. */
export interface FailureOn {
  /** Status patterns: `"5xx"` (a class) or `"503"` (one code). Default `["5xx"]`. */
  statuses?: readonly string[];
  /** Whether a request timeout is a failure (default true; otherwise ignored). */
  timeouts?: boolean;
  /** Whether a connection error (refused, reset, DNS) is a failure (default true; otherwise ignored). */
  connectionErrors?: boolean;
}

/** A compiled `failureOn`: status classification is one typed-array lookup. */
export interface OutcomeClassifier {
  /** Outcome of a response with this status code. */
  status(code: number): CallOutcome;
  /** Outcome of a request that timed out. */
  readonly timeout: CallOutcome;
  /** Outcome of a request that failed to connect or lost its connection. */
  readonly connectionError: CallOutcome;
}

const STATUS_PATTERN = /^([1-5])(xx|\d\d)$/i;

/** Compiles `failureOn` at config time; throws `InvalidFilterConfigError` on a bad pattern. */
export function compileOutcomeClassifier(failureOn: FailureOn = {}): OutcomeClassifier {
  const failing = new Uint8Array(600);
  const statuses = failureOn.statuses ?? ['5xx'];
  statuses.forEach((pattern, i) => {
    const match = STATUS_PATTERN.exec(pattern.trim());
    if (!match?.[1] || !match[2]) {
      throw new InvalidFilterConfigError(
        `failureOn.statuses[${i}]`,
        `expected a class like "5xx" or a code like "503", got ${JSON.stringify(pattern)}`,
      );
    }
    const first = Number(match[1]) * 100;
    if (match[2].toLowerCase() === 'xx') failing.fill(1, first, first + 100);
    else failing[first + Number(match[2])] = 1;
  });
  return {
    status: (code) => (code >= 0 && code < 600 && failing[code] === 1 ? 'failure' : 'success'),
    timeout: failureOn.timeouts === false ? 'ignored' : 'failure',
    connectionError: failureOn.connectionErrors === false ? 'ignored' : 'failure',
  };
}
