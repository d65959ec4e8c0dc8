/**
 * Checks a recorded lease history (invocation and response times on one monotonic clock) for the
 * two promises of the lease API:
 *
 * 1. Mutual exclusion in real time: a client that got `granted` (acquire or renew) for token T acts
 *    on the lease from the response until `invokedAt + safeHoldMs(validForMs)`, or until it
 *    invokes a release of T, whichever is first. Hold intervals of different clients on one name
 *    must never overlap.
 * 2. Fencing tokens: one token belongs to one client; and if a grant's response came before
 *    another acquire was invoked, the later grant has a strictly larger token.
 *
 * Operations without an answer (timeouts, 503) grant nothing: the client never acts on them.
 */
import { DEFAULT_MAX_DRIFT, safeHoldMs } from '../../leases/index.js';
import type { LeaseHistoryEvent } from './lease-client.js';

/** One interval during which a client acted on a lease. */
export interface HoldInterval {
  readonly client: string;
  readonly name: string;
  readonly token: number;
  readonly from: number;
  readonly to: number;
}

/** The checker's findings. */
export interface HistoryReport {
  readonly violations: string[];
  readonly holds: HoldInterval[];
  readonly grants: number;
}

/** Checks a history; `maxDrift` is the clock-rate bound ρ holders assume. */
export function checkLeaseHistory(
  events: readonly LeaseHistoryEvent[],
  maxDrift = DEFAULT_MAX_DRIFT,
): HistoryReport {
  const violations: string[] = [];
  const holds: HoldInterval[] = [];
  const releases = new Map<string, number>(); // name|client|token → earliest release invocation
  for (const e of events) {
    if (e.op !== 'release' || e.token === undefined) continue;
    const key = `${e.name}|${e.client}|${e.token}`;
    releases.set(key, Math.min(releases.get(key) ?? Infinity, e.invokedAt));
  }
  const granted = events.filter((e) => e.outcome === 'granted' && e.token !== undefined);
  const owner = new Map<string, string>(); // name|token → client
  for (const e of granted) {
    const token = e.token as number;
    const key = `${e.name}|${token}`;
    const previous = owner.get(key);
    if (previous !== undefined && previous !== e.client) {
      violations.push(`${e.name}: token ${token} granted to both ${previous} and ${e.client}`);
    }
    owner.set(key, e.client);
    const released = releases.get(`${e.name}|${e.client}|${token}`) ?? Infinity;
    const to = Math.min(e.invokedAt + safeHoldMs(e.validForMs ?? 0, maxDrift), released);
    if (to > e.completedAt) {
      holds.push({ client: e.client, name: e.name, token, from: e.completedAt, to });
    }
  }
  const byName = new Map<string, HoldInterval[]>();
  for (const hold of holds) {
    const list = byName.get(hold.name) ?? [];
    list.push(hold);
    byName.set(hold.name, list);
  }
  for (const [name, list] of byName) {
    list.sort((a, b) => a.from - b.from);
    // Sweep: compare each interval with every earlier one of another client that is still open.
    const open: HoldInterval[] = [];
    for (const hold of list) {
      for (let i = open.length - 1; i >= 0; i--) {
        if ((open[i] as HoldInterval).to <= hold.from) open.splice(i, 1);
      }
      for (const other of open) {
        if (other.client !== hold.client) {
          violations.push(
            `${name}: ${other.client} (token ${other.token}) held [${other.from.toFixed(1)}, ` +
              `${other.to.toFixed(1)}] overlapping ${hold.client} (token ${hold.token}) from ` +
              `${hold.from.toFixed(1)}`,
          );
        }
      }
      open.push(hold);
    }
  }
  const acquires = granted.filter((e) => e.op === 'acquire');
  for (const name of new Set(acquires.map((e) => e.name))) {
    const list = acquires
      .filter((e) => e.name === name)
      .sort((a, b) => a.completedAt - b.completedAt);
    for (let i = 0; i < list.length; i++) {
      const earlier = list[i] as LeaseHistoryEvent;
      for (let j = 0; j < list.length; j++) {
        const later = list[j] as LeaseHistoryEvent;
        if (
          earlier.completedAt < later.invokedAt &&
          (later.token as number) <= (earlier.token as number)
        ) {
          violations.push(
            `${name}: token ${later.token} granted to ${later.client} after token ` +
              `${earlier.token} was granted to ${earlier.client}: not strictly increasing`,
          );
        }
      }
    }
  }
  return { violations, holds, grants: granted.length };
}
