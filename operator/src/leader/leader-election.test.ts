import { describe, expect, it } from '@jest/globals';
import { ManualScheduler } from '../core/clock.js';
import {
  DEFAULT_LEASE_TIMINGS,
  decideLease,
  observeLease,
  releasedRecord,
  validateLeaseTimings,
  type LeaseRecord,
} from './lease-decision.js';
import { LeaderElector, type LeaseLock, type VersionedLease } from './leader-elector.js';

const timings = DEFAULT_LEASE_TIMINGS;
const held = (holder: string, at = 0): LeaseRecord => ({
  holderIdentity: holder,
  leaseDurationSeconds: 15,
  acquireTimeMs: at,
  renewTimeMs: at,
  leaseTransitions: 3,
});

describe('decideLease', () => {
  it('creates a missing lease', () => {
    const d = decideLease({ identity: 'a', nowMs: 5, observation: undefined, timings });
    expect(d).toEqual({
      action: 'create',
      record: {
        holderIdentity: 'a',
        leaseDurationSeconds: 15,
        acquireTimeMs: 5,
        renewTimeMs: 5,
        leaseTransitions: 0,
      },
    });
  });

  it('renews its own lease, keeping acquire time and transitions', () => {
    const observation = observeLease(undefined, held('a', 0), 0);
    const d = decideLease({ identity: 'a', nowMs: 2000, observation, timings });
    expect(d).toEqual({ action: 'renew', record: { ...held('a', 0), renewTimeMs: 2000 } });
  });

  it("waits while another's lease is unexpired on the local clock, then takes over", () => {
    const observation = observeLease(undefined, held('b', 1_000_000), 100);
    expect(decideLease({ identity: 'a', nowMs: 15_099, observation, timings })).toEqual({
      action: 'wait',
      holder: 'b',
      expiresInMs: 1,
    });
    const d = decideLease({ identity: 'a', nowMs: 15_100, observation, timings });
    expect(d.action).toBe('acquire');
    if (d.action === 'acquire') {
      expect(d.previousHolder).toBe('b');
      expect(d.record.holderIdentity).toBe('a');
      expect(d.record.leaseTransitions).toBe(4);
    }
  });

  it('never trusts the remote clock: an unchanged record keeps its first observation time', () => {
    const first = observeLease(undefined, held('b', 0), 100);
    const again = observeLease(first, held('b', 0), 9_000);
    expect(again?.observedAtMs).toBe(100);
    const renewed = observeLease(again, { ...held('b', 0), renewTimeMs: 2 }, 9_000);
    expect(renewed?.observedAtMs).toBe(9_000);
  });

  it('takes a released lease at once', () => {
    const observation = observeLease(undefined, releasedRecord(held('b'), 10), 10);
    expect(decideLease({ identity: 'a', nowMs: 11, observation, timings }).action).toBe('acquire');
  });

  it('validates timings', () => {
    expect(validateLeaseTimings(timings)).toBeUndefined();
    expect(validateLeaseTimings({ ...timings, renewDeadlineMs: 20_000 })).toMatch(/duration/);
    expect(validateLeaseTimings({ ...timings, retryPeriodMs: 9_000 })).toMatch(/1.2/);
  });
});

/** An in-memory Lease with resourceVersion checks: a fake of the `LeaseLock` port only. */
class MemoryLock implements LeaseLock {
  readonly description = 'test/lease';
  stored: VersionedLease | undefined;
  private version = 0;
  failing = false;

  async get(): Promise<VersionedLease | undefined> {
    if (this.failing) throw new Error('api down');
    return this.stored;
  }
  async create(record: LeaseRecord): Promise<VersionedLease | 'conflict'> {
    if (this.failing) throw new Error('api down');
    if (this.stored !== undefined) return 'conflict';
    this.stored = { record, resourceVersion: String(++this.version) };
    return this.stored;
  }
  async update(record: LeaseRecord, rv: string): Promise<VersionedLease | 'conflict'> {
    if (this.failing) throw new Error('api down');
    if (this.stored?.resourceVersion !== rv) return 'conflict';
    this.stored = { record, resourceVersion: String(++this.version) };
    return this.stored;
  }
}

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

async function advance(scheduler: ManualScheduler, ms: number, step = 500): Promise<void> {
  let t = 0;
  do {
    scheduler.advance(Math.min(step, ms - t));
    t += step;
    for (let i = 0; i < 5; i++) await flush();
  } while (t < ms);
}

function candidate(identity: string, lock: LeaseLock, scheduler: ManualScheduler) {
  const events: string[] = [];
  const elector = new LeaderElector({
    identity,
    lock,
    timings,
    scheduler,
    onStartedLeading: () => events.push('started'),
    onStoppedLeading: () => events.push('stopped'),
  });
  return { elector, events };
}

describe('LeaderElector', () => {
  it('one leader at a time; the standby takes over after the lease duration when renewals stop', async () => {
    const scheduler = new ManualScheduler(1_000);
    const lock = new MemoryLock();
    const a = candidate('a', lock, scheduler);
    const b = candidate('b', lock, scheduler);
    a.elector.start();
    await advance(scheduler, 0);
    b.elector.start();
    await advance(scheduler, 10_000);
    expect(a.elector.leaderState).toBe('leader');
    expect(b.elector.leaderState).toBe('candidate');
    expect(b.elector.holder).toBe('a');
    // 'a' dies without releasing: stop its loop the hard way (no release).
    (a.elector as unknown as { running: boolean }).running = false;
    // B takes over when its observation of A's last renewal expires — at that instant, not at
    // its next retry — so within leaseDuration + one retry period of the last renewal.
    const lastRenewal = lock.stored?.record.renewTimeMs ?? 0;
    await advance(scheduler, lastRenewal + 15_000 - scheduler.now() - 1, 100);
    expect(b.elector.leaderState).toBe('candidate');
    const observedAt = (b.elector as unknown as { observation: { observedAtMs: number } })
      .observation.observedAtMs;
    await advance(scheduler, 2_100, 100);
    expect(b.elector.leaderState).toBe('leader');
    // (The manual clock moves in 100 ms steps before the attempt reads it.)
    const acquiredAt = lock.stored?.record.acquireTimeMs ?? 0;
    expect(acquiredAt).toBeGreaterThanOrEqual(observedAt + 15_000);
    expect(acquiredAt).toBeLessThan(observedAt + 15_100);
    expect(observedAt + 15_000).toBeLessThanOrEqual(lastRenewal + 15_000 + 2_000);
    expect(b.events).toEqual(['started']);
    expect(lock.stored?.record.leaseTransitions).toBe(1);
  });

  it('release hands over at the standby’s next attempt', async () => {
    const scheduler = new ManualScheduler(0);
    const lock = new MemoryLock();
    const a = candidate('a', lock, scheduler);
    const b = candidate('b', lock, scheduler);
    a.elector.start();
    await advance(scheduler, 0);
    b.elector.start();
    await advance(scheduler, 4_000);
    await a.elector.release();
    expect(lock.stored?.record.holderIdentity).toBe('');
    await advance(scheduler, 2_000);
    expect(b.elector.leaderState).toBe('leader');
    expect(a.events).toEqual(['started']);
  });

  it('a leader that cannot renew within the renew deadline steps down', async () => {
    const scheduler = new ManualScheduler(0);
    const lock = new MemoryLock();
    const a = candidate('a', lock, scheduler);
    a.elector.start();
    await advance(scheduler, 0);
    expect(a.elector.leaderState).toBe('leader');
    lock.failing = true;
    await advance(scheduler, 10_000);
    expect(a.elector.leaderState).toBe('leader');
    await advance(scheduler, 2_000);
    expect(a.elector.leaderState).toBe('stopped');
    expect(a.events).toEqual(['started', 'stopped']);
  });
});
