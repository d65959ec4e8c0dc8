/**
 * The I/O half of chaos observation: scrapes the sidecars' `/metrics` over their probe
 * listener (pod IP, port 15020 by default) and folds the scrapes of each run with the pure
 * `foldScrape`. The memory is per experiment and per run (keyed by startTime) and lives only
 * in this process: after an operator restart the next scrape is a new baseline, so guards and
 * expectations look at increases from then on (what was already met stays in status).
 */
import type { PodInfo } from '../compiler/types.js';
import type { Clock } from '../core/clock.js';
import {
  foldScrape,
  newRunHistory,
  observe,
  parseSidecarMetrics,
  type ChaosObservation,
  type RaftRoleSample,
  type RunHistory,
  type SidecarSample,
} from './chaos-observation.js';

/** Reads one sidecar's Prometheus text; rejects when the sidecar does not answer. */
export interface SidecarMetricsReader {
  read(pod: PodInfo, signal: AbortSignal): Promise<string>;
}

/** Port of the sidecar's probe listener (`--probe-port`, default 15020). */
export const DEFAULT_SIDECAR_PROBE_PORT = 15020;

/** Largest /metrics body read (a sidecar exposes a few hundred series). */
const MAX_METRICS_BYTES = 4 * 1024 * 1024;

/** `GET http://<podIP>:<port>/metrics` with a timeout. */
export function httpMetricsReader(options: {
  port?: number | ((pod: PodInfo) => number);
  timeoutMs?: number;
}): SidecarMetricsReader {
  const portOf = options.port ?? DEFAULT_SIDECAR_PROBE_PORT;
  const timeoutMs = options.timeoutMs ?? 1000;
  return {
    async read(pod, signal) {
      if (pod.podIP === undefined) throw new Error(`pod ${pod.name} has no IP yet`);
      const port = typeof portOf === 'number' ? portOf : portOf(pod);
      const response = await fetch(`http://${pod.podIP}:${port}/metrics`, {
        signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]),
      });
      if (!response.ok) throw new Error(`GET /metrics of ${pod.name}: HTTP ${response.status}`);
      const text = await response.text();
      if (text.length > MAX_METRICS_BYTES) throw new Error(`/metrics of ${pod.name} too large`);
      return text;
    },
  };
}

/** What one run is: the observer's memory restarts when any of these change. */
export interface RunIdentity {
  /** namespace/name of the experiment (the faults' `experiment` label). */
  experiment: string;
  startTime: string;
  targets: readonly string[];
  /** abortWhen.window in ms (0 without an error-ratio guard). */
  windowMs: number;
}

/** Options of `ChaosObserver`. */
export interface ChaosObserverOptions {
  reader: SidecarMetricsReader;
  clock: Clock;
}

/** Scrapes and remembers, per running experiment. */
export class ChaosObserver {
  private readonly runs = new Map<string, { startTime: string; history: RunHistory }>();

  constructor(private readonly options: ChaosObserverOptions) {}

  /**
   * Scrapes `pods` (the namespace's sidecars; those that do not answer are left out of this
   * round) and returns the run's observation so far.
   */
  async observe(
    run: RunIdentity,
    pods: readonly PodInfo[],
    signal: AbortSignal,
  ): Promise<ChaosObservation> {
    let entry = this.runs.get(run.experiment);
    if (entry === undefined || entry.startTime !== run.startTime) {
      entry = { startTime: run.startTime, history: newRunHistory() };
      this.runs.set(run.experiment, entry);
    }
    const samples = await this.scrape(pods, signal);
    foldScrape(
      entry.history,
      { at: this.options.clock.now(), pods: samples },
      { experiment: run.experiment, targets: new Set(run.targets), windowMs: run.windowMs },
    );
    return observe(entry.history);
  }

  /**
   * The Raft role and term each of `pods` reports now, by pod name (podKill with
   * `target: raftLeader`); pods that do not answer or run no Raft are absent. Not part of a
   * run's memory: a leader is only worth what the latest scrape says.
   */
  async raftRoles(
    pods: readonly PodInfo[],
    signal: AbortSignal,
  ): Promise<Map<string, RaftRoleSample>> {
    const roles = new Map<string, RaftRoleSample>();
    for (const [pod, sample] of await this.scrape(pods, signal))
      if (sample.raft !== undefined) roles.set(pod, sample.raft);
    return roles;
  }

  /** One sample per pod that answered. */
  private async scrape(
    pods: readonly PodInfo[],
    signal: AbortSignal,
  ): Promise<Map<string, SidecarSample>> {
    const samples = await Promise.all(
      pods.map(async (pod): Promise<[string, SidecarSample] | undefined> => {
        try {
          return [pod.name, parseSidecarMetrics(await this.options.reader.read(pod, signal))];
        } catch {
          // A sidecar that is down (podKill, restart) is simply absent from this round.
          return undefined;
        }
      }),
    );
    signal.throwIfAborted();
    return new Map(samples.filter((s): s is [string, SidecarSample] => s !== undefined));
  }

  /** Drops the memory of an experiment that ended or was deleted. */
  forget(experiment: string): void {
    this.runs.delete(experiment);
  }
}
