/**
 * What a running ChaosExperiment observes of the sidecars, as pure functions: a fold of
 * successive scrapes (parsed by `parseSidecarMetrics`) into totals since the run started and
 * over the `abortWhen` window. Counters that go down (a restarted sidecar) count from zero
 * again, as Prometheus' `increase` does.
 */
import { nonTerminalSagaInstances, type SidecarSample } from './sidecar-metrics.js';

/** One scrape round: every pod that answered, by pod name. */
export interface Scrape {
  at: number;
  pods: ReadonlyMap<string, SidecarSample>;
}

/** What the planner sees of a run so far (built by `foldScrape`/`observe`). */
export interface ChaosObservation {
  /** 5xx and all requests of the targeted sidecars over the `abortWhen` window. */
  errorRatio?: { errors: number; requests: number };
  /** Breakers open in the latest scrape, on any scraped sidecar. */
  openBreakers: ReadonlySet<string>;
  /** Breakers seen open at any scrape of this run, with the first time. */
  breakersOpenedAt: ReadonlyMap<string, number>;
  /** 429 answers since the run started, all scraped sidecars. */
  rateLimited: number;
  /** Largest non-terminal saga count in the latest scrape (each Raft member knows them all). */
  sagasNonTerminal?: number;
  /** Faults this experiment injected since the run started, by type, over its targets. */
  injected: Readonly<Record<string, number>>;
  /** Leases whose holder changed during the run, with the time of the first scrape that showed it. */
  leasesChangedAt: ReadonlyMap<string, number>;
}

/** Observation of a run nobody scraped yet. */
export const NOTHING_OBSERVED: ChaosObservation = {
  openBreakers: new Set(),
  breakersOpenedAt: new Map(),
  rateLimited: 0,
  injected: {},
  leasesChangedAt: new Map(),
};

/** The memory of one run between scrapes (held by the observer, lost on restart). */
export interface RunHistory {
  /** Last sample per pod, to turn counters into increments. */
  last: Map<string, SidecarSample>;
  /** Cumulative target errors/requests after each scrape, oldest first, trimmed to the window. */
  series: { at: number; errors: number; requests: number }[];
  totals: { errors: number; requests: number; rateLimited: number };
  injected: Record<string, number>;
  breakersOpenedAt: Map<string, number>;
  /**
   * Holder changes by lease at the run's first scrape that reached a target (max over the
   * targets), the baseline that later scrapes are compared with.
   */
  leaseBaseline?: ReadonlyMap<string, number>;
  leasesChangedAt: Map<string, number>;
  latest?: Scrape;
}

/** An empty history. */
export function newRunHistory(): RunHistory {
  return {
    last: new Map(),
    series: [],
    totals: { errors: 0, requests: 0, rateLimited: 0 },
    injected: {},
    breakersOpenedAt: new Map(),
    leasesChangedAt: new Map(),
  };
}

const increase = (now: number, before: number | undefined) =>
  before === undefined ? 0 : now >= before ? now - before : now;

/**
 * Adds one scrape to `history` (mutated): increments since each pod's previous sample (a
 * pod's first sample is its baseline), target-only errors and requests, this experiment's
 * injected faults. Keeps the series back to `windowMs` before the scrape.
 */
export function foldScrape(
  history: RunHistory,
  scrape: Scrape,
  options: { experiment: string; targets: ReadonlySet<string>; windowMs: number },
): void {
  for (const [pod, sample] of scrape.pods) {
    const before = history.last.get(pod);
    history.last.set(pod, sample);
    history.totals.rateLimited += increase(sample.rateLimited, before?.rateLimited);
    for (const breaker of sample.openBreakers)
      if (!history.breakersOpenedAt.has(breaker)) history.breakersOpenedAt.set(breaker, scrape.at);
    if (!options.targets.has(pod)) continue;
    history.totals.errors += increase(sample.errors, before?.errors);
    history.totals.requests += increase(sample.requests, before?.requests);
    const faults = sample.faults[options.experiment] ?? {};
    for (const [type, n] of Object.entries(faults)) {
      const previous =
        before === undefined ? undefined : (before.faults[options.experiment]?.[type] ?? 0);
      history.injected[type] = (history.injected[type] ?? 0) + increase(n, previous);
    }
  }
  foldLeaseChanges(history, scrape, options.targets);
  history.series.push({ at: scrape.at, ...history.totals });
  // Keep one point at or before the window start, so the window delta covers all of it.
  while (
    history.series.length > 1 &&
    (history.series[1] as { at: number }).at <= scrape.at - options.windowMs
  )
    history.series.shift();
  history.latest = scrape;
}

/**
 * Lease holder changes are compared as the max over the targets, not per pod: every Raft member
 * applies the same log and counts the same changes, while a member that restarts counts from
 * zero (or from its snapshot) and must neither hide nor fake a change. A lease counts as changed
 * at the first scrape whose max exceeds the run's baseline (the first scrape that reached a target).
 */
function foldLeaseChanges(history: RunHistory, scrape: Scrape, targets: ReadonlySet<string>): void {
  let max: Map<string, number> | undefined;
  for (const [pod, sample] of scrape.pods) {
    if (!targets.has(pod)) continue;
    max ??= new Map();
    for (const [lease, n] of sample.leaseHolderChanges)
      max.set(lease, Math.max(max.get(lease) ?? 0, n));
  }
  if (max === undefined) return;
  if (history.leaseBaseline === undefined) {
    history.leaseBaseline = max;
    return;
  }
  for (const [lease, n] of max)
    if (n > (history.leaseBaseline.get(lease) ?? 0) && !history.leasesChangedAt.has(lease))
      history.leasesChangedAt.set(lease, scrape.at);
}

/** The observation the planner reads from `history`. */
export function observe(history: RunHistory): ChaosObservation {
  const first = history.series[0];
  const last = history.series[history.series.length - 1];
  const openBreakers = new Set<string>();
  let sagas: number | undefined;
  for (const sample of history.latest?.pods.values() ?? []) {
    for (const b of sample.openBreakers) openBreakers.add(b);
    sagas = Math.max(sagas ?? 0, nonTerminalSagaInstances(sample));
  }
  return {
    ...(first === undefined || last === undefined
      ? {}
      : {
          errorRatio: {
            errors: last.errors - first.errors,
            requests: last.requests - first.requests,
          },
        }),
    openBreakers,
    breakersOpenedAt: new Map(history.breakersOpenedAt),
    rateLimited: history.totals.rateLimited,
    ...(sagas === undefined ? {} : { sagasNonTerminal: sagas }),
    injected: { ...history.injected },
    leasesChangedAt: new Map(history.leasesChangedAt),
  };
}
