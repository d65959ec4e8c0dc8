/**
 * Token leases of the global rate limiter: a sidecar that sends a key many requests asks Redis
 * for a few of the key's tokens ahead of time, and admits the next requests from them without a
 * round trip. Pure bookkeeping (time is `now`, in ms); the Redis adapter does the asking.
 *
 * Why: a Redis command is a socket write, a wake-up and a reply to parse, tens of µs of CPU and
 * a round trip on the request's path. At 1,000 req/s of one key that is one command per request;
 * with leases it is about one per `holdMs` (decision 0005, "Token leases").
 *
 * What it costs in accuracy, and why it is bounded:
 * - Leased tokens are spent in Redis when granted, so Redis' GCRA bound holds for grants. A
 *   sidecar holds at most `maxTokens` unused tokens at any time (what it holds plus what it has
 *   asked for), so in any interval the sidecars together admit at most the GCRA bound plus
 *   `sidecars × maxTokens`. `leaseSizeFor` makes that 0.1% of the rule's capacity per sidecar,
 *   and 0 (no leases, exact decisions) for rules with a capacity under 1,000.
 * - Tokens not used within `holdMs` of the key's last grant are dropped: they were spent in
 *   Redis, so the error is on the side of limiting. A lease aims at two windows' (`holdMs`)
 *   demand and is renewed from half its hold on, so a steady key wastes little and rarely
 *   waits for Redis.
 * - Decisions served from a lease carry the numbers of the grant (remaining, reset) as they
 *   were then, at most `holdMs` old.
 */

/** Capacity per leased token: a sidecar holds at most 0.1% of a rule's capacity. */
const CAPACITY_PER_LEASED_TOKEN = 1000;

/** Most tokens one sidecar may hold for one key of a rule with `capacity`; 0: no leases. */
export function leaseSizeFor(capacity: number): number {
  return Math.floor(capacity / CAPACITY_PER_LEASED_TOKEN);
}

/** Options of a `TokenLeases`. */
export interface TokenLeaseOptions {
  /** Most tokens held plus asked for, per key (`leaseSizeFor`); ≥ 1. */
  readonly maxTokens: number;
  /** How long a granted token stays usable, ms; also the window over which demand is counted. */
  readonly holdMs: number;
  /** Most keys tracked at once; further keys get no lease (decided one by one). */
  readonly maxKeys: number;
}

/** One key's lease and recent demand. `G` is the grant (the Redis reply) that tokens came from. */
interface KeyLease<G> {
  /** Unused tokens, usable until `expiresAtMs`. */
  tokens: number;
  expiresAtMs: number;
  /** Tokens asked for in calls not yet settled. */
  asked: number;
  /** The reply the tokens came from, the key's index in it and its ranks granted to the lease. */
  grant: G | null;
  keyIndex: number;
  firstRank: number;
  endRank: number;
  /** Demand: requests in the current `holdMs` window (from `windowStartMs`) and the one before. */
  windowStartMs: number;
  thisWindow: number;
  lastWindow: number;
}

/** A token taken from a lease: decide the request as the `rank`-th admission of `grant`. */
export interface LeasedToken<G> {
  readonly grant: G;
  readonly keyIndex: number;
  readonly rank: number;
}

/** A key's requests per window: the larger of the current window's and the last one's. */
function demand(lease: KeyLease<unknown>): number {
  return Math.max(lease.thisWindow, lease.lastWindow);
}

/** The leases of one rule's keys in one sidecar. */
export class TokenLeases<G> {
  private readonly keys = new Map<string, KeyLease<G>>();
  private readonly maxTokens: number;
  private readonly holdMs: number;
  private readonly maxKeys: number;
  /** When the key table was last swept of idle keys (a full table is swept at most once per hold). */
  private sweptAtMs = -Infinity;

  constructor(options: TokenLeaseOptions) {
    if (!Number.isInteger(options.maxTokens) || options.maxTokens < 1)
      throw new RangeError(`maxTokens must be an integer ≥ 1, got ${options.maxTokens}`);
    if (!(options.holdMs > 0)) throw new RangeError(`holdMs must be > 0, got ${options.holdMs}`);
    if (!Number.isInteger(options.maxKeys) || options.maxKeys < 1)
      throw new RangeError(`maxKeys must be an integer ≥ 1, got ${options.maxKeys}`);
    this.maxTokens = options.maxTokens;
    this.holdMs = options.holdMs;
    this.maxKeys = options.maxKeys;
  }

  /** Keys tracked (for tests and the bound on memory). */
  get size(): number {
    return this.keys.size;
  }

  /**
   * Counts one request of `key` and takes a token of its lease if it holds one; `undefined`
   * means the request must go to Redis.
   */
  take(key: string, now: number): LeasedToken<G> | undefined {
    const lease = this.keys.get(key) ?? this.track(key, now);
    if (lease === undefined) return undefined;
    this.countDemand(lease, now);
    if (lease.tokens === 0) return undefined;
    if (now >= lease.expiresAtMs) {
      lease.tokens = 0;
      return undefined;
    }
    // The last tokens take the grant's last ranks; tokens held over from an older grant (fewer
    // than `maxTokens` in all) take its first one.
    const rank = Math.max(lease.firstRank, lease.endRank - lease.tokens);
    lease.tokens--;
    return { grant: lease.grant as G, keyIndex: lease.keyIndex, rank };
  }

  /**
   * Whether `key`'s lease should be refilled now, with no request waiting, so that requests
   * keep finding tokens: no ask in flight, room for more, and the lease either down to half a
   * window's demand (at most half of `maxTokens`) or past half its hold (so that it is renewed
   * before it expires).
   */
  wantsRefill(key: string, now: number): boolean {
    const lease = this.keys.get(key);
    if (lease === undefined || lease.asked > 0 || this.wanted(lease) === 0) return false;
    // Half a window's demand, or half of what a lease may hold when the demand is larger: a key
    // busier than `maxTokens` per window would otherwise ask again after every grant.
    const low = Math.min(demand(lease), this.maxTokens);
    return lease.tokens * 2 <= low || now >= lease.expiresAtMs - this.holdMs / 2;
  }

  /**
   * How many tokens beyond the waiting requests to ask for `key` in a call sent now: enough to
   * hold two windows' demand, within `maxTokens`. Recorded as asked until `settle` or `cancel`.
   */
  ask(key: string): number {
    const lease = this.keys.get(key);
    if (lease === undefined) return 0;
    const count = this.wanted(lease);
    lease.asked += count;
    return count;
  }

  /** Settles an ask of `asked` tokens whose call failed or timed out: nothing was granted. */
  cancel(key: string, asked: number): void {
    const lease = this.keys.get(key);
    if (lease !== undefined) lease.asked -= asked;
  }

  /**
   * Settles an ask of `asked` tokens (call once per `ask`, or `cancel`): `granted` of them
   * arrived at `now` as admissions `firstRank…` of `keyIndex` in `grant`. Tokens still held from
   * an older grant stay, with the new expiry (the ask left room for them: held plus asked never
   * exceeds `maxTokens`).
   */
  settle(
    key: string,
    asked: number,
    granted: number,
    now: number,
    grant: G,
    keyIndex: number,
    firstRank: number,
  ): void {
    const lease = this.keys.get(key);
    if (lease === undefined) return;
    lease.asked -= asked;
    if (granted === 0) return;
    const held = now < lease.expiresAtMs ? lease.tokens : 0;
    lease.tokens = Math.min(held + granted, this.maxTokens);
    lease.expiresAtMs = now + this.holdMs;
    lease.grant = grant;
    lease.keyIndex = keyIndex;
    lease.firstRank = firstRank;
    lease.endRank = firstRank + granted;
  }

  /** Tokens to ask for: up to two windows' demand held or asked, never beyond `maxTokens`. */
  private wanted(lease: KeyLease<G>): number {
    const target = Math.min(2 * demand(lease), this.maxTokens);
    return Math.max(0, target - lease.tokens - lease.asked);
  }

  private countDemand(lease: KeyLease<G>, now: number): void {
    const elapsed = now - lease.windowStartMs;
    if (elapsed >= this.holdMs) {
      lease.lastWindow = elapsed >= 2 * this.holdMs ? 0 : lease.thisWindow;
      lease.thisWindow = 0;
      lease.windowStartMs = now;
    }
    lease.thisWindow++;
  }

  /** Starts tracking `key`, if there is room (after sweeping idle keys at most once per hold). */
  private track(key: string, now: number): KeyLease<G> | undefined {
    if (this.keys.size >= this.maxKeys) {
      if (now - this.sweptAtMs < this.holdMs) return undefined;
      this.sweptAtMs = now;
      for (const [known, lease] of this.keys) {
        const idle = now - lease.windowStartMs >= 2 * this.holdMs;
        if (idle && lease.asked === 0 && (lease.tokens === 0 || now >= lease.expiresAtMs))
          this.keys.delete(known);
      }
      if (this.keys.size >= this.maxKeys) return undefined;
    }
    const lease: KeyLease<G> = {
      tokens: 0,
      expiresAtMs: -Infinity,
      asked: 0,
      grant: null,
      keyIndex: 0,
      firstRank: 0,
      endRank: 0,
      windowStartMs: now,
      thisWindow: 0,
      lastWindow: 0,
    };
    this.keys.set(key, lease);
    return lease;
  }
}
