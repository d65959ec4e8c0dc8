import { parseDuration, type ChaosExperimentSpec, type Fault } from '@palisade/crds';
import { setConditions, toKubeTime, type DesiredCondition } from '../conditions.js';
import { compileSelector, selectorMatches } from '../compiler/label-selector.js';
import { raftGroupOf } from '../compiler/raft-peers.js';
import type { PodInfo, RaftGroupPlan } from '../compiler/types.js';
import type { Random } from '../core/random.js';
import type { ChaosStatus, Resource } from './kube-api.js';

/** Input of `planChaos`: one experiment and the namespace as it is now. */
export interface ChaosPlanInput {
  experiment: Resource<ChaosExperimentSpec, ChaosStatus>;
  /** Non-terminating pods of the experiment's namespace. */
  pods: readonly PodInfo[];
  /** Raft groups of the namespace (from the compiler), for quorum protection. */
  raftGroups: ReadonlyMap<string, RaftGroupPlan>;
  /** Wall-clock ms. */
  now: number;
  random: Random;
}

/** What the chaos reconciler must do. */
export interface ChaosPlan {
  /** The owned status fields to apply (written first, so a crash never repeats a kill). */
  status: ChaosStatus;
  /** Pods to delete now (podKill). */
  kill: { names: readonly string[]; gracePeriodSeconds?: number };
  /** When to look again (duration end, next kill), ms from now. */
  requeueAfterMs?: number;
}

/**
 * Chaos lifecycle as a pure function of the experiment, the namespace and the time:
 * Pending → Running (targets fixed at start from the selector and `mode`) → Completed once
 * `duration` has passed since startTime; `paused` moves Running to Paused and back (the
 * clock keeps running: pausing does not extend the run). Completed and Aborted are final.
 * podKill deletes `count` of the still-alive targets per round, one round at start and one
 * per `interval`, never taking a Raft group below a majority of ready voters unless
 * `allowQuorumLoss`.
 */
export function planChaos(input: ChaosPlanInput): ChaosPlan {
  const { experiment, pods, now } = input;
  const spec = experiment.spec;
  const current = experiment.status ?? {};
  const generation = experiment.metadata.generation;
  const selected = selectPods(spec, pods);
  const conditions = (ok: boolean, reason: string, message: string) =>
    setConditions(
      current.conditions,
      [
        {
          type: 'Ready',
          status: ok ? 'True' : 'False',
          reason,
          message,
          ...(generation === undefined ? {} : { observedGeneration: generation }),
        } satisfies DesiredCondition,
      ],
      new Date(now),
    ).conditions;
  const base = {
    ...(generation === undefined ? {} : { observedGeneration: generation }),
    matchedPods: selected.ok ? selected.pods.length : 0,
  };
  const idle = (status: ChaosStatus, requeueAfterMs?: number): ChaosPlan => ({
    status,
    kill: { names: [] },
    ...(requeueAfterMs === undefined ? {} : { requeueAfterMs }),
  });

  if (current.phase === 'Completed' || current.phase === 'Aborted') {
    return idle({ ...base, phase: current.phase, conditions: current.conditions ?? [] });
  }

  let startTime = current.startTime;
  let targets = current.targets;
  const injected = { ...(current.injected ?? {}) };
  if (
    current.phase === undefined ||
    current.phase === 'Pending' ||
    startTime === undefined ||
    targets === undefined
  ) {
    if (!selected.ok) {
      return idle({
        ...base,
        phase: 'Pending',
        conditions: conditions(false, 'InvalidSelector', `spec.selector: ${selected.message}`),
      });
    }
    if (spec.paused === true) {
      return idle({
        ...base,
        phase: 'Pending',
        conditions: conditions(false, 'Paused', 'paused before it started'),
      });
    }
    const candidates = selected.pods.filter((p) => p.ready);
    if (candidates.length === 0) {
      return idle({
        ...base,
        phase: 'Pending',
        conditions: conditions(false, 'NoMatchingPods', 'spec.selector matches no ready pod'),
      });
    }
    startTime = toKubeTime(now);
    targets = selectTargets(candidates, spec.mode, input.random);
  }

  const end = Date.parse(startTime) + parseDuration(spec.duration);
  const running = { ...base, startTime, targets };
  if (now >= end) {
    return idle({
      ...running,
      phase: 'Completed',
      endTime: toKubeTime(now),
      injected,
      conditions: conditions(
        true,
        'Completed',
        `ran for ${spec.duration} on ${targets.length} pods`,
      ),
    });
  }
  if (spec.paused === true) {
    return idle(
      {
        ...running,
        phase: 'Paused',
        injected,
        conditions: conditions(false, 'Paused', 'faults withdrawn while paused'),
      },
      end - now,
    );
  }

  let kill: ChaosPlan['kill'] = { names: [] };
  let nextKillIn: number | undefined;
  const podKill = spec.faults.find((f) => f.type === 'podKill');
  if (podKill !== undefined) {
    const r = planPodKill(podKill, {
      start: Date.parse(startTime),
      now,
      killedSoFar: injected.podKill ?? 0,
      targets,
      pods,
      raftGroups: input.raftGroups,
      allowQuorumLoss: spec.allowQuorumLoss === true,
      random: input.random,
    });
    kill = {
      names: r.victims,
      ...(podKill.gracePeriodSeconds === undefined
        ? {}
        : { gracePeriodSeconds: podKill.gracePeriodSeconds }),
    };
    if (r.victims.length > 0) injected.podKill = (injected.podKill ?? 0) + r.victims.length;
    nextKillIn = r.nextRoundInMs;
  }
  return {
    status: {
      ...running,
      phase: 'Running',
      injected,
      conditions: conditions(
        true,
        'Running',
        `injecting into ${targets.length} pods until ${toKubeTime(end)}`,
      ),
    },
    kill,
    requeueAfterMs: Math.min(end - now, nextKillIn ?? Number.POSITIVE_INFINITY),
  };
}

/** The experiment's selection, or why its selector is invalid. */
export function selectPods(
  spec: ChaosExperimentSpec,
  pods: readonly PodInfo[],
): { ok: true; pods: PodInfo[] } | { ok: false; message: string } {
  const compiled = compileSelector(spec.selector);
  if (!compiled.ok) return compiled;
  return {
    ok: true,
    pods: pods.filter(
      (p) => p.terminating !== true && selectorMatches(compiled.selector, p.labels),
    ),
  };
}

/**
 * Picks the targets of a run among `candidates`: all, one, a fixed number, or a percentage
 * (rounded down), chosen uniformly with `random`; returned sorted by name.
 */
export function selectTargets(
  candidates: readonly PodInfo[],
  mode: ChaosExperimentSpec['mode'],
  random: Random,
): string[] {
  const names = candidates.map((p) => p.name).sort();
  const n = names.length;
  const want =
    mode.type === 'all'
      ? n
      : mode.type === 'one'
        ? Math.min(1, n)
        : mode.type === 'fixed'
          ? Math.min(mode.value ?? 1, n)
          : Math.floor((n * (mode.value ?? 100)) / 100);
  // Partial Fisher–Yates: the first `want` slots end up a uniform sample.
  for (let i = 0; i < want; i++) {
    const j = i + Math.floor(random.next() * (n - i));
    [names[i], names[j]] = [names[j] as string, names[i] as string];
  }
  return names.slice(0, want).sort();
}

/** Input of `planPodKill`. */
export interface PodKillState {
  /** startTime of the run, ms. */
  start: number;
  now: number;
  /** status.injected.podKill so far. */
  killedSoFar: number;
  targets: readonly string[];
  pods: readonly PodInfo[];
  raftGroups: ReadonlyMap<string, RaftGroupPlan>;
  allowQuorumLoss: boolean;
  random: Random;
}

/**
 * The pods to delete now for one podKill fault. Rounds are due at start and every `interval`
 * (just one without interval); rounds done are derived from the kill count (`count` per
 * round), so the status is the only memory and a restart neither repeats nor skips a round.
 * At most one round per call. Victims are alive, non-terminating targets, chosen at random,
 * skipping any whose loss would leave its Raft group without a majority of ready voters.
 */
export function planPodKill(
  fault: Fault,
  state: PodKillState,
): { victims: string[]; nextRoundInMs?: number } {
  const count = fault.count ?? 1;
  const interval = fault.interval === undefined ? undefined : parseDuration(fault.interval);
  const elapsed = Math.max(0, state.now - state.start);
  const roundsDue =
    interval === undefined || interval <= 0 ? 1 : Math.floor(elapsed / interval) + 1;
  const roundsDone = Math.ceil(state.killedSoFar / count);
  const nextRoundInMs =
    interval === undefined || interval <= 0
      ? undefined
      : (Math.floor(elapsed / interval) + 1) * interval - elapsed;
  const result = (victims: string[]) => ({
    victims,
    ...(nextRoundInMs === undefined ? {} : { nextRoundInMs }),
  });
  if (roundsDone >= roundsDue) return result([]);

  const byName = new Map(state.pods.map((p) => [p.name, p]));
  const alive = state.targets.filter((t) => {
    const p = byName.get(t);
    return p !== undefined && p.terminating !== true;
  });
  // Random order, then greedily take pods whose loss keeps quorum.
  const order = [...alive];
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(state.random.next() * (i + 1));
    [order[i], order[j]] = [order[j] as string, order[i] as string];
  }
  const lostVoters = new Map<string, number>();
  const victims: string[] = [];
  for (const name of order) {
    if (victims.length >= count) break;
    const pod = byName.get(name) as PodInfo;
    const group = raftGroupOf(pod.namespace, pod.labels);
    const plan = group === undefined ? undefined : state.raftGroups.get(group);
    if (!state.allowQuorumLoss && plan !== undefined && plan.voters.includes(name)) {
      const readyVoters = plan.voters.filter(
        (v) => byName.get(v)?.ready === true && byName.get(v)?.terminating !== true,
      ).length;
      const lost = (lostVoters.get(plan.group) ?? 0) + 1;
      const majority = Math.floor(plan.voters.length / 2) + 1;
      if (readyVoters - lost < majority) continue;
      lostVoters.set(plan.group, lost);
    }
    victims.push(name);
  }
  return result(victims.sort());
}
