/**
 * Reconnection delays: capped exponential backoff with jitter. Pure; the random source is passed
 * in so that tests and simulations replay exactly.
 */
import type { Random } from '../core/random.js';

/** How long to wait before reconnecting. */
export interface BackoffPolicy {
  /** Delay ceiling of the first retry, in milliseconds. */
  readonly baseMs: number;
  /** No delay exceeds this, in milliseconds. */
  readonly capMs: number;
}

/** 50 ms doubling to 2 s: well under Raft's election timeout for the first retries. */
export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 50, capMs: 2000 };

/**
 * The delay before retry number `attempt` (0 for the first): a ceiling of
 * min(cap, base·2^attempt), of which the upper half is drawn at random ("equal jitter"), so that
 * delays still grow while peers that lost a connection at the same instant spread out.
 */
export function backoffDelay(attempt: number, policy: BackoffPolicy, random: Random): number {
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** Math.min(attempt, 30));
  return ceiling / 2 + random.next() * (ceiling / 2);
}
