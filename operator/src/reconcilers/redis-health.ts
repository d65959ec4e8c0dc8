/**
 * Whether the Redis of global rate limits answers, per URL, as RateLimitPolicy reconciles ask:
 * one bounded check per URL at most every `intervalMs` (results are shared by every policy
 * using that URL, and concurrent askers share one check in flight). The check itself is
 * injected (`pingRedis` in production); time comes from the injected clock.
 */
import type { Clock } from '../core/clock.js';

/** The last answer for a URL. */
export interface RedisState {
  readonly reachable: boolean;
  /** Why not, when unreachable (no credentials in it). */
  readonly detail: string;
  /** Clock time of the check. */
  readonly checkedAt: number;
}

/** Options of `RedisHealth`. */
export interface RedisHealthOptions {
  /** Resolves when Redis answers, rejects (with a readable message) otherwise; bounded. */
  readonly check: (url: string) => Promise<void>;
  readonly clock: Clock;
  /** How old an answer may be before it is checked again. Default 10 s. */
  readonly intervalMs?: number;
}

/** Default re-check period (and the requeue period of policies that need Redis). */
export const DEFAULT_REDIS_CHECK_INTERVAL_MS = 10_000;

/** Cached reachability per Redis URL (see the module comment). */
export class RedisHealth {
  readonly intervalMs: number;
  private readonly states = new Map<string, RedisState>();
  private readonly inFlight = new Map<string, Promise<RedisState>>();

  constructor(private readonly options: RedisHealthOptions) {
    this.intervalMs = options.intervalMs ?? DEFAULT_REDIS_CHECK_INTERVAL_MS;
  }

  /** The state of `url`, checked now if the last answer is older than `intervalMs`. */
  async state(url: string): Promise<RedisState> {
    const known = this.states.get(url);
    if (known !== undefined && this.options.clock.now() - known.checkedAt < this.intervalMs)
      return known;
    let running = this.inFlight.get(url);
    if (running === undefined) {
      running = this.options.check(url).then(
        () => ({ reachable: true, detail: '', checkedAt: this.options.clock.now() }),
        (error: unknown) => ({
          reachable: false,
          detail: error instanceof Error ? error.message : String(error),
          checkedAt: this.options.clock.now(),
        }),
      );
      this.inFlight.set(url, running);
    }
    const state = await running;
    this.inFlight.delete(url);
    this.states.set(url, state);
    return state;
  }
}
