import { createHash } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
import { systemRandom, type Random } from '../core/random.js';
import {
  RateLimitBackendError,
  requireInteger,
  requireNumber,
  type RateLimitBackendFailureReason,
} from './errors.js';
import { GCRA_LUA, gcraParams, type GcraParams } from './gcra.js';
import type { RateLimitDecision, RateLimitSpec } from './rate-limit-decision.js';

/** What a global limiter does when Redis cannot answer within its budget. */
export type FailureMode = 'open' | 'closed';

/** A global decision: Redis' answer, or the `failureMode` stand-in when Redis could not answer. */
export interface GlobalRateLimitDecision extends RateLimitDecision {
  /** `redis`: Redis decided. `failure-mode`: Redis failed and `failureMode` decided. */
  readonly source: 'redis' | 'failure-mode';
  /** Redis' clock (µs since the epoch) when Redis decided; 0 for failure-mode decisions. */
  readonly redisTimeUs: number;
}

/** Options of a `RedisRateLimiter` (one per global rule). */
export interface RedisRateLimiterOptions {
  /** A client made by `createRateLimitRedisClient` (or with equally bounded options). Not owned. */
  redis: Redis;
  /** The RateLimitPolicy (`namespace/name`); with `rule` it prefixes every key. */
  policy: string;
  /** The rule's name within the policy. */
  rule: string;
  /** The rule's numbers; same meaning as for the local token bucket. */
  limit: RateLimitSpec;
  /** What to decide when Redis cannot answer within `timeoutMs`: `open` admits, `closed` refuses. */
  failureMode: FailureMode;
  /** Upper bound of one decision, Redis round trip included, in ms (default 50). */
  timeoutMs?: number;
  /**
   * Most commands in flight at once (default 1,000). Beyond it decisions take the failure mode
   * immediately, so a hung Redis can never make requests queue without bound.
   */
  maxPending?: number;
  /** `Retry-After` of a fail-closed refusal, in ms (default 1,000). */
  failureRetryAfterMs?: number;
  /**
   * Called each time `failureMode` decides instead of Redis (the proxy counts it in a metric by
   * `reason` and logs it, rate-limited). Must not throw. Errors are only built when this is set,
   * and those without a `cause` (timeout, not-connected, overloaded) are shared instances.
   */
  onBackendFailure?: (error: RateLimitBackendError) => void;
}

/** Keys longer than this are hashed, so a huge header value cannot make a huge Redis key. */
const MAX_RAW_KEY_LENGTH = 128;
const COMMAND = 'palisadeGcra';

type GcraReply = [number, number, number, number, number];
/** The custom command `defineCommand` adds; ioredis cannot type it. */
interface GcraCommander {
  [COMMAND](
    key: string,
    intervalUs: number,
    toleranceUs: number,
    nowUs?: number,
  ): Promise<GcraReply>;
}

/** Registers the GCRA script on `redis` (idempotent). ioredis sends EVALSHA, falling back to EVAL on NOSCRIPT. */
export function defineGcraCommand(redis: Redis): Redis & GcraCommander {
  if (!(COMMAND in redis)) redis.defineCommand(COMMAND, { numberOfKeys: 1, lua: GCRA_LUA });
  return redis as Redis & GcraCommander;
}

/**
 * Global rate limiter: GCRA in one atomic Lua script per decision (one round trip, Redis' clock),
 * with a hard time bound. When Redis is down, hung, slow or saturated, `take` still resolves within
 * `timeoutMs` with the `failureMode` decision, and reports why through `onBackendFailure`.
 *
 * Never rejects. Holds no per-key state of its own; Redis keys expire when their bucket is full.
 */
export class RedisRateLimiter {
  private readonly redis: Redis & GcraCommander;
  private readonly params: GcraParams;
  private readonly prefix: string;
  private readonly timeoutMs: number;
  private readonly maxPending: number;
  private readonly failureDecision: GlobalRateLimitDecision;
  private readonly onBackendFailure: ((error: RateLimitBackendError) => void) | undefined;
  private inFlight = 0;
  private readonly causelessErrors: Partial<
    Record<RateLimitBackendFailureReason, RateLimitBackendError>
  > = {};

  constructor(options: RedisRateLimiterOptions) {
    this.params = gcraParams(options.limit);
    this.timeoutMs = options.timeoutMs ?? 50;
    this.maxPending = options.maxPending ?? 1000;
    const failureRetryAfterMs = options.failureRetryAfterMs ?? 1000;
    requireNumber('timeoutMs', this.timeoutMs, 1);
    requireInteger('maxPending', this.maxPending, 1);
    requireNumber('failureRetryAfterMs', failureRetryAfterMs, 0);
    this.redis = defineGcraCommand(options.redis);
    this.prefix = `palisade:rl:${options.policy}:${options.rule}:`;
    this.onBackendFailure = options.onBackendFailure;
    this.failureDecision = Object.freeze(
      options.failureMode === 'open'
        ? {
            allowed: true,
            remaining: 0,
            resetAfterMs: 0,
            retryAfterMs: 0,
            source: 'failure-mode' as const,
            redisTimeUs: 0,
          }
        : {
            allowed: false,
            remaining: 0,
            resetAfterMs: failureRetryAfterMs,
            retryAfterMs: failureRetryAfterMs,
            source: 'failure-mode' as const,
            redisTimeUs: 0,
          },
    );
  }

  /** Commands sent and not yet settled by the client (≤ `maxPending`). */
  get pending(): number {
    return this.inFlight;
  }

  /** The Redis key holding `key`'s state. */
  redisKey(key: string): string {
    return key.length <= MAX_RAW_KEY_LENGTH
      ? this.prefix + key
      : `${this.prefix}#${createHash('sha256').update(key).digest('base64url')}`;
  }

  /** Decides for one request of `key`; resolves within `timeoutMs` (plus event-loop delay). */
  take(key: string): Promise<GlobalRateLimitDecision> {
    if (this.redis.status !== 'ready') return Promise.resolve(this.fail('not-connected'));
    if (this.inFlight >= this.maxPending) return Promise.resolve(this.fail('overloaded'));
    let reply: Promise<GcraReply>;
    try {
      reply = this.redis[COMMAND](
        this.redisKey(key),
        this.params.intervalUs,
        this.params.toleranceUs,
      );
    } catch (error) {
      return Promise.resolve(this.fail('error', error));
    }
    this.inFlight++;
    return new Promise<GlobalRateLimitDecision>((resolve) => {
      let settled = false;
      const timer = setTimeout(() => {
        settled = true;
        resolve(this.fail('timeout'));
      }, this.timeoutMs);
      reply.then(
        (answer) => {
          this.inFlight--;
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          resolve(toDecision(answer));
        },
        (error: unknown) => {
          this.inFlight--;
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          resolve(this.fail('error', error));
        },
      );
    });
  }

  private fail(reason: RateLimitBackendFailureReason, cause?: unknown): GlobalRateLimitDecision {
    if (this.onBackendFailure) {
      // During an outage this runs for every request: failures without a cause are identical,
      // so each is built once (an Error captures a stack trace, which costs microseconds).
      const error =
        cause === undefined
          ? (this.causelessErrors[reason] ??= new RateLimitBackendError(reason))
          : new RateLimitBackendError(reason, { cause });
      this.onBackendFailure(error);
    }
    return this.failureDecision;
  }
}

function toDecision(reply: GcraReply): GlobalRateLimitDecision {
  const [allowed, remaining, retryAfterUs, resetAfterUs, redisTimeUs] = reply;
  return {
    allowed: allowed === 1,
    remaining,
    retryAfterMs: retryAfterUs / 1000,
    resetAfterMs: resetAfterUs / 1000,
    source: 'redis',
    redisTimeUs,
  };
}

/**
 * Delay before reconnection attempt `attempt` (1-based): exponential from `baseMs`, capped at
 * `capMs`, times a jitter factor in [0.5, 1) so that many sidecars do not reconnect in step.
 */
export function reconnectDelayMs(
  attempt: number,
  baseMs: number,
  capMs: number,
  random: Random,
): number {
  return (
    Math.min(capMs, baseMs * 2 ** Math.min(Math.max(attempt, 1) - 1, 30)) *
    (0.5 + random.next() / 2)
  );
}

/** Options of `createRateLimitRedisClient`. */
export interface RateLimitRedisClientOptions {
  /** e.g. `redis://redis.palisade:6379`. */
  url: string;
  /** TCP connect budget, ms (default 1,000). */
  connectTimeoutMs?: number;
  /** A connection that owes replies and sends nothing for this long is dropped, ms (default 1,000). */
  socketTimeoutMs?: number;
  /** Reconnect backoff: first delay and cap, ms (defaults 50 and 2,000); jittered ×[0.5, 1). */
  reconnectBaseMs?: number;
  reconnectMaxMs?: number;
  random?: Random;
  /** Connection-level errors (ioredis 'error' events); without it they are dropped. */
  onConnectionError?: (error: Error) => void;
}

/**
 * An ioredis client configured so that nothing waits unboundedly: no offline queue (commands fail
 * at once while disconnected), no resend after reconnect, a socket timeout that drops a hung
 * connection, and reconnection with capped, jittered exponential backoff forever.
 */
export function createRateLimitRedisClient(
  options: RateLimitRedisClientOptions,
): Redis & GcraCommander {
  const base = options.reconnectBaseMs ?? 50;
  const cap = options.reconnectMaxMs ?? 2000;
  const random = options.random ?? systemRandom;
  const redisOptions: RedisOptions = {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    connectTimeout: options.connectTimeoutMs ?? 1000,
    socketTimeout: options.socketTimeoutMs ?? 1000,
    retryStrategy: (attempt) => reconnectDelayMs(attempt, base, cap, random),
    connectionName: 'palisade-sidecar-ratelimit',
  };
  const redis = new Redis(options.url, redisOptions);
  const onError = options.onConnectionError;
  redis.on('error', (error: Error) => onError?.(error));
  return defineGcraCommand(redis);
}
