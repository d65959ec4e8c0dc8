import type { Cancel, Scheduler } from '../core/clock.js';
import {
  decideLease,
  observeLease,
  releasedRecord,
  type LeaseObservation,
  type LeaseRecord,
  type LeaseTimings,
} from './lease-decision.js';

/** A Lease as read, with the resourceVersion that guards the next write. */
export interface VersionedLease {
  record: LeaseRecord;
  resourceVersion: string;
}

/**
 * The storage of one Lease. Writes are optimistic: `create` fails with `conflict` if the Lease
 * exists, `update` if its resourceVersion moved. Other errors throw.
 */
export interface LeaseLock {
  /** For logs: namespace/name. */
  readonly description: string;
  get(): Promise<VersionedLease | undefined>;
  /** Returns what was stored (with its new resourceVersion), or 'conflict'. */
  create(record: LeaseRecord): Promise<VersionedLease | 'conflict'>;
  update(record: LeaseRecord, resourceVersion: string): Promise<VersionedLease | 'conflict'>;
}

/** Leadership as the rest of the process sees it. */
export type LeaderState = 'candidate' | 'leader' | 'stopped';

/** Options of a `LeaderElector`. */
export interface LeaderElectorOptions {
  identity: string;
  lock: LeaseLock;
  timings: LeaseTimings;
  scheduler: Scheduler;
  /** Called once, when this candidate becomes leader. */
  onStartedLeading: () => void;
  /**
   * Called once, when a leader could not renew within the renew deadline (or someone else
   * holds the lease now). The process should stop its controllers and exit: a former leader
   * must not keep writing.
   */
  onStoppedLeading: () => void;
  /** Told about every holder change this candidate observes ('' after a release). */
  onNewLeader?: (holder: string) => void;
  /** Errors of individual attempts (retried after the retry period). */
  onError?: (error: unknown) => void;
}

/**
 * Runs `decideLease` every retry period against the Lease: the thin loop around the pure core.
 * Only one attempt runs at a time; `release()` stops the loop and, if leading, hands the Lease
 * back (holder '') so that a standby takes over at its next attempt instead of waiting for
 * the lease to expire.
 */
export class LeaderElector {
  private readonly options: LeaderElectorOptions;
  private state: LeaderState = 'candidate';
  private observation: LeaseObservation | undefined;
  private versioned: VersionedLease | undefined;
  private lastRenewMs = 0;
  private lastHolder: string | undefined;
  private cancelTimer: Cancel | undefined;
  private attempt: Promise<void> | undefined;
  private running = false;
  /** Set by a 'wait' decision: try again right when the observed lease expires. */
  private retryInMs: number | undefined;

  constructor(options: LeaderElectorOptions) {
    this.options = options;
  }

  /** 'candidate' (standby or not yet decided), 'leader', or 'stopped'. */
  get leaderState(): LeaderState {
    return this.state;
  }

  /** The holder last observed ('' if released, undefined before the first read). */
  get holder(): string | undefined {
    return this.lastHolder;
  }

  /** Starts the loop (the first attempt runs at once). */
  start(): void {
    if (this.running || this.state === 'stopped') return;
    this.running = true;
    this.tick();
  }

  /** Stops the loop; if leading, releases the Lease. Idempotent. */
  async release(): Promise<void> {
    this.running = false;
    this.cancelTimer?.();
    await this.attempt;
    const wasLeader = this.state === 'leader';
    this.state = 'stopped';
    if (!wasLeader || this.versioned === undefined) return;
    const { record, resourceVersion } = this.versioned;
    if (record.holderIdentity !== this.options.identity) return;
    try {
      await this.options.lock.update(
        releasedRecord(record, this.options.scheduler.now()),
        resourceVersion,
      );
    } catch (error) {
      this.options.onError?.(error);
    }
  }

  private tick(): void {
    if (!this.running) return;
    this.retryInMs = undefined;
    this.attempt = this.tryOnce()
      .catch((error: unknown) => this.options.onError?.(error))
      .then(() => {
        this.checkDeadline();
        this.attempt = undefined;
        if (this.running)
          this.cancelTimer = this.options.scheduler.schedule(
            Math.min(this.options.timings.retryPeriodMs, this.retryInMs ?? Infinity),
            () => this.tick(),
          );
      });
  }

  private async tryOnce(): Promise<void> {
    const { lock, identity, scheduler, timings } = this.options;
    const current = await lock.get();
    const now = scheduler.now();
    this.versioned = current;
    this.observation = observeLease(this.observation, current?.record, now);
    this.noteHolder(current?.record.holderIdentity);
    if (!this.running) return;
    const decision = decideLease({ identity, nowMs: now, observation: this.observation, timings });
    if (decision.action === 'wait') {
      // Try again at expiry if that comes before the next retry: the takeover then happens
      // within leaseDuration of the last observed change, not leaseDuration + retryPeriod.
      this.retryInMs = Math.max(1, decision.expiresInMs);
      if (this.state === 'leader') this.lose();
      return;
    }
    const result =
      decision.action === 'create'
        ? await lock.create(decision.record)
        : await lock.update(decision.record, current?.resourceVersion ?? '');
    if (result === 'conflict') return;
    // The written record is the base of the next renewal and of the release.
    this.versioned = result;
    this.observation = observeLease(this.observation, result.record, now);
    this.lastRenewMs = now;
    this.noteHolder(identity);
    if (this.state === 'candidate' && this.running) {
      this.state = 'leader';
      this.options.onStartedLeading();
    }
  }

  /** A leader that has not renewed within the renew deadline steps down. */
  private checkDeadline(): void {
    if (this.state !== 'leader') return;
    if (this.options.scheduler.now() - this.lastRenewMs > this.options.timings.renewDeadlineMs)
      this.lose();
  }

  private lose(): void {
    this.state = 'stopped';
    this.running = false;
    this.cancelTimer?.();
    this.options.onStoppedLeading();
  }

  private noteHolder(holder: string | undefined): void {
    if (holder === undefined || holder === this.lastHolder) return;
    this.lastHolder = holder;
    this.options.onNewLeader?.(holder);
  }
}
