/**
 * The I/O half of Saga status: scrapes the metrics of a Saga's Raft voters (`scrapeSidecars`,
 * a timeout per pod) and reads the counts with the pure `readSagaInstanceCounts`. A round that
 * yields no counts is reported with its reason, rate-limited per Saga, and the caller keeps the
 * counts it had: an unreachable sidecar says nothing about the instances.
 */
import type { PodInfo } from '../compiler/types.js';
import type { Clock } from '../core/clock.js';
import { readSagaInstanceCounts, type SagaCountsReading } from './saga-instances.js';
import { scrapeSidecars, type SidecarMetricsReader } from './sidecar-scrape.js';

/** A round that gave no counts, and how loudly to say so. */
export interface SagaScrapeFailure {
  /** `namespace/name`. */
  saga: string;
  reason: string;
  /**
   * `warn` for the first failure of a Saga, a different reason, or once per `warnEveryMs` while
   * the same reason lasts; `debug` for the rounds in between.
   */
  level: 'warn' | 'debug';
}

/** Options of `SagaInstancesObserver`. */
export interface SagaInstancesObserverOptions {
  reader: SidecarMetricsReader;
  clock: Clock;
  /** Told about each round that gave no counts. */
  onFailure?: (failure: SagaScrapeFailure) => void;
  /** Least time between two `warn` reports of the same reason for one Saga. Default 60 s. */
  warnEveryMs?: number;
}

/** Reads Saga instance counts from the sidecars; remembers only what it last warned about. */
export class SagaInstancesObserver {
  private readonly warned = new Map<string, { reason: string; at: number }>();

  constructor(private readonly options: SagaInstancesObserverOptions) {}

  /**
   * The counts of `saga` as the most up-to-date of `targets` reports them, or undefined (the
   * reason reported) when none of them answered with a usable sample.
   */
  async read(
    saga: string,
    targets: readonly PodInfo[],
    signal: AbortSignal,
  ): Promise<SagaCountsReading | undefined> {
    const scrape = await scrapeSidecars(this.options.reader, targets, signal);
    const reading = readSagaInstanceCounts(saga, scrape.samples);
    if (reading !== undefined) {
      this.warned.delete(saga);
      return reading;
    }
    const reasons = [
      ...[...scrape.failures].map(([pod, reason]) => `${pod}: ${reason}`),
      ...[...scrape.samples.keys()].map(
        (pod) =>
          `${pod}: no palisade_raft_applied_index or invalid saga counts (Raft not running?)`,
      ),
    ];
    this.report(
      saga,
      reasons.length === 0
        ? 'no ready voter of its Raft group has an IP yet'
        : reasons.sort().join('; '),
    );
    return undefined;
  }

  /** Drops what is remembered of a deleted Saga. */
  forget(saga: string): void {
    this.warned.delete(saga);
  }

  private report(saga: string, reason: string): void {
    const now = this.options.clock.now();
    const last = this.warned.get(saga);
    const warn =
      last === undefined ||
      last.reason !== reason ||
      now - last.at >= (this.options.warnEveryMs ?? 60_000);
    if (warn) this.warned.set(saga, { reason, at: now });
    this.options.onFailure?.({ saga, reason, level: warn ? 'warn' : 'debug' });
  }
}
