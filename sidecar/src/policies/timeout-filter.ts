/**
 * The `timeout` position of both stacks: a per-attempt deadline on the upstream call, from the
 * circuit breaker's `requestTimeout`. When it expires before the response head arrives, the
 * attempt in flight is aborted with `UpstreamTimeout` (answered `504`, counted by the breaker as
 * a timeout). Once the head has arrived the deadline no longer applies: the body streams under
 * the upstream's own `bodyTimeout`.
 *
 * Every attempt of a route waits the same time, so the route's deadlines share one
 * `DeadlineQueue` (one timer armed at a time) instead of a `setTimeout`/`clearTimeout` per attempt.
 */
import { DeadlineQueue } from '../filters/index.js';
import { UpstreamTimeout, type Filter, type ProxyRequest } from '../proxy/index.js';

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
  const deadlines = new DeadlineQueue<ProxyRequest>({
    durationMs: timeoutMs,
    onExpire: (req) => req.abort(expired),
  });
  return (next) => (req) => {
    const deadline = deadlines.add(req);
    return next(req).then(
      (response) => {
        deadline.cancel();
        return response;
      },
      (error: unknown) => {
        deadline.cancel();
        throw error;
      },
    );
  };
}
