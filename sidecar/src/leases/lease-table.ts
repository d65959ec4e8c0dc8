/**
 * The lease state machine: pure and deterministic, fed with committed log entries in order, so
 * every replica computes the same table and the same results.
 *
 * Time. A command's only notion of "now" is its stamp: the monotonic clock reading of the leader
 * that proposed it. Stamps of different terms come from different clocks and are never compared.
 * When the first command of a new term is applied, every lease that was not provably expired
 * under the old clock is re-armed for its full TTL from that first stamp of the new clock. A new
 * leader thus waits out every lease it inherits, whatever the clocks' offsets.
 *
 * Why two holders never overlap (see docs/decisions/0004-raft-core.md for the full argument):
 * assume every monotonic clock runs at a rate within [1−ρ, 1+ρ] of real time. A holder that sent
 * its request at real time t0 stops using the lease after {@link safeHoldMs}(validForMs) of its
 * own clock, i.e. by real time t0 + validForMs/(1+ρ). Another grant needs a stamp at least ttl after the grant's
 * stamp (same term; validForMs ≤ ttl), or ttl after a new term's first stamp, which is taken
 * after the grant's stamp in real time; either way the new grant comes at real time
 * ≥ t0 + validForMs/(1+ρ).
 */
import {
  validateLeaseCommand,
  type AcquireCommand,
  type ReleaseCommand,
  type RenewCommand,
  type StampedLeaseCommand,
} from './commands.js';
import type { LeaseErrorCode } from './errors.js';

/** The default bound ρ on the rate error of monotonic clocks (1%: NTP slews by ≤ 0.05%). */
export const DEFAULT_MAX_DRIFT = 0.01;

/**
 * How long a holder may act on a lease, on its own monotonic clock, measured from the moment it
 * SENT the acquire or renew request: validForMs·(1−ρ)/(1+ρ), where validForMs comes with the
 * grant. Beyond that, only the fencing token protects the resource.
 */
export function safeHoldMs(validForMs: number, maxDrift = DEFAULT_MAX_DRIFT): number {
  return (validForMs * (1 - maxDrift)) / (1 + maxDrift);
}

/** A lease as the table holds it. `expiresAt` is on the clock of the term `clockTerm`. */
export interface Lease {
  readonly name: string;
  readonly holder: string;
  /** Fencing token: the Raft index of the entry that granted it. */
  readonly token: number;
  readonly ttlMs: number;
  readonly expiresAt: number;
}

/**
 * Acquire or renew succeeded. `expiresAt` is on the granting leader's clock; `validForMs` =
 * `expiresAt` − the command's stamp, the only figure a holder can use: it may act on the lease for
 * `safeHoldMs(validForMs)` from the moment it sent the request (never its requested TTL, which a
 * stale duplicate of an older acquire may have changed).
 */
export interface LeaseGranted {
  readonly outcome: 'granted';
  readonly granted: true;
  readonly token: number;
  readonly expiresAt: number;
  readonly validForMs: number;
  /**
   * Set when this grant changed the lease's holder: the holder of the name's previous grant
   * (expired or released since). Absent for the first grant of a name, a renewal, and a
   * re-acquire by the same holder. Every replica applies the same log, so every replica sees the
   * same changes (the sidecar counts them as `palisade_lease_holder_changes_total`).
   */
  readonly previousHolder?: string;
}

/** Acquire refused: someone else holds the lease until `expiresAt` (leader clock), `validForMs` from now. */
export interface LeaseHeld {
  readonly outcome: 'held';
  readonly granted: false;
  readonly holder: string;
  readonly expiresAt: number;
  readonly validForMs: number;
}

/** Release succeeded. */
export interface LeaseReleased {
  readonly outcome: 'released';
  readonly released: true;
}

/** Renew or release with a token that is not the current grant's, or a malformed command. */
export interface LeaseRefused {
  readonly outcome: 'refused';
  readonly granted: false;
  readonly code: LeaseErrorCode;
  readonly message: string;
}

/** The answer to one command, identical on every replica. */
export type LeaseResult = LeaseGranted | LeaseHeld | LeaseReleased | LeaseRefused;

/**
 * How many lease names the table remembers the last holder of (after their lease expired or was
 * released), to tell a change of holder from a re-acquire. Names are user input: beyond this the
 * least recently acquired name is forgotten, and its next grant is not counted as a change.
 */
export const MAX_REMEMBERED_HOLDERS = 10_000;

/** Where the command sits in the log: its index becomes the token of a grant. */
export interface LogPosition {
  readonly index: number;
  readonly term: number;
}

interface MutableLease {
  name: string;
  holder: string;
  token: number;
  ttlMs: number;
  expiresAt: number;
}

interface TableState {
  readonly clockTerm: number;
  readonly maxStamp: number;
  readonly appliedIndex: number;
  readonly leases: Lease[];
  /** [name, last holder], least recently acquired first (absent in older snapshots). */
  readonly lastHolders?: [string, string][];
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The replicated lease table. */
export class LeaseTable {
  private readonly leases = new Map<string, MutableLease>();
  /** The term whose leader's clock `expiresAt` values are measured on. */
  private clockTerm = 0;
  /** Largest stamp seen from that clock. */
  private maxStamp = Number.NEGATIVE_INFINITY;
  private appliedIndex = 0;
  /** Holder of each name's latest acquire, least recently acquired first (bounded, see above). */
  private readonly lastHolders = new Map<string, string>();
  /**
   * The eviction cursor: a live iterator over `lastHolders`, advanced only to evict. Everything
   * behind it was evicted and every re-acquired name moves behind the map's end, so it always
   * yields the least recently acquired name. `lastHolders.keys().next()` would find the same one,
   * but by scanning the deleted slots V8 keeps at the front of the map until it rehashes: 18 µs
   * per evicting grant at 10,000 names, half of a follower's CPU per lease op at peak.
   */
  private oldestHolders: Iterator<string> | undefined;

  /** Index of the last lease command applied (0 for none). */
  get lastAppliedIndex(): number {
    return this.appliedIndex;
  }

  /**
   * Applies one committed command. Entries must come in log order; `position.term` is the term of
   * the entry (not the node's current term).
   */
  apply(position: LogPosition, stamped: StampedLeaseCommand): LeaseResult {
    if (position.index <= this.appliedIndex) {
      throw new RangeError(`lease entry ${position.index} applied twice (at ${this.appliedIndex})`);
    }
    if (position.term < this.clockTerm) {
      throw new RangeError(`entry term ${position.term} older than clock term ${this.clockTerm}`);
    }
    this.appliedIndex = position.index;
    const now = stamped.stamp;
    if (position.term > this.clockTerm) this.switchClock(position.term, now);
    else this.maxStamp = Math.max(this.maxStamp, now);

    const command = stamped.command;
    const invalid = validateLeaseCommand(command);
    if (invalid !== undefined) return refused('PALISADE_LEASE_INVALID', invalid);
    switch (command.op) {
      case 'acquire':
        return this.acquire(position.index, now, command);
      case 'renew':
        return this.renew(now, command);
      case 'release':
        return this.release(now, command);
    }
  }

  /**
   * A new leader's clock takes over: leases provably expired on the old clock go, every other one
   * is held for its full TTL from the new clock's first stamp.
   */
  private switchClock(term: number, firstStamp: number): void {
    for (const [name, lease] of this.leases) {
      if (lease.expiresAt <= this.maxStamp) this.leases.delete(name);
      else lease.expiresAt = firstStamp + lease.ttlMs;
    }
    this.clockTerm = term;
    this.maxStamp = firstStamp;
  }

  /** The lease if it is still live at `now` (same clock); expired ones are dropped. */
  private live(name: string, now: number): MutableLease | undefined {
    const lease = this.leases.get(name);
    if (lease && lease.expiresAt <= now) {
      this.leases.delete(name);
      return undefined;
    }
    return lease;
  }

  private acquire(index: number, now: number, command: AcquireCommand): LeaseResult {
    const lease = this.live(command.name, now);
    if (lease === undefined) {
      const fresh: MutableLease = {
        name: command.name,
        holder: command.holder,
        token: index,
        ttlMs: command.ttlMs,
        expiresAt: now + command.ttlMs,
      };
      this.leases.set(command.name, fresh);
      const previousHolder = this.rememberHolder(command.name, command.holder);
      return previousHolder === undefined
        ? granted(fresh, now)
        : { ...granted(fresh, now), previousHolder };
    }
    if (lease.holder === command.holder) {
      // The holder acquires again (a retry, or a new use after a release still in flight): a new
      // grant with a new token, so that a stale release or renew of the previous grant, delayed
      // in the network, cannot end this one. Expiry and TTL never shrink: a new term re-arms
      // leases with ttlMs, which must cover every validity already promised to the holder.
      lease.token = index;
      this.rememberHolder(command.name, command.holder);
      lease.ttlMs = Math.max(lease.ttlMs, command.ttlMs);
      lease.expiresAt = Math.max(lease.expiresAt, now + command.ttlMs);
      return granted(lease, now);
    }
    return {
      outcome: 'held',
      granted: false,
      holder: lease.holder,
      expiresAt: lease.expiresAt,
      validForMs: lease.expiresAt - now,
    };
  }

  /**
   * Records `holder` as the name's latest, and returns the one before it if it differs. Map order
   * is acquire order, so the eviction beyond the bound is the same on every replica.
   */
  private rememberHolder(name: string, holder: string): string | undefined {
    const before = this.lastHolders.get(name);
    this.lastHolders.delete(name);
    this.lastHolders.set(name, holder);
    if (this.lastHolders.size > MAX_REMEMBERED_HOLDERS) {
      this.oldestHolders ??= this.lastHolders.keys();
      this.lastHolders.delete(this.oldestHolders.next().value as string);
    }
    return before !== undefined && before !== holder ? before : undefined;
  }

  private renew(now: number, command: RenewCommand): LeaseResult {
    const lease = this.live(command.name, now);
    if (!lease || lease.holder !== command.holder || lease.token !== command.token) {
      return stale(command, lease);
    }
    lease.expiresAt = Math.max(lease.expiresAt, now + lease.ttlMs);
    return granted(lease, now);
  }

  private release(now: number, command: ReleaseCommand): LeaseResult {
    const lease = this.live(command.name, now);
    if (!lease || lease.holder !== command.holder || lease.token !== command.token) {
      return stale(command, lease);
    }
    this.leases.delete(command.name);
    return { outcome: 'released', released: true };
  }

  /**
   * The lease `name` as seen by a leader of term `term` whose clock reads `now`: on that leader's
   * own clock, `expiresAt` is exact; if the table still runs on an older term's clock, the lease
   * counts as held for its full TTL from `now` (an upper bound, as the next command will make it).
   */
  view(name: string, term: number, now: number): Lease | undefined {
    const lease = this.leases.get(name);
    if (!lease) return undefined;
    if (term === this.clockTerm) return lease.expiresAt > now ? { ...lease } : undefined;
    if (lease.expiresAt <= this.maxStamp) return undefined;
    return { ...lease, expiresAt: now + lease.ttlMs };
  }

  /** Every lease in the table (expired ones included until a command drops them), by name. */
  list(): Lease[] {
    return [...this.leases.values()]
      .map((lease) => ({ ...lease }))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** Serializes the table for a Raft snapshot. Equal tables give equal bytes. */
  snapshot(): Uint8Array {
    const state: TableState = {
      clockTerm: this.clockTerm,
      maxStamp: this.maxStamp,
      appliedIndex: this.appliedIndex,
      leases: this.list(),
      lastHolders: [...this.lastHolders],
    };
    return encoder.encode(JSON.stringify(state));
  }

  /** Rebuilds a table from {@link snapshot} bytes (empty bytes: an empty table). */
  static restore(data: Uint8Array): LeaseTable {
    const table = new LeaseTable();
    if (data.byteLength === 0) return table;
    const state = JSON.parse(decoder.decode(data)) as TableState;
    table.clockTerm = state.clockTerm;
    // JSON has no -Infinity: an empty clock serializes as null.
    table.maxStamp = typeof state.maxStamp === 'number' ? state.maxStamp : Number.NEGATIVE_INFINITY;
    table.appliedIndex = state.appliedIndex;
    for (const lease of state.leases) table.leases.set(lease.name, { ...lease });
    // A snapshot from before holders were remembered: the live leases' holders are the latest.
    const lastHolders = state.lastHolders ?? state.leases.map((l) => [l.name, l.holder] as const);
    for (const [name, holder] of lastHolders) table.lastHolders.set(name, holder);
    return table;
  }
}

function granted(lease: MutableLease, now: number): LeaseGranted {
  return {
    outcome: 'granted',
    granted: true,
    token: lease.token,
    expiresAt: lease.expiresAt,
    validForMs: lease.expiresAt - now,
  };
}

function refused(code: LeaseErrorCode, message: string): LeaseRefused {
  return { outcome: 'refused', granted: false, code, message };
}

function stale(
  command: RenewCommand | ReleaseCommand,
  lease: MutableLease | undefined,
): LeaseRefused {
  const why = lease
    ? `${command.name} is held under token ${lease.token}`
    : `${command.name} is not held (expired or released)`;
  return refused('PALISADE_LEASE_STALE_TOKEN', `${command.op} with token ${command.token}: ${why}`);
}
