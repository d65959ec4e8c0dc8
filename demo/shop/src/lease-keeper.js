// @ts-check
/**
 * Keeps one orders replica the holder of a lease through the sidecar's lease API
 * (docs/leases.md): every replica tries `acquire`; the holder `renew`s with its token; whoever
 * holds it is the shop's "leader" (shown on GET /leader). The decision part is pure: `next()`
 * says which call to make, `record()` takes its answer; the loop in `runLeaseKeeper` does I/O.
 */

/** @typedef {{ status: number, body: any }} Reply */

/** Clock drift a holder allows for (docs/leases.md). */
export const DRIFT = 0.01;

export class LeaseKeeper {
  /**
   * @param {{ holder: string, ttlMs: number, now: () => number }} options
   */
  constructor(options) {
    this.holder = options.holder;
    this.ttlMs = options.ttlMs;
    this.now = options.now;
    /** @type {number | null} fencing token while held */
    this.token = null;
    /** Monotonic time until which holding is safe (counted from when the request was sent). */
    this.safeUntil = 0;
  }

  /** Whether this replica may act as the holder now. */
  get holding() {
    return this.token !== null && this.now() < this.safeUntil;
  }

  /** The next call: renew while held, acquire otherwise. */
  next() {
    if (this.token !== null && !this.holding) this.token = null; // expired without a renewal
    return this.token === null
      ? { op: 'acquire', body: { holder: this.holder, ttl: this.ttlMs } }
      : { op: 'renew', body: { holder: this.holder, token: this.token } };
  }

  /**
   * @param {number} sentAt monotonic time the call was sent
   * @param {Reply | null} reply null: no answer (the token is kept until it expires)
   */
  record(sentAt, reply) {
    if (reply === null) return;
    if (reply.status === 200 && typeof reply.body?.token === 'number') {
      this.token = reply.body.token;
      // validForMs counts from the moment the request was sent, shrunk by the 1 % clock-drift
      // margin (docs/leases.md, "Holding a lease safely").
      const validFor =
        typeof reply.body.validForMs === 'number' ? reply.body.validForMs : this.ttlMs;
      this.safeUntil = sentAt + (validFor * (1 - DRIFT)) / (1 + DRIFT);
    } else if (reply.status === 409) {
      this.token = null;
    }
  }
}

/**
 * Runs the keeper until `signal` aborts: one call every `intervalMs` (a third of the TTL keeps
 * two renewals inside every grant).
 * @param {{ keeper: LeaseKeeper, call: (op: string, body: unknown) => Promise<Reply>, intervalMs: number, signal: AbortSignal, log: (line: string) => void }} options
 */
export async function runLeaseKeeper({ keeper, call, intervalMs, signal, log }) {
  const { setTimeout: sleep } = await import('node:timers/promises');
  let wasHolding = false;
  let lastError = '';
  while (!signal.aborted) {
    const { op, body } = keeper.next();
    const sentAt = keeper.now();
    let reply = null;
    try {
      reply = await call(op, body);
      lastError = '';
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (message !== lastError) log(`lease ${op} failed: ${message}`);
      lastError = message;
    }
    keeper.record(sentAt, reply);
    if (keeper.holding !== wasHolding) {
      wasHolding = keeper.holding;
      log(
        wasHolding ? `now the lease holder (token ${keeper.token})` : 'no longer the lease holder',
      );
    }
    await sleep(intervalMs, undefined, { signal }).catch(() => undefined);
  }
}
