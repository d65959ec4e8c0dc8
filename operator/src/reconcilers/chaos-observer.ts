/**
 * The I/O half of chaos observation: scrapes the sidecars' `/metrics` (`scrapeSidecars`) and
 * folds the scrapes of each run with the pure `foldScrape`. The memory is per experiment and
 * per run (keyed by startTime) and lives only in this process: after an operator restart the
 * next scrape is a new baseline, so guards and expectations look at increases from then on
 * (what was already met stays in status).
 */
import type { PodInfo } from '../compiler/types.js';
import type { Clock } from '../core/clock.js';
import {
  foldScrape,
  newRunHistory,
  observe,
  type ChaosObservation,
  type RunHistory,
} from './chaos-observation.js';
import type { RaftRoleSample, SidecarSample } from './sidecar-metrics.js';
import { scrapeSidecars, type SidecarMetricsReader } from './sidecar-scrape.js';

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

  /** One sample per pod that answered (a sidecar that is down is absent from this round). */
  private async scrape(
    pods: readonly PodInfo[],
    signal: AbortSignal,
  ): Promise<Map<string, SidecarSample>> {
    return (await scrapeSidecars(this.options.reader, pods, signal)).samples;
  }

  /** Drops the memory of an experiment that ended or was deleted. */
  forget(experiment: string): void {
    this.runs.delete(experiment);
  }
}
