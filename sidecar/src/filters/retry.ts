import type { Random } from '../core/random.js';
import { requireInteger, requireNumber } from './errors.js';
import {
  compileOutcomeClassifier,
  type CallOutcome,
  type FailureOn,
  type OutcomeClassifier,
} from './outcome-classifier.js';
import { RollingCounter } from './rolling-counter.js';

/** Methods safe to repeat (RFC 9110 §9.2.2), upper-case. */
const IDEMPOTENT_METHODS: ReadonlySet<string> = new Set([
  'GET',
  'HEAD',
  'OPTIONS',
  'PUT',
  'DELETE',
  'TRACE',
]);

/**
 * Whether a request may be sent again: an idempotent method, or any method carrying an
 * `Idempotency-Key` header (Palisade's saga steps always do). `method` as Node gives it (upper-case).
 */
export function isIdempotent(method: string, hasIdempotencyKey: boolean): boolean {
  return hasIdempotencyKey || IDEMPOTENT_METHODS.has(method);
}

/** Whether Node's flat raw header list `[name, value, …]` carries an `Idempotency-Key`. */
export function hasIdempotencyKey(rawHeaders: readonly string[]): boolean {
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string;
    if (name.length === 15 && name.toLowerCase() === 'idempotency-key') return true;
  }
  return false;
}

/** Options of a `RetryBudget`. */
export interface RetryBudgetOptions {
  /** Retries allowed as a fraction of original requests in the window, in [0, 1] (default 0.2). */
  ratio?: number;
  /** Retries always allowed per second, on top of the ratio, so low traffic can retry (default 10). */
  minRetriesPerSecond?: number;
  /** Window over which both are counted, ms (default 10,000). */
  windowMs?: number;
}

/**
 * Retry budget in the manner of Finagle, linkerd and Envoy: over a rolling window, retries ≤
 * `ratio` × requests + `minRetriesPerSecond` × window seconds. While a dependency is down every
 * call fails, and without a budget each would be retried `maxAttempts − 1` times, multiplying the
 * load on it; with one, the extra load is at most `ratio`.
 */
export class RetryBudget {
  private readonly requests: RollingCounter;
  private readonly retries: RollingCounter;
  private readonly ratio: number;
  private readonly floor: number;

  constructor(options: RetryBudgetOptions = {}) {
    const windowMs = options.windowMs ?? 10_000;
    this.ratio = options.ratio ?? 0.2;
    const minPerSecond = options.minRetriesPerSecond ?? 10;
    requireNumber('retryBudget.ratio', this.ratio, 0, 1);
    requireNumber('retryBudget.minRetriesPerSecond', minPerSecond, 0);
    requireNumber('retryBudget.window', windowMs, 1);
    this.floor = (minPerSecond * windowMs) / 1000;
    this.requests = new RollingCounter({ windowMs, buckets: 10 });
    this.retries = new RollingCounter({ windowMs, buckets: 10 });
  }

  /** Records one original request (not a retry) at `now`. */
  recordRequest(now: number): void {
    this.requests.add(now);
  }

  /** Takes one retry from the budget if there is room; true when the retry may go. */
  tryWithdraw(now: number): boolean {
    if (this.retries.total(now) + 1 > this.ratio * this.requests.total(now) + this.floor)
      return false;
    this.retries.add(now);
    return true;
  }
}

/** Options of a `RetryPolicy`. Durations in ms. */
export interface RetryPolicyOptions {
  /** Attempts in total, the first included (integer ≥ 1, default 3). */
  maxAttempts?: number;
  /** Backoff before retry n (n ≥ 1) is uniform in [0, min(maxDelayMs, baseDelayMs × 2^(n−1))]. Default 25. */
  baseDelayMs?: number;
  /** Cap of the backoff (default 1,000). */
  maxDelayMs?: number;
  /** Which outcomes are worth retrying. Default statuses 502/503/504, connection errors, timeouts. */
  retryOn?: FailureOn;
  budget?: RetryBudgetOptions;
}

/** Why a failed call is not retried. */
export type NoRetryReason =
  'not-retryable' | 'not-idempotent' | 'attempts-exhausted' | 'budget-exhausted';

/** The answer of `RetryPolicy.decide`. */
export type RetryDecision =
  | { readonly retry: true; readonly delayMs: number }
  | { readonly retry: false; readonly reason: NoRetryReason };

const NO_RETRY: Readonly<Record<NoRetryReason, RetryDecision>> = Object.freeze({
  'not-retryable': { retry: false, reason: 'not-retryable' },
  'not-idempotent': { retry: false, reason: 'not-idempotent' },
  'attempts-exhausted': { retry: false, reason: 'attempts-exhausted' },
  'budget-exhausted': { retry: false, reason: 'budget-exhausted' },
});

/**
 * Retry policy for outbound calls: only idempotent requests, only retryable outcomes, at most
 * `maxAttempts`, exponential backoff with full jitter, and never beyond the retry budget. Pure:
 * time is `now`, randomness the injected `Random`; the proxy waits and resends.
 *
 * Usage per outbound request: `recordRequest(now)` once; after each failed attempt `n`
 * (1-based), `decide(n, idempotent, outcome, now)`.
 */
export class RetryPolicy {
  /** Classifies responses and errors: `failure` means retryable. */
  readonly classifier: OutcomeClassifier;
  private readonly maxAttempts: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly budget: RetryBudget;

  constructor(
    options: RetryPolicyOptions,
    private readonly random: Random,
  ) {
    this.maxAttempts = options.maxAttempts ?? 3;
    this.baseDelayMs = options.baseDelayMs ?? 25;
    this.maxDelayMs = options.maxDelayMs ?? 1000;
    requireInteger('retries.attempts', this.maxAttempts, 1, 100);
    requireNumber('retries.backoff', this.baseDelayMs, 0);
    requireNumber('retries.maxBackoff', this.maxDelayMs, this.baseDelayMs);
    this.classifier = compileOutcomeClassifier(
      options.retryOn ?? {
        statuses: ['502', '503', '504'],
        connectionErrors: true,
        timeouts: true,
      },
    );
    this.budget = new RetryBudget(options.budget);
  }

  /** Records one original outbound request (feeds the budget). */
  recordRequest(now: number): void {
    this.budget.recordRequest(now);
  }

  /**
   * Decides after attempt `attempt` (1-based) ended with `outcome` (from `classifier`;
   * `failure` = retryable). Withdraws from the budget only when it answers "retry".
   */
  decide(attempt: number, idempotent: boolean, outcome: CallOutcome, now: number): RetryDecision {
    if (outcome !== 'failure') return NO_RETRY['not-retryable'];
    if (!idempotent) return NO_RETRY['not-idempotent'];
    if (attempt >= this.maxAttempts) return NO_RETRY['attempts-exhausted'];
    if (!this.budget.tryWithdraw(now)) return NO_RETRY['budget-exhausted'];
    return { retry: true, delayMs: this.backoffMs(attempt) };
  }

  /** Full-jitter backoff before retry number `retry` (1-based). */
  backoffMs(retry: number): number {
    const ceiling = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** Math.min(retry - 1, 30));
    return this.random.next() * ceiling;
  }
}
