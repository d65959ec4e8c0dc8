import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import type * as IORedis from 'ioredis';
import type { Redis, RedisOptions } from 'ioredis';
import { systemClock, type Clock } from '../core/clock.js';
import { systemRandom, type Random } from '../core/random.js';
import {
  RateLimitBackendError,
  requireInteger,
  requireNumber,
  type RateLimitBackendFailureReason,
} from './errors.js';
import { DeadlineQueue } from './deadline-queue.js';
import { GCRA_LUA, gcraParams, type GcraParams } from './gcra.js';
import { capacityOf, type RateLimitDecision, type RateLimitSpec } from './rate-limit-decision.js';
import { leaseSizeFor, TokenLeases } from './token-lease.js';

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
  /** Monotonic time of the token leases (default `systemClock`). */
  clock?: Clock;
}

const loadCommonJs = createRequire(import.meta.url);

/** Keys longer than this are hashed, so a huge header value cannot make a huge Redis key. */
const MAX_RAW_KEY_LENGTH = 128;
const COMMAND = 'palisadeGcra';
const BATCH_COMMAND = 'palisadeGcraBatch';
/** Most requests in one script call: bounds the time one call holds Redis (a few µs per key). */
const MAX_BATCH = 512;
/**
 * How long leased tokens stay usable, ms; also the window in which a key's demand is counted.
 * 200 rather than 50: each refill is a Redis command and a wake-up, about 0.5 ms of CPU here,
 * and at 1,000 req/s of one key 200 ms made 40% fewer calls and cost 19 µs less per request
 * (decision 0005, "Token leases"); what it trades is a lease living up to 200 ms.
 */
const LEASE_HOLD_MS = 200;
/** Most keys of one rule with a lease (or demand counted) at once, per sidecar. */
const MAX_LEASED_KEYS = 1024;

/** The custom commands `defineCommand` adds; ioredis cannot type them. */
interface GcraCommander {
  /**
   * One request for one key (conformance tests pass `nowUs`). Reply as `GCRA_LUA`'s, read
   * with `gcraBatchDecision(reply, 0, 0, intervalUs)`.
   */
  [COMMAND](
    key: string,
    intervalUs: number,
    toleranceUs: number,
    nowUs?: number,
  ): Promise<number[]>;
  /**
   * `keyCount` distinct keys, then intervalUs, toleranceUs, now ('' for Redis' TIME) and the
   * number of requests of each key (see `GCRA_LUA`).
   */
  [BATCH_COMMAND](keyCount: number, ...keysThenArgs: (string | number)[]): Promise<number[]>;
}

/**
 * Registers the GCRA script on `redis` (idempotent), for one key and for a batch (same script).
 * ioredis sends EVALSHA, falling back to EVAL on NOSCRIPT.
 */
export function defineGcraCommand(redis: Redis): Redis & GcraCommander {
  if (!(COMMAND in redis)) {
    redis.defineCommand(COMMAND, { numberOfKeys: 1, lua: GCRA_LUA });
    redis.defineCommand(BATCH_COMMAND, { lua: GCRA_LUA });
  }
  return redis as Redis & GcraCommander;
}

/**
 * Global rate limiter: GCRA in an atomic Lua script (one round trip, Redis' clock), with a hard
 * time bound. Decisions asked for during one turn of the event loop (the requests whose bytes
 * arrived together) go to Redis as one batch, sent once that turn's I/O callbacks have run
 * (`setImmediate`): one command, one timer and one write per batch instead of per request — a
 * Redis command through ioredis costs tens of µs of CPU, most of a request's budget. The batch
 * is grouped by key (one entry per distinct key with its request count, and a reply of five
 * numbers per distinct key: decoding a reply integer by integer was most of ioredis' cost) and
 * is still one atomic script, in arrival order within each key, so accuracy is that of one
 * decision at a time. When Redis is down, hung, slow or saturated, `take` still resolves within
 * `timeoutMs` with the `failureMode` decision, and reports why through `onBackendFailure`.
 *
 * Rules with a capacity of 1,000 or more also lease tokens (`token-lease.ts`): a call asks for
 * tokens beyond the waiting requests, enough for twice the key's recent demand per 200 ms and at
 * most 0.1% of the capacity, and the next requests are admitted from them at once (synchronously);
 * a lease is refilled while it runs low or ages. Smaller rules decide every request in Redis.
 *
 * Never rejects. The only per-key state is the leases' (bounded); Redis keys expire when their
 * bucket is full.
 */
export class RedisRateLimiter {
  private readonly redis: Redis & GcraCommander;
  private readonly params: GcraParams;
  private readonly prefix: string;
  private readonly timeoutMs: number;
  private readonly maxPending: number;
  private readonly failureDecision: GlobalRateLimitDecision;
  private readonly onBackendFailure: ((error: RateLimitBackendError) => void) | undefined;
  private readonly clock: Clock;
  /** Token leases of the keys, the grant being a script reply; null for rules too small. */
  private readonly leases: TokenLeases<readonly number[]> | null;
  private inFlight = 0;
  /**
   * The next batch, grouped by key (`GCRA_LUA`): its distinct Redis keys with their index and
   * request count; per waiting request, who waits, its key's index and its rank among that
   * key's requests (arrival order).
   */
  private batchKeys: string[] = [];
  private readonly batchIndex = new Map<string, number>();
  private batchCounts: number[] = [];
  private batchWaiters: ((decision: GlobalRateLimitDecision) => void)[] = [];
  private batchWaiterKeys: number[] = [];
  private batchWaiterRanks: number[] = [];
  /**
   * The time bound of the batches in flight: one timer for all of them (each batch used to arm
   * and clear its own, which at 1,000 req/s is one of each per request). Items time a batch out.
   */
  private readonly deadlines: DeadlineQueue<() => void>;
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
    this.clock = options.clock ?? systemClock;
    const leaseSize = leaseSizeFor(capacityOf(options.limit));
    this.leases =
      leaseSize === 0
        ? null
        : new TokenLeases({
            maxTokens: leaseSize,
            holdMs: LEASE_HOLD_MS,
            maxKeys: MAX_LEASED_KEYS,
          });
    this.deadlines = new DeadlineQueue({ durationMs: this.timeoutMs, onExpire: expireBatch });
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

  /**
   * Decides for one request of `key`: at once from a token lease or when Redis cannot be asked,
   * else a promise that resolves within `timeoutMs` (plus event-loop delay). `now` is the
   * monotonic time in ms (the leases' clock).
   */
  take(
    key: string,
    now: number = this.clock.now(),
  ): GlobalRateLimitDecision | Promise<GlobalRateLimitDecision> {
    const leases = this.leases;
    // Only a rule with leases needs the key before Redis is asked; without, an outage stays as
    // cheap as before (no key built, let alone hashed, for a failureMode decision).
    let redisKey: string | undefined;
    if (leases !== null) {
      redisKey = this.redisKey(key);
      const token = leases.take(redisKey, now);
      if (token !== undefined) {
        if (leases.wantsRefill(redisKey, now) && this.redis.status === 'ready')
          this.enqueue(redisKey);
        return gcraBatchDecision(token.grant, token.keyIndex, token.rank, this.params.intervalUs);
      }
    }
    if (this.redis.status !== 'ready') return this.fail('not-connected');
    if (this.inFlight >= this.maxPending) return this.fail('overloaded');
    this.inFlight++;
    const batchKey = redisKey ?? this.redisKey(key);
    return new Promise<GlobalRateLimitDecision>((resolve) => this.enqueue(batchKey, resolve));
  }

  /** Adds `redisKey` to the next batch, with a request waiting for its decision if `resolve`. */
  private enqueue(redisKey: string, resolve?: (decision: GlobalRateLimitDecision) => void): void {
    if (this.batchKeys.length === 0) setImmediate(this.flush);
    let index = this.batchIndex.get(redisKey);
    if (index === undefined) {
      index = this.batchKeys.length;
      this.batchIndex.set(redisKey, index);
      this.batchKeys.push(redisKey);
      this.batchCounts.push(0);
    }
    if (resolve === undefined) return;
    const rank = this.batchCounts[index] as number;
    this.batchCounts[index] = rank + 1;
    this.batchWaiters.push(resolve);
    this.batchWaiterKeys.push(index);
    this.batchWaiterRanks.push(rank);
    if (this.batchWaiters.length >= MAX_BATCH) this.flush();
  }

  /** Sends the decisions gathered so far as one script call and settles them. */
  private readonly flush = (): void => {
    const { batchKeys: keys, batchCounts: counts, batchWaiters: waiters } = this;
    const { batchWaiterKeys: waiterKeys, batchWaiterRanks: waiterRanks } = this;
    const count = waiters.length;
    if (keys.length === 0) return;
    this.batchKeys = [];
    this.batchIndex.clear(); // only `take` reads it
    this.batchCounts = [];
    this.batchWaiters = [];
    this.batchWaiterKeys = [];
    this.batchWaiterRanks = [];
    const leases = this.leases;
    // How many tokens to lease for each key (recorded as asked until settled).
    const asks = leases === null ? null : keys.map((key) => leases.ask(key));
    // A batch of lease refills only, all of whose leases filled up meanwhile: nothing to ask.
    if (count === 0 && (asks === null || asks.every((asked) => asked === 0))) return;
    let settled = false;
    const settle = (
      decide: (index: number) => GlobalRateLimitDecision,
      answer: readonly number[] | null = null,
    ): void => {
      settled = true;
      if (leases !== null && asks !== null) this.settleLeases(leases, keys, counts, asks, answer);
      for (let i = 0; i < count; i++)
        (waiters[i] as (d: GlobalRateLimitDecision) => void)(decide(i));
    };
    if (this.redis.status !== 'ready') {
      this.inFlight -= count;
      settle(() => this.fail('not-connected'));
      return;
    }
    let reply: Promise<number[]>;
    try {
      reply = this.redis[BATCH_COMMAND](
        keys.length,
        ...keys,
        this.params.intervalUs,
        this.params.toleranceUs,
        '', // now: Redis' TIME
        ...(asks === null ? counts : counts.map((waiting, i) => waiting + (asks[i] as number))),
      );
    } catch (error) {
      this.inFlight -= count;
      settle(() => this.fail('error', error));
      return;
    }
    const deadline = this.deadlines.add(() => settle(() => this.fail('timeout')));
    reply.then(
      (answer) => {
        this.inFlight -= count;
        if (settled) return;
        deadline.cancel();
        const intervalUs = this.params.intervalUs;
        settle(
          (i) =>
            gcraBatchDecision(
              answer,
              waiterKeys[i] as number,
              waiterRanks[i] as number,
              intervalUs,
            ),
          answer,
        );
      },
      (error: unknown) => {
        this.inFlight -= count;
        if (settled) return;
        deadline.cancel();
        settle(() => this.fail('error', error));
      },
    );
  };

  /**
   * Gives each key's lease the tokens its call got beyond the waiting requests (`answer` null:
   * the call failed or timed out, nothing granted).
   */
  private settleLeases(
    leases: TokenLeases<readonly number[]>,
    keys: readonly string[],
    waiting: readonly number[],
    asks: readonly number[],
    answer: readonly number[] | null,
  ): void {
    const now = this.clock.now();
    keys.forEach((key, i) => {
      const asked = asks[i] as number;
      if (asked === 0) return;
      if (answer === null) {
        leases.cancel(key, asked);
        return;
      }
      const first = waiting[i] as number;
      const granted = Math.max(0, Math.min(asked, (answer[1 + i * 5] as number) - first));
      leases.settle(key, asked, granted, now, answer, i, first);
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

function expireBatch(timeOut: () => void): void {
  timeOut();
}

/**
 * The decision of the `rank`-th request (0-based, arrival order) for the `keyIndex`-th key of a
 * `GCRA_LUA` reply: `gcraStep`'s numbers for that step, in ms.
 */
export function gcraBatchDecision(
  reply: readonly number[],
  keyIndex: number,
  rank: number,
  intervalUs: number,
): GlobalRateLimitDecision {
  const at = 1 + keyIndex * 5;
  const redisTimeUs = reply[0] as number;
  if (rank < (reply[at] as number)) {
    return {
      allowed: true,
      remaining: (reply[at + 1] as number) - rank,
      retryAfterMs: 0,
      resetAfterMs: ((reply[at + 2] as number) + rank * intervalUs) / 1000,
      source: 'redis',
      redisTimeUs,
    };
  }
  return {
    allowed: false,
    remaining: 0,
    retryAfterMs: (reply[at + 3] as number) / 1000,
    resetAfterMs: (reply[at + 4] as number) / 1000,
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
  // Loaded on first use: a sidecar without global limits never pays for ioredis (~14 MB).
  const { Redis: RedisClient } = loadCommonJs('ioredis') as typeof IORedis;
  const redis = new RedisClient(options.url, redisOptions);
  const onError = options.onConnectionError;
  redis.on('error', (error: Error) => onError?.(error));
  return defineGcraCommand(redis);
}
