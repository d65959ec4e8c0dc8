import { InvalidFilterConfigError, requireInteger } from './errors.js';
import {
  capacityOf,
  validateRateLimitSpec,
  type RateLimitDecision,
  type RateLimitSpec,
} from './rate-limit-decision.js';

/** Options of a local (per-sidecar) limiter. */
export interface TokenBucketOptions extends RateLimitSpec {
  /**
   * Most keys tracked at once (default 10,000). Beyond it the least recently used key is
   * forgotten, so a flood of distinct keys costs bounded memory (about 40 bytes per slot plus the
   * key string and its map entry). Forgetting a key whose bucket was already full loses nothing;
   * forgetting a partly drained one lets that key start full again (counted in
   * `evictedActiveKeys`).
   */
  maxKeys?: number;
}

/** Counters a metrics adapter can read. */
export interface TokenBucketStats {
  /** Keys currently tracked (≤ `maxKeys`). */
  readonly keys: number;
  /** Keys forgotten while their bucket was not full: each is a (bounded) precision loss. */
  readonly evictedActiveKeys: number;
}

/** Float tolerance so that waiting exactly `retryAfterMs` is always enough. */
const EPSILON = 1e-9;
const NONE = -1;
const INITIAL_SLOTS = 64;

/**
 * Local token-bucket rate limiter with one bucket per key (see `RateLimitSpec` for the exact
 * semantics of `requests`, `periodMs` and `burst`).
 *
 * Pure: time is passed in as `now` (monotonic ms from the sidecar's `Clock`), read once per
 * request by the caller. The buckets live in typed arrays with an intrusive LRU list, so a decision
 * is one `Map` lookup, a little arithmetic and one small result object.
 */
export class TokenBucketLimiter {
  private readonly capacity: number;
  /** Tokens per ms. */
  private readonly rate: number;
  private readonly maxKeys: number;

  private readonly index = new Map<string, number>();
  private keys: (string | undefined)[] = [];
  private tokens = new Float64Array(INITIAL_SLOTS);
  private updatedAt = new Float64Array(INITIAL_SLOTS);
  /** LRU list: `head` is the most recently used slot, `tail` the least. */
  private newer = new Int32Array(INITIAL_SLOTS);
  private older = new Int32Array(INITIAL_SLOTS);
  private head = NONE;
  private tail = NONE;
  private used = 0;
  private evicted = 0;

  constructor(options: TokenBucketOptions) {
    validateRateLimitSpec(options);
    const maxKeys = options.maxKeys ?? 10_000;
    requireInteger('maxKeys', maxKeys, 1, 1 << 28);
    this.capacity = capacityOf(options);
    this.rate = options.requests / options.periodMs;
    this.maxKeys = maxKeys;
    if (!(this.rate > 0)) throw new InvalidFilterConfigError('limit', 'rate must be positive');
  }

  /** Takes one token from `key`'s bucket if it has one. */
  take(key: string, now: number): RateLimitDecision {
    let slot = this.index.get(key);
    let tokens: number;
    if (slot === undefined) {
      slot = this.allocate(key, now);
      tokens = this.capacity;
    } else {
      tokens = this.tokens[slot] ?? 0;
      const elapsed = now - (this.updatedAt[slot] ?? now);
      if (elapsed > 0) {
        tokens = Math.min(this.capacity, tokens + elapsed * this.rate);
        this.updatedAt[slot] = now;
      }
      this.touch(slot);
    }
    if (tokens >= 1 - EPSILON) {
      tokens = Math.max(0, tokens - 1);
      this.tokens[slot] = tokens;
      return {
        allowed: true,
        remaining: Math.floor(tokens + EPSILON),
        resetAfterMs: (this.capacity - tokens) / this.rate,
        retryAfterMs: 0,
      };
    }
    this.tokens[slot] = tokens;
    return {
      allowed: false,
      remaining: 0,
      resetAfterMs: (this.capacity - tokens) / this.rate,
      retryAfterMs: (1 - tokens) / this.rate,
    };
  }

  /** Current counters (cheap; for metrics). */
  stats(): TokenBucketStats {
    return { keys: this.used, evictedActiveKeys: this.evicted };
  }

  /** Returns a free slot for `key`, holding a full bucket, at the head of the LRU list. */
  private allocate(key: string, now: number): number {
    let slot: number;
    if (this.used < this.maxKeys) {
      slot = this.used++;
      if (slot >= this.tokens.length) this.grow();
    } else {
      slot = this.tail;
      const oldKey = this.keys[slot];
      if (oldKey !== undefined) this.index.delete(oldKey);
      const refilled = (this.tokens[slot] ?? 0) + (now - (this.updatedAt[slot] ?? now)) * this.rate;
      if (refilled < this.capacity - EPSILON) this.evicted++;
      this.unlink(slot);
    }
    this.keys[slot] = key;
    this.index.set(key, slot);
    this.tokens[slot] = this.capacity;
    this.updatedAt[slot] = now;
    this.pushHead(slot);
    return slot;
  }

  private grow(): void {
    const size = Math.min(this.tokens.length * 2, this.maxKeys);
    this.tokens = copyInto(new Float64Array(size), this.tokens);
    this.updatedAt = copyInto(new Float64Array(size), this.updatedAt);
    this.newer = copyInto(new Int32Array(size), this.newer);
    this.older = copyInto(new Int32Array(size), this.older);
  }

  private touch(slot: number): void {
    if (slot === this.head) return;
    this.unlink(slot);
    this.pushHead(slot);
  }

  private unlink(slot: number): void {
    const newer = this.newer[slot] ?? NONE;
    const older = this.older[slot] ?? NONE;
    if (newer === NONE) this.head = older;
    else this.older[newer] = older;
    if (older === NONE) this.tail = newer;
    else this.newer[older] = newer;
  }

  private pushHead(slot: number): void {
    this.newer[slot] = NONE;
    this.older[slot] = this.head;
    if (this.head !== NONE) this.newer[this.head] = slot;
    this.head = slot;
    if (this.tail === NONE) this.tail = slot;
  }
}

function copyInto<T extends Float64Array | Int32Array>(target: T, source: T): T {
  target.set(source);
  return target;
}
