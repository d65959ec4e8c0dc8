// @ts-check
/**
 * The demo's load driver: an open-loop request schedule (a fixed rate, whether or not earlier
 * requests have answered, as real users do) and the statistics of what came back. `Stats` and
 * `due` are pure; `runLoad` owns the timers.
 */

/** Most requests in flight at once; beyond it a tick's requests are counted as `dropped`. */
export const MAX_IN_FLIGHT = 256;

/**
 * Requests due by `elapsedMs` at `rate` per second, minus those already sent.
 * @param {number} rate
 * @param {number} elapsedMs
 * @param {number} sent
 */
export function due(rate, elapsedMs, sent) {
  return Math.max(0, Math.floor((elapsedMs * rate) / 1000) - sent);
}

/**
 * Nearest-rank percentile of sorted values; NaN when empty.
 * @param {number[]} sorted ascending
 * @param {number} p 0–100
 */
export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return /** @type {number} */ (sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]);
}

/** What one exchange produced. `status` 0: no response (connection error, timeout). */
/** @typedef {{ status: number, outcome: string, latencyMs: number }} Result */

export class Stats {
  constructor() {
    /** @type {Map<number, number>} */
    this.byStatus = new Map();
    /** @type {Map<string, number>} */
    this.byOutcome = new Map();
    /** @type {number[]} */
    this.latencies = [];
    this.dropped = 0;
  }

  /** @param {Result} result */
  record(result) {
    this.byStatus.set(result.status, (this.byStatus.get(result.status) ?? 0) + 1);
    this.byOutcome.set(result.outcome, (this.byOutcome.get(result.outcome) ?? 0) + 1);
    this.latencies.push(result.latencyMs);
  }

  get count() {
    return this.latencies.length;
  }

  /** @param {number} status */
  status(status) {
    return this.byStatus.get(status) ?? 0;
  }

  /** @param {string} outcome */
  outcome(outcome) {
    return this.byOutcome.get(outcome) ?? 0;
  }

  /** @param {number} elapsedMs */
  summary(elapsedMs) {
    const sorted = [...this.latencies].sort((a, b) => a - b);
    return {
      requests: this.count,
      perSecond: elapsedMs > 0 ? (this.count * 1000) / elapsedMs : 0,
      byStatus: Object.fromEntries([...this.byStatus].sort((a, b) => a[0] - b[0])),
      byOutcome: Object.fromEntries([...this.byOutcome].sort((a, b) => b[1] - a[1])),
      p50Ms: percentile(sorted, 50),
      p99Ms: percentile(sorted, 99),
      dropped: this.dropped,
    };
  }
}

/**
 * Sends `rate` requests per second for `durationMs` (or until `until()` is true), and waits for
 * the last answers. `onSecond` is called once a second with the stats of that second alone, for
 * live progress; `onResult` with every result.
 * @param {{
 *   rate: number,
 *   durationMs: number,
 *   send: (i: number) => Promise<Result>,
 *   onSecond?: (second: Stats, index: number) => void,
 *   onResult?: (result: Result, atMs: number) => void,
 *   until?: () => boolean,
 * }} options
 * @returns {Promise<{ stats: Stats, elapsedMs: number }>}
 */
export async function runLoad({ rate, durationMs, send, onSecond, onResult, until }) {
  const stats = new Stats();
  let second = new Stats();
  let secondIndex = 0;
  let sent = 0;
  let inFlight = 0;
  const started = performance.now();
  /** @type {Set<Promise<void>>} */
  const pending = new Set();
  await new Promise((resolve) => {
    const timer = setInterval(() => {
      const elapsed = performance.now() - started;
      if (elapsed >= (secondIndex + 1) * 1000) {
        onSecond?.(second, secondIndex);
        second = new Stats();
        secondIndex++;
      }
      if (elapsed >= durationMs || until?.()) {
        clearInterval(timer);
        resolve(undefined);
        return;
      }
      for (let n = due(rate, elapsed, sent); n > 0; n--) {
        const i = sent++;
        if (inFlight >= MAX_IN_FLIGHT) {
          stats.dropped++;
          continue;
        }
        inFlight++;
        const p = send(i)
          .catch((error) => ({
            status: 0,
            outcome: `error: ${error?.message ?? error}`,
            latencyMs: 0,
          }))
          .then((result) => {
            inFlight--;
            stats.record(result);
            second.record(result);
            onResult?.(result, performance.now() - started);
          });
        pending.add(p);
        void p.finally(() => pending.delete(p));
      }
    }, 5);
  });
  await Promise.all(pending);
  return { stats, elapsedMs: performance.now() - started };
}
