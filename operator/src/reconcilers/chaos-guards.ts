import type { ChaosExperimentSpec } from '@palisade/crds';
import { raftGroupOf } from '../compiler/raft-peers.js';
import type { PodInfo, RaftGroupPlan } from '../compiler/types.js';
import type { ChaosObservation } from './chaos-observation.js';

/** Why a run must not start or must stop: a condition reason and a message. */
export interface GuardVerdict {
  reason: string;
  message: string;
}

/**
 * Refuses an experiment that could cut a majority of a Raft group's voters: `partition` cuts
 * every targeted voter, `podKill` up to `count` of them per round. The check takes the worst
 * case over the pods `mode` might pick (the targets are drawn at random at start), so the
 * answer does not depend on the draw. `allowQuorumLoss: true` turns the guard off.
 */
export function quorumLossRefusal(
  spec: ChaosExperimentSpec,
  selected: readonly PodInfo[],
  targetCount: number,
  raftGroups: ReadonlyMap<string, RaftGroupPlan>,
): GuardVerdict | undefined {
  if (spec.allowQuorumLoss === true) return undefined;
  const partition = spec.faults.some((f) => f.type === 'partition');
  const killPerRound = Math.max(
    0,
    ...spec.faults.filter((f) => f.type === 'podKill').map((f) => f.count ?? 1),
  );
  const cut = (votersSelected: number) =>
    Math.min(targetCount, votersSelected, partition ? votersSelected : killPerRound);
  if (!partition && killPerRound === 0) return undefined;
  const votersByGroup = new Map<string, number>();
  for (const pod of selected) {
    const group = raftGroupOf(pod.namespace, pod.labels);
    const plan = group === undefined ? undefined : raftGroups.get(group);
    if (plan === undefined || !plan.voters.includes(pod.name)) continue;
    votersByGroup.set(plan.group, (votersByGroup.get(plan.group) ?? 0) + 1);
  }
  for (const [group, votersSelected] of votersByGroup) {
    const voters = (raftGroups.get(group) as RaftGroupPlan).voters.length;
    const majority = Math.floor(voters / 2) + 1;
    const lost = cut(votersSelected);
    if (voters - lost < majority) {
      return {
        reason: 'QuorumLossRefused',
        message:
          `${partition ? 'partition' : 'podKill'} could cut ${lost} of the ${voters} voters of ` +
          `Raft group ${group}, leaving no majority; set allowQuorumLoss: true to run it anyway`,
      };
    }
  }
  return undefined;
}

/**
 * Fewer requests than this in the window are not judged: one failed request out of two is
 * not an error budget burning.
 */
export const MIN_REQUESTS_FOR_ERROR_RATIO = 10;

/**
 * `abortWhen` against what the sidecars report: the error ratio of the targeted sidecars over
 * the window reached `errorRatio` (over at least `MIN_REQUESTS_FOR_ERROR_RATIO` requests), or
 * the named CircuitBreaker is open on some sidecar.
 */
export function abortVerdict(
  spec: ChaosExperimentSpec,
  namespace: string,
  observation: ChaosObservation,
): GuardVerdict | undefined {
  const guard = spec.abortWhen;
  if (guard === undefined) return undefined;
  if (guard.circuitBreakerOpens !== undefined) {
    const breaker = `${namespace}/${guard.circuitBreakerOpens}`;
    if (observation.openBreakers.has(breaker)) {
      return {
        reason: 'CircuitBreakerOpened',
        message: `abortWhen: CircuitBreaker ${guard.circuitBreakerOpens} opened`,
      };
    }
  }
  const errors = observation.errorRatio;
  if (
    guard.errorRatio !== undefined &&
    errors !== undefined &&
    errors.requests >= MIN_REQUESTS_FOR_ERROR_RATIO
  ) {
    const ratio = errors.errors / errors.requests;
    if (ratio >= guard.errorRatio) {
      return {
        reason: 'ErrorRatioExceeded',
        message:
          `abortWhen: ${errors.errors} of ${errors.requests} requests failed (5xx) over ` +
          `${guard.window ?? 'the window'}: ${ratio.toFixed(3)} ≥ ${guard.errorRatio}`,
      };
    }
  }
  return undefined;
}
