/**
 * The policy filters' decision cores: pure modules (time as `now`, randomness injected) that the
 * proxy wraps, plus the Redis adapter of the global rate limiter. See
 * docs/decisions/0005-rate-limit-algorithms.md for the rate-limit design.
 */
export {
  InvalidFilterConfigError,
  RateLimitBackendError,
  type RateLimitBackendFailureReason,
} from './errors.js';
export {
  capacityOf,
  validateRateLimitSpec,
  type RateLimitDecision,
  type RateLimitSpec,
} from './rate-limit-decision.js';
export {
  TokenBucketLimiter,
  type TokenBucketOptions,
  type TokenBucketStats,
} from './token-bucket.js';
export { GCRA_LUA, gcraParams, gcraStep, type GcraParams, type GcraStep } from './gcra.js';
export {
  RedisRateLimiter,
  createRateLimitRedisClient,
  defineGcraCommand,
  reconnectDelayMs,
  type FailureMode,
  type GlobalRateLimitDecision,
  type RateLimitRedisClientOptions,
  type RedisRateLimiterOptions,
} from './redis-rate-limiter.js';
export {
  compileRateLimitHeaders,
  type RateLimitHeaderOptions,
  type RateLimitHeaders,
} from './rate-limit-headers.js';
export {
  compileOutcomeClassifier,
  type CallOutcome,
  type FailureOn,
  type OutcomeClassifier,
} from './outcome-classifier.js';
export {
  CIRCUIT_STATE_METRIC_VALUE,
  CircuitBreaker,
  type CircuitBreakerOptions,
  type CircuitPermit,
  type CircuitRejection,
  type CircuitState,
  type CircuitStateChange,
  type CircuitTransitionReason,
} from './circuit-breaker.js';
export {
  FaultInjector,
  NO_FAULT,
  type AbortFault,
  type Fault,
  type FaultDecision,
  type LatencyFault,
} from './fault-injector.js';
export {
  RetryBudget,
  RetryPolicy,
  hasIdempotencyKey,
  isIdempotent,
  type NoRetryReason,
  type RetryBudgetOptions,
  type RetryDecision,
  type RetryPolicyOptions,
} from './retry.js';
export { compileRouteMatch, type RouteMatch, type RouteMatcher } from './route-match.js';
export { RollingCounter, type RollingCounterOptions } from './rolling-counter.js';
export {
  Deadline,
  DeadlineQueue,
  type DeadlineQueueOptions,
  type OneShotTimer,
} from './deadline-queue.js';
