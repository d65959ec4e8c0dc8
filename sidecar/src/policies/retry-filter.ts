/**
 * The `retry` position of the outbound stack: resends a failed idempotent call (RFC 9110 safe
 * and idempotent methods, or any call with an `Idempotency-Key`) with full-jitter exponential
 * backoff, at most `retries.attempts` attempts in all, and never beyond the retry budget
 * (`budgetPercent` of original calls). Decisions are the pure `RetryPolicy`'s; this shell
 * buffers the body so it can be replayed, discards failed answers, waits and resends.
 *
 * Only bodies up to `maxReplayBytes` with a declared length are replayable; a larger or chunked
 * body is sent once. Each attempt runs under its own deadline (the timeout filter sits inside);
 * a deadline expiry is the only abort reason a retry clears, a client that went away is not.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Clock } from '../core/clock.js';
import { hasIdempotencyKey, isIdempotent, type RetryPolicy } from '../filters/index.js';
import type { CounterCell } from '../metrics/index.js';
import {
  UpstreamTimeout,
  type Filter,
  type Handler,
  type ProxyRequest,
  type ProxyResponse,
} from '../proxy/index.js';
import { PALISADE_SPAN_ATTRIBUTES } from '../tracing/tracing.js';
import { classifyError } from './circuit-breaker-filter.js';

/** Options of `createRetryFilter`. */
export interface RetryFilterOptions {
  readonly policy: RetryPolicy;
  readonly clock: Clock;
  /** `palisade_retries_total{route}`. */
  readonly retried: CounterCell;
  /** Largest body kept in memory to replay it. Default 64 KiB. */
  readonly maxReplayBytes?: number;
}

/** Builds the retry filter of one outbound route. */
export function createRetryFilter(options: RetryFilterOptions): Filter {
  const { policy, clock, retried } = options;
  const maxReplayBytes = options.maxReplayBytes ?? 64 * 1024;
  const classifier = policy.classifier;
  return (next: Handler): Handler =>
    async (req: ProxyRequest): Promise<ProxyResponse> => {
      policy.recordRequest(clock.now());
      const idempotent = isIdempotent(req.method, hasIdempotencyKey(req.headers));
      if (!idempotent || !(await req.bufferBody(maxReplayBytes))) return next(req);
      for (let attempt = 1; ; attempt++) {
        let response: ProxyResponse | null = null;
        let failure: unknown = null;
        try {
          response = await next(req);
        } catch (error) {
          failure = error;
        }
        const outcome =
          response !== null
            ? classifier.status(response.statusCode)
            : classifyError(failure, classifier);
        const decision = policy.decide(attempt, true, outcome, clock.now());
        const abortReason = req.abortReason;
        if (
          !decision.retry ||
          (abortReason !== null && !(abortReason instanceof UpstreamTimeout))
        ) {
          if (response !== null) return response;
          throw failure;
        }
        if (response !== null) {
          const body = response.body;
          if (body !== null && typeof body === 'object' && !Buffer.isBuffer(body)) body.discard();
        }
        retried.value++;
        const attributes = req.spanAttributes;
        if (attributes !== null) attributes[PALISADE_SPAN_ATTRIBUTES.retryAttempts] = attempt;
        if (decision.delayMs > 0) await sleep(decision.delayMs);
        // The previous attempt's deadline aborted it; the next attempt gets a fresh one.
        if (req.abortReason instanceof UpstreamTimeout) req.abortReason = null;
      }
    };
}
