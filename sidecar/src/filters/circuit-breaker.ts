import { InvalidFilterConfigError, requireInteger, requireNumber } from './errors.js';
import type { CallOutcome } from './outcome-classifier.js';
import { RollingCounter } from './rolling-counter.js';

/** The breaker's state. */
export type CircuitState = 'closed' | 'open' | 'half-open';

/** Value of the `palisade_circuit_breaker_state` gauge for each state (API.md). */
export const CIRCUIT_STATE_METRIC_VALUE: Readonly<Record<CircuitState, number>> = Object.freeze({
  closed: 0,
  open: 1,
  'half-open': 2,
});

/** Why the state changed. */
export type CircuitTransitionReason =
  | 'consecutive-failures'
  | 'failure-ratio'
  | 'open-duration-elapsed'
  | 'probe-failed'
  | 'probes-succeeded';

/** A state change, as passed to `onStateChange`. */
export interface CircuitStateChange {
  readonly from: CircuitState;
  readonly to: CircuitState;
  readonly reason: CircuitTransitionReason;
  /** Monotonic ms at which it happened. */
  readonly at: number;
}

/** Options of a `CircuitBreaker` (the CircuitBreaker CRD's `trip`, `openDuration`, `halfOpen`), durations in ms. */
export interface CircuitBreakerOptions {
  /** Trip after this many failures in a row (integer ≥ 1). */
  consecutiveFailures?: number;
  /** Trip when failures / results ≥ this ratio, in (0, 1], over `windowMs`… */
  failureRatio?: number;
  /** …once at least this many results are in the window (integer ≥ 1, default 20). */
  minimumRequests?: number;
  /** Rolling window of the ratio, ms (default 10,000). */
  windowMs?: number;
  /** Buckets of the rolling window (default 10). */
  windowBuckets?: number;
  /** How long the breaker stays open before admitting probes, ms. */
  openDurationMs: number;
  /** Half-open: at most `maxRequests` probes in flight; `successesToClose` successes close it. Default 1 and 1. */
  halfOpen?: { maxRequests: number; successesToClose: number };
  /** Suggested retry delay (ms) when half-open and every probe slot is taken (default 1,000). */
  probeRetryAfterMs?: number;
  /** Called synchronously on every state change (metric gauge, log line). Must not throw. */
  onStateChange?: (change: CircuitStateChange) => void;
}

/**
 * Permission to send one call. Hand it back to `onResult` exactly once. Permits are shared,
 * immutable objects per state generation (no allocation per request): a result reported with a
 * permit from an earlier generation (a call admitted before the state changed) is ignored.
 */
export interface CircuitPermit {
  readonly open: false;
  /** True for a half-open probe. */
  readonly probe: boolean;
  readonly generation: number;
}

/** The call must fail fast (`503`, `x-palisade-circuit: open`). */
export interface CircuitRejection {
  readonly open: true;
  readonly state: 'open' | 'half-open';
  /** When it is worth trying again, ms. */
  readonly retryAfterMs: number;
}

/**
 * Circuit breaker as an explicit state machine:
 *
 *   closed ──(consecutive failures | failure ratio over window)──▶ open
 *   open ──(openDuration elapsed, checked lazily at the next call)──▶ half-open
 *   half-open ──(successesToClose successes)──▶ closed;  half-open ──(any failure)──▶ open
 *
 * Pure: time is the `now` argument (monotonic ms). O(1) per call; the closed-state fast path
 * allocates nothing.
 */
export class CircuitBreaker {
  private readonly consecutiveLimit: number;
  private readonly ratio: number;
  private readonly minimumRequests: number;
  private readonly openDurationMs: number;
  private readonly maxProbes: number;
  private readonly successesToClose: number;
  private readonly probeRetryAfterMs: number;
  private readonly onStateChange: ((change: CircuitStateChange) => void) | undefined;
  private readonly results: RollingCounter | undefined;
  private readonly failures: RollingCounter | undefined;

  private state: CircuitState = 'closed';
  private generation = 0;
  private permit: CircuitPermit = { open: false, probe: false, generation: 0 };
  private consecutive = 0;
  private openUntil = 0;
  private probesInFlight = 0;
  private probeSuccesses = 0;

  constructor(options: CircuitBreakerOptions) {
    if (options.consecutiveFailures === undefined && options.failureRatio === undefined) {
      throw new InvalidFilterConfigError('trip', 'set consecutiveFailures, failureRatio, or both');
    }
    if (options.consecutiveFailures !== undefined) {
      requireInteger('trip.consecutiveFailures', options.consecutiveFailures, 1);
    }
    this.consecutiveLimit = options.consecutiveFailures ?? Infinity;
    this.ratio = options.failureRatio ?? Infinity;
    this.minimumRequests = options.minimumRequests ?? 20;
    requireInteger('trip.minimumRequests', this.minimumRequests, 1);
    if (options.failureRatio !== undefined) {
      requireNumber('trip.failureRatio', options.failureRatio, Number.MIN_VALUE, 1);
      const window = { windowMs: options.windowMs ?? 10_000, buckets: options.windowBuckets ?? 10 };
      this.results = new RollingCounter(window);
      this.failures = new RollingCounter(window);
    }
    requireNumber('openDuration', options.openDurationMs, 0);
    this.openDurationMs = options.openDurationMs;
    this.maxProbes = options.halfOpen?.maxRequests ?? 1;
    this.successesToClose = options.halfOpen?.successesToClose ?? 1;
    requireInteger('halfOpen.maxRequests', this.maxProbes, 1);
    requireInteger('halfOpen.successesToClose', this.successesToClose, 1);
    this.probeRetryAfterMs = options.probeRetryAfterMs ?? 1000;
    this.onStateChange = options.onStateChange;
  }

  /** The state at `now` (moves open → half-open once `openDuration` has elapsed). */
  currentState(now: number): CircuitState {
    if (this.state === 'open' && now >= this.openUntil)
      this.transition('half-open', 'open-duration-elapsed', now);
    return this.state;
  }

  /** Asks to send one call at `now`. */
  tryAcquire(now: number): CircuitPermit | CircuitRejection {
    if (this.state === 'closed') return this.permit;
    if (this.state === 'open') {
      if (now < this.openUntil)
        return { open: true, state: 'open', retryAfterMs: this.openUntil - now };
      this.transition('half-open', 'open-duration-elapsed', now);
    }
    if (this.probesInFlight < this.maxProbes) {
      this.probesInFlight++;
      return this.permit;
    }
    return { open: true, state: 'half-open', retryAfterMs: this.probeRetryAfterMs };
  }

  /** Reports how the call admitted by `permit` ended, at `now`. Call exactly once per permit. */
  onResult(permit: CircuitPermit, outcome: CallOutcome, now: number): void {
    if (permit.generation !== this.generation) return;
    if (this.state === 'closed') {
      if (outcome === 'ignored') return;
      this.results?.add(now);
      if (outcome === 'success') {
        this.consecutive = 0;
        return;
      }
      this.consecutive++;
      this.failures?.add(now);
      if (this.consecutive >= this.consecutiveLimit) {
        this.trip('consecutive-failures', now);
      } else if (this.results && this.failures) {
        const total = this.results.total(now);
        if (total >= this.minimumRequests && this.failures.total(now) >= this.ratio * total) {
          this.trip('failure-ratio', now);
        }
      }
      return;
    }
    if (this.state !== 'half-open') return;
    this.probesInFlight--;
    if (outcome === 'success') {
      if (++this.probeSuccesses >= this.successesToClose)
        this.transition('closed', 'probes-succeeded', now);
    } else if (outcome === 'failure') {
      this.trip('probe-failed', now);
    }
  }

  private trip(reason: CircuitTransitionReason, now: number): void {
    this.openUntil = now + this.openDurationMs;
    this.transition('open', reason, now);
  }

  private transition(to: CircuitState, reason: CircuitTransitionReason, now: number): void {
    const from = this.state;
    this.state = to;
    this.generation++;
    this.permit = { open: false, probe: to === 'half-open', generation: this.generation };
    this.consecutive = 0;
    this.probesInFlight = 0;
    this.probeSuccesses = 0;
    if (to === 'closed') {
      this.results?.reset();
      this.failures?.reset();
    }
    this.onStateChange?.({ from, to, reason, at: now });
  }
}
