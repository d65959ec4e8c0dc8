/**
 * Leader election on a `coordination.k8s.io/v1` Lease, the pure part: given what this
 * candidate last read and when, decide whether to create, renew, take over or wait. Same
 * rules as client-go's leaderelection: a non-holder never trusts the holder's clock — it
 * considers a lease expired only when the record has not changed for `leaseDuration` on its
 * own clock since it first saw that record.
 */

/** The fields of a Lease's spec that election reads and writes (times in epoch ms). */
export interface LeaseRecord {
  /** '' after a graceful release: anyone may take it at once. */
  holderIdentity: string;
  leaseDurationSeconds: number;
  acquireTimeMs: number;
  renewTimeMs: number;
  leaseTransitions: number;
}

/** Timings, ms. Defaults are controller-runtime's: 15 s / 10 s / 2 s. */
export interface LeaseTimings {
  /** How long a non-holder waits after the last observed change before taking over. */
  leaseDurationMs: number;
  /** How long the holder keeps leading without a successful renewal. */
  renewDeadlineMs: number;
  /** Pause between attempts (acquire or renew). */
  retryPeriodMs: number;
}

/** controller-runtime's defaults. */
export const DEFAULT_LEASE_TIMINGS: LeaseTimings = {
  leaseDurationMs: 15_000,
  renewDeadlineMs: 10_000,
  retryPeriodMs: 2_000,
};

/** Checks the invariants client-go enforces: duration > deadline > retry × 1.2, all > 0. */
export function validateLeaseTimings(t: LeaseTimings): string | undefined {
  if (!(t.retryPeriodMs > 0)) return 'retry period must be > 0';
  if (!(t.renewDeadlineMs > t.retryPeriodMs * 1.2))
    return 'renew deadline must exceed 1.2 × retry period';
  if (!(t.leaseDurationMs > t.renewDeadlineMs)) return 'lease duration must exceed renew deadline';
  return undefined;
}

/** What a candidate remembers of the last record it read: the record and when it changed. */
export interface LeaseObservation {
  record: LeaseRecord;
  /** Local time at which this exact record was first seen. */
  observedAtMs: number;
}

/** Updates the observation with a fresh read; the time moves only when the record changed. */
export function observeLease(
  previous: LeaseObservation | undefined,
  record: LeaseRecord | undefined,
  nowMs: number,
): LeaseObservation | undefined {
  if (record === undefined) return undefined;
  if (previous !== undefined && sameRecord(previous.record, record)) return previous;
  return { record, observedAtMs: nowMs };
}

/** The outcome of one attempt. */
export type LeaseDecision =
  | { action: 'create'; record: LeaseRecord }
  | { action: 'renew'; record: LeaseRecord }
  | { action: 'acquire'; record: LeaseRecord; previousHolder: string }
  | { action: 'wait'; holder: string; expiresInMs: number };

/**
 * Decides one attempt of `identity` at `nowMs`, from the observation made just now (undefined:
 * no Lease exists). Writes are then done with optimistic concurrency: a conflict means someone
 * else wrote first, and the next attempt decides again from a fresh read.
 */
export function decideLease(input: {
  identity: string;
  nowMs: number;
  observation: LeaseObservation | undefined;
  timings: LeaseTimings;
}): LeaseDecision {
  const { identity, nowMs, observation, timings } = input;
  const durationSeconds = Math.ceil(timings.leaseDurationMs / 1000);
  if (observation === undefined) {
    return {
      action: 'create',
      record: {
        holderIdentity: identity,
        leaseDurationSeconds: durationSeconds,
        acquireTimeMs: nowMs,
        renewTimeMs: nowMs,
        leaseTransitions: 0,
      },
    };
  }
  const record = observation.record;
  if (record.holderIdentity === identity) {
    return { action: 'renew', record: { ...record, renewTimeMs: nowMs } };
  }
  const expiresAt = observation.observedAtMs + record.leaseDurationSeconds * 1000;
  if (record.holderIdentity !== '' && nowMs < expiresAt) {
    return { action: 'wait', holder: record.holderIdentity, expiresInMs: expiresAt - nowMs };
  }
  return {
    action: 'acquire',
    previousHolder: record.holderIdentity,
    record: {
      holderIdentity: identity,
      leaseDurationSeconds: durationSeconds,
      acquireTimeMs: nowMs,
      renewTimeMs: nowMs,
      leaseTransitions: record.leaseTransitions + 1,
    },
  };
}

/** The record written on graceful release: no holder, 1 s duration (client-go does the same). */
export function releasedRecord(record: LeaseRecord, nowMs: number): LeaseRecord {
  return { ...record, holderIdentity: '', leaseDurationSeconds: 1, renewTimeMs: nowMs };
}

function sameRecord(a: LeaseRecord, b: LeaseRecord): boolean {
  return (
    a.holderIdentity === b.holderIdentity &&
    a.leaseDurationSeconds === b.leaseDurationSeconds &&
    a.acquireTimeMs === b.acquireTimeMs &&
    a.renewTimeMs === b.renewTimeMs &&
    a.leaseTransitions === b.leaseTransitions
  );
}
