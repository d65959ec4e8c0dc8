/**
 * Saga `status.instances` from the sidecars' metrics, as pure functions: which pods to scrape
 * for a Saga, and which member's `palisade_saga_instances` to believe.
 *
 * Every member of a Raft group applies the same committed log to the same deterministic saga
 * table, so any member's counts are the counts of the group *as of its applied index*. Members
 * differ only in how far they have applied (a follower a few entries behind, a restarted pod
 * still catching up from its snapshot). The counts of the member with the highest
 * `palisade_raft_applied_index` are therefore the newest committed state, and internally
 * consistent; a per-state maximum over members would not be (it could add an instance counted
 * Running on a lagging member to the same instance counted Completed on another).
 */
import type { PodInfo, RaftGroupPlan } from '../compiler/types.js';
import type { SidecarSample } from './sidecar-metrics.js';

/** `status.instances` of a Saga (crds: SagaStatus), every state present. */
export interface SagaInstanceCounts {
  running: number;
  completed: number;
  compensating: number;
  compensated: number;
  failed: number;
  needsAttention: number;
}

/** The status field of each state as the sidecar spells it (`palisade_saga_instances{state}`). */
const STATE_FIELDS: ReadonlyMap<string, keyof SagaInstanceCounts> = new Map([
  ['Running', 'running'],
  ['Completed', 'completed'],
  ['Compensating', 'compensating'],
  ['Compensated', 'compensated'],
  ['Failed', 'failed'],
  ['NeedsAttention', 'needsAttention'],
]);

/** Counts of a saga with no instance. */
export function noSagaInstances(): SagaInstanceCounts {
  return {
    running: 0,
    completed: 0,
    compensating: 0,
    compensated: 0,
    failed: 0,
    needsAttention: 0,
  };
}

/** Counts read from one member, and how far that member had applied the log. */
export interface SagaCountsReading {
  counts: SagaInstanceCounts;
  pod: string;
  appliedIndex: number;
}

/**
 * The pods whose metrics give a Saga's counts: the voters of its Raft group (the leader is one
 * of them, and every committed entry is on a majority of them), oldest first, that have an IP
 * and are not terminating; at most `max`.
 */
export function sagaScrapeTargets(
  plan: RaftGroupPlan,
  pods: readonly PodInfo[],
  max: number,
): PodInfo[] {
  const byName = new Map(pods.map((pod) => [pod.name, pod]));
  const targets: PodInfo[] = [];
  for (const voter of plan.voters) {
    const pod = byName.get(voter);
    if (pod?.podIP === undefined || pod.podIP === '' || pod.terminating === true) continue;
    if (targets.length === max) break;
    targets.push(pod);
  }
  return targets;
}

/**
 * The counts of `saga` (`namespace/name`, the gauge's `saga` label) from the member that has
 * applied the most of the log; on a tie (same state) the leader, then the first pod by name, so
 * that repeated reads agree. Samples without an applied index (no Raft member running) or with
 * a count that is not a non-negative integer are not believed. A member that reports no series
 * for the saga has no instance of it. Undefined when no sample qualifies.
 */
export function readSagaInstanceCounts(
  saga: string,
  samples: ReadonlyMap<string, SidecarSample>,
): SagaCountsReading | undefined {
  let best: (SagaCountsReading & { leader: boolean }) | undefined;
  for (const [pod, sample] of samples) {
    const appliedIndex = sample.raftAppliedIndex;
    if (appliedIndex === undefined || !(appliedIndex >= 0)) continue;
    const counts = countsOf(sample.sagaInstances.get(saga));
    if (counts === undefined) continue;
    const leader = sample.raft?.role === 'leader';
    if (
      best === undefined ||
      appliedIndex > best.appliedIndex ||
      (appliedIndex === best.appliedIndex && (leader !== best.leader ? leader : pod < best.pod))
    )
      best = { counts, pod, appliedIndex, leader };
  }
  return best === undefined
    ? undefined
    : { counts: best.counts, pod: best.pod, appliedIndex: best.appliedIndex };
}

function countsOf(states: ReadonlyMap<string, number> | undefined): SagaInstanceCounts | undefined {
  const counts = noSagaInstances();
  for (const [state, n] of states ?? []) {
    const field = STATE_FIELDS.get(state);
    // A state this operator does not know (a newer sidecar) is left out, not a reason to distrust.
    if (field === undefined) continue;
    if (!Number.isSafeInteger(n) || n < 0) return undefined;
    counts[field] = n;
  }
  return counts;
}
