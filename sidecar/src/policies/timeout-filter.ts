/**
 * The `timeout` position of both stacks: a per-attempt deadline on the upstream call, from the
 * circuit breaker's `requestTimeout`. When it expires before the response head arrives, the
 * attempt in flight is aborted with `UpstreamTimeout` (answered `504`, counted by the breaker as
 * a timeout). Once the head has arrived the deadline no longer applies: the body streams under
 * the upstream's own `bodyTimeout`.
 */
import { UpstreamTimeout, type Filter } from '../proxy/index.js';

/** Options of `createTimeoutFilter`. */
export interface TimeoutFilterOptions {
  /** Deadline of one attempt, in milliseconds (> 0). */
  readonly timeoutMs: number;
  /** Names the deadline's source in the error message (e.g. the breaker's policy). */
  readonly source: string;
}

/** Builds the timeout filter of one route. */
export function createTimeoutFilter(options: TimeoutFilterOptions): Filter {
  const { timeoutMs } = options;
  // One error for every expiry of this route: the message is constant, and building an Error
  // (stack capture) per timed-out request would cost most when the upstream is slowest.
  const expired = new UpstreamTimeout(
    `no response within ${timeoutMs} ms (requestTimeout of ${options.source})`,
  );
  return (next) => (req) => {
    const timer = setTimeout(() => req.abort(expired), timeoutMs);
    return next(req).then(
      (response) => {
        clearTimeout(timer);
        return response;
      },
      (error: unknown) => {
        clearTimeout(timer);
        throw error;
      },
    );
  };
}
