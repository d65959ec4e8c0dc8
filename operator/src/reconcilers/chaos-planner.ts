import { parseDuration, type ChaosExperimentSpec, type Fault } from '@palisade/crds';
import { setConditions, toKubeTime, type DesiredCondition } from '../conditions.js';
import { evaluateExpectations, verifiedCondition } from './chaos-expectations.js';
import { abortVerdict, quorumLossRefusal } from './chaos-guards.js';
import { NOTHING_OBSERVED, type ChaosObservation } from './chaos-observation.js';
import { observedRaftLeaders } from './chaos-raft-leaders.js';
import { nextRun, parseCron } from './chaos-schedule.js';
import type { RaftRoleSample } from './sidecar-metrics.js';
import { compileSelector, selectorMatches } from '../compiler/label-selector.js';
import { raftGroupOf } from '../compiler/raft-peers.js';
import type { PodInfo, RaftGroupPlan } from '../compiler/types.js';
import type { Random } from '../core/random.js';
import type { ChaosStatus, Resource } from './kube-api.js';

/** A scheduled run starts at most this late after its tick; later, the tick is skipped. */
export const MISSED_RUN_DEADLINE_MS = 60_000;

/** Past runs kept in `status.runs` of a scheduled experiment. */
export const MAX_RUN_HISTORY = 10;

/** Input of `planChaos`: one experiment and the namespace as it is now. */
export interface ChaosPlanInput {
  experiment: Resource<ChaosExperimentSpec, ChaosStatus>;
  /** Non-terminating pods of the experiment's namespace. */
  pods: readonly PodInfo[];
  /** Raft groups of the namespace (from the compiler), for quorum protection. */
  raftGroups: ReadonlyMap<string, RaftGroupPlan>;
  /** What the sidecars reported during the current run (guards and expectations). */
  observation?: ChaosObservation;
  /**
   * Raft role and term each selected pod's sidecar reports now, by pod name (podKill with
   * `target: raftLeader`); absent or empty: no leader is observable.
   */
  raftRoles?: ReadonlyMap<string, RaftRoleSample>;
  /** How often to look again while running, when guards or expectations need scrapes (ms). */
  observeIntervalMs?: number;
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
  /** When to look again (duration end, next kill, next scrape, next scheduled run), ms from now. */
  requeueAfterMs?: number;
}

/** Default time between two looks at the sidecars' metrics of a running, guarded experiment. */
export const DEFAULT_OBSERVE_INTERVAL_MS = 2000;

/**
 * Chaos lifecycle as a pure function of the experiment, the namespace, what the sidecars
 * reported and the time: Pending → Running (targets fixed at start from the selector and
 * `mode`) → Completed once `duration` has passed since startTime, or Aborted when `abortWhen`
 * fires; `paused` moves Running to Paused and back (the clock keeps running: pausing does not
 * extend the run). Without `schedule`, Completed and Aborted are final; with one, each cron
 * tick after the previous run's end starts a new run (the finished one goes to `runs`). A run
 * that could cut a Raft majority does not start (`QuorumLossRefused`) unless
 * `allowQuorumLoss`. podKill deletes `count` of the still-alive targets per round (with
 * `target: raftLeader`, the Raft leaders observed then among the selected pods), one round at
 * start and one per `interval`, never taking a Raft group below a majority of ready voters
 * unless `allowQuorumLoss`; a round with nothing to kill is counted as skipped. Faults reach sidecars through the compiler, which reads phase and
 * targets: whatever ends the run (end, abort, pause, deletion) withdraws them.
 */
export function planChaos(input: ChaosPlanInput): ChaosPlan {
  const { experiment, pods, now } = input;
  const spec = experiment.spec;
  const namespace = experiment.metadata.namespace;
  const current = experiment.status ?? {};
  const generation = experiment.metadata.generation;
  const observation = input.observation ?? NOTHING_OBSERVED;
  const raftRoles = input.raftRoles ?? new Map<string, RaftRoleSample>();
  const selected = selectPods(spec, pods);
  const conditions = (ok: boolean, reason: string, message: string, verified?: DesiredCondition) =>
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
        ...(verified === undefined ? [] : [verified]),
      ],
      new Date(now),
    ).conditions;
  const base = {
    ...(generation === undefined ? {} : { observedGeneration: generation }),
    matchedPods: selected.ok ? selected.pods.length : 0,
    ...(current.runs === undefined ? {} : { runs: current.runs }),
  };
  const idle = (status: ChaosStatus, requeueAfterMs?: number): ChaosPlan => ({
    status,
    kill: { names: [] },
    ...(requeueAfterMs === undefined ? {} : { requeueAfterMs }),
  });

  const schedule = spec.schedule === undefined ? undefined : parseCron(spec.schedule);
  if (schedule?.ok === false) {
    return idle({
      ...base,
      phase: current.phase ?? 'Pending',
      conditions: conditions(false, 'InvalidSchedule', `spec.schedule: ${schedule.message}`),
    });
  }
  const ended = current.phase === 'Completed' || current.phase === 'Aborted';
  const notStarted =
    current.phase === undefined ||
    current.phase === 'Pending' ||
    current.startTime === undefined ||
    current.targets === undefined;
  if (ended || notStarted) {
    // A scheduled experiment waits for the first tick after creation, then after each run.
    if (schedule !== undefined) {
      const since = ended
        ? Date.parse(current.endTime ?? current.startTime ?? '')
        : new Date(experiment.metadata.creationTimestamp ?? now).getTime() || now;
      let next = nextRun(schedule.schedule, since);
      // A tick missed by more than the deadline (operator down) is skipped, as a CronJob's
      // startingDeadlineSeconds does: the next run is the next tick from now.
      if (next !== undefined && now - next > MISSED_RUN_DEADLINE_MS)
        next = nextRun(schedule.schedule, now - 1);
      const waiting = (message: string, requeue?: number) =>
        ended
          ? idle({ ...base, ...finished(current) }, requeue)
          : idle(
              { ...base, phase: 'Pending', conditions: conditions(false, 'Scheduled', message) },
              requeue,
            );
      if (next === undefined) return waiting(`schedule ${spec.schedule ?? ''} never fires`);
      if (spec.paused === true) return waiting('paused: no new run starts');
      if (now < next) return waiting(`next run at ${toKubeTime(next)}`, next - now);
    } else if (ended) {
      return idle({ ...base, ...finished(current) });
    }
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
    const refusal = quorumLossRefusal(
      spec,
      candidates,
      targetCount(spec.mode, candidates.length),
      input.raftGroups,
    );
    if (refusal !== undefined) {
      return idle({
        ...base,
        phase: 'Pending',
        conditions: conditions(false, refusal.reason, refusal.message),
      });
    }
    const targets = selectTargets(candidates, spec.mode, input.random);
    const partition = spec.faults.some((f) => f.type === 'partition');
    // A new run: fresh targets, counts and expectations (the observer keys its memory on startTime).
    return running(
      {
        ...base,
        startTime: toKubeTime(now),
        targets,
        injected: partition ? { partition: targets.length } : {},
      },
      NOTHING_OBSERVED,
    );
  }
  return running(
    {
      ...base,
      startTime: current.startTime as string,
      targets: current.targets as string[],
      injected: { ...(current.injected ?? {}) },
      ...(current.podKillRounds === undefined ? {} : { podKillRounds: current.podKillRounds }),
      ...(current.expectations === undefined ? {} : { expectations: current.expectations }),
    },
    observation,
  );

  /** The status of a run in progress (Running or Paused), or of the run ending now. */
  function running(
    run: ChaosStatus & { startTime: string; targets: string[] },
    seen: ChaosObservation,
  ): ChaosPlan {
    const startTime = run.startTime;
    const targets = run.targets;
    const injected = { ...run.injected };
    for (const type of ['latency', 'abort'] as const) {
      const observed = seen.injected[type];
      // After an operator restart the observer counts from zero again: never go backwards.
      if (observed !== undefined) injected[type] = Math.max(injected[type] ?? 0, observed);
    }
    const end = Date.parse(startTime) + parseDuration(spec.duration);
    const abort = current.phase === 'Running' ? abortVerdict(spec, namespace, seen) : undefined;
    const final = now >= end || abort !== undefined;
    const expectations = evaluateExpectations(
      spec,
      namespace,
      run.expectations,
      seen,
      now,
      final,
      Date.parse(startTime),
    );
    const verified = verifiedCondition(expectations, final);
    const status = {
      ...run,
      injected,
      ...(expectations.length === 0 ? {} : { expectations }),
    };
    if (final) {
      const phase = abort === undefined ? 'Completed' : 'Aborted';
      const endTime = toKubeTime(now);
      const runs =
        schedule === undefined
          ? current.runs
          : [...(current.runs ?? []), { startTime, endTime, phase }].slice(-MAX_RUN_HISTORY);
      return idle(
        {
          ...status,
          phase,
          endTime,
          ...(runs === undefined ? {} : { runs }),
          conditions:
            abort === undefined
              ? conditions(
                  true,
                  'Completed',
                  `ran for ${spec.duration} on ${targets.length} pods`,
                  verified,
                )
              : conditions(false, abort.reason, abort.message, verified),
        },
        // A scheduled experiment looks again for its next tick.
        schedule === undefined ? undefined : 0,
      );
    }
    const observeEvery =
      spec.abortWhen !== undefined || expectations.length > 0
        ? (input.observeIntervalMs ?? DEFAULT_OBSERVE_INTERVAL_MS)
        : Number.POSITIVE_INFINITY;
    if (spec.paused === true) {
      return idle(
        {
          ...status,
          phase: 'Paused',
          conditions: conditions(false, 'Paused', 'faults withdrawn while paused', verified),
        },
        end - now,
      );
    }

    let kill: ChaosPlan['kill'] = { names: [] };
    let nextKillIn: number | undefined;
    let podKillRounds = run.podKillRounds;
    const podKill = spec.faults.find((f) => f.type === 'podKill');
    if (podKill !== undefined) {
      const leaderKill = podKill.target === 'raftLeader';
      // A status written before rounds were counted: rounds follow the kill count.
      const roundsDone =
        podKillRounds?.done ?? Math.ceil((injected.podKill ?? 0) / (podKill.count ?? 1));
      const r = planPodKill(podKill, {
        start: Date.parse(startTime),
        now,
        roundsDone,
        // Leaders are looked for among the pods selected now: killed pods are replaced by
        // new ones, which the run's targets (fixed at start) do not name.
        candidates: leaderKill
          ? [...observedRaftLeaders(selected.ok ? selected.pods : [], raftRoles).values()]
          : targets,
        noCandidateReason: leaderKill
          ? 'no Raft leader observed among the selected pods'
          : 'every target is already gone',
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
      if (r.due) {
        const skipped = (podKillRounds?.skipped ?? 0) + (r.skipReason === undefined ? 0 : 1);
        const lastSkipReason = r.skipReason ?? podKillRounds?.lastSkipReason;
        podKillRounds = {
          done: roundsDone + 1,
          skipped,
          ...(lastSkipReason === undefined ? {} : { lastSkipReason }),
        };
      }
      nextKillIn = r.nextRoundInMs;
    }
    return {
      status: {
        ...status,
        injected,
        ...(podKillRounds === undefined ? {} : { podKillRounds }),
        phase: 'Running',
        conditions: conditions(
          true,
          'Running',
          `injecting into ${targets.length} pods until ${toKubeTime(end)}`,
          verified,
        ),
      },
      kill,
      requeueAfterMs: Math.min(end - now, nextKillIn ?? Number.POSITIVE_INFINITY, observeEvery),
    };
  }
}

/** The status fields of a finished run, kept as they are between scheduled runs. */
function finished(current: ChaosStatus): ChaosStatus {
  return {
    ...(current.phase === undefined ? {} : { phase: current.phase }),
    ...(current.startTime === undefined ? {} : { startTime: current.startTime }),
    ...(current.endTime === undefined ? {} : { endTime: current.endTime }),
    ...(current.targets === undefined ? {} : { targets: current.targets }),
    ...(current.injected === undefined ? {} : { injected: current.injected }),
    ...(current.podKillRounds === undefined ? {} : { podKillRounds: current.podKillRounds }),
    ...(current.expectations === undefined ? {} : { expectations: current.expectations }),
    conditions: current.conditions ?? [],
  };
}

/** How many of `n` candidates `mode` targets (`selectTargets` picks that many). */
export function targetCount(mode: ChaosExperimentSpec['mode'], n: number): number {
  return mode.type === 'all'
    ? n
    : mode.type === 'one'
      ? Math.min(1, n)
      : mode.type === 'fixed'
        ? Math.min(mode.value ?? 1, n)
        : Math.floor((n * (mode.value ?? 100)) / 100);
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
  const want = targetCount(mode, n);
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
  /** Rounds of this run already carried out or skipped. */
  roundsDone: number;
  /**
   * Pods this round may kill: the run's targets, or with `target: raftLeader` the leaders
   * observed now among the selected pods.
   */
  candidates: readonly string[];
  /** Why a round with no candidate kills nothing (goes to status). */
  noCandidateReason: string;
  pods: readonly PodInfo[];
  raftGroups: ReadonlyMap<string, RaftGroupPlan>;
  allowQuorumLoss: boolean;
  random: Random;
}

/** What one call of `planPodKill` decides. */
export interface PodKillRound {
  /** A round was due: it is done now, with `victims` or skipped with `skipReason`. */
  due: boolean;
  victims: string[];
  skipReason?: string;
  /** ms until the next round is due (absent without interval). */
  nextRoundInMs?: number;
}

/**
 * The pods to delete now for one podKill fault. Rounds are due at start and every `interval`
 * (just one without interval); at most one round per call, counted in status whether it
 * killed or not, so the status is the only memory and a restart neither repeats nor skips a
 * round. Victims are up to `count` alive, non-terminating candidates, chosen at random,
 * skipping any whose loss would leave its Raft group without a majority of ready voters
 * (unless `allowQuorumLoss`). A due round that finds no victim is skipped, with the reason.
 */
export function planPodKill(fault: Fault, state: PodKillState): PodKillRound {
  const count = fault.count ?? 1;
  const interval = fault.interval === undefined ? undefined : parseDuration(fault.interval);
  const elapsed = Math.max(0, state.now - state.start);
  const roundsDue =
    interval === undefined || interval <= 0 ? 1 : Math.floor(elapsed / interval) + 1;
  const nextRoundInMs =
    interval === undefined || interval <= 0
      ? undefined
      : (Math.floor(elapsed / interval) + 1) * interval - elapsed;
  const result = (due: boolean, victims: string[], skipReason?: string): PodKillRound => ({
    due,
    victims,
    ...(skipReason === undefined ? {} : { skipReason }),
    ...(nextRoundInMs === undefined ? {} : { nextRoundInMs }),
  });
  if (state.roundsDone >= roundsDue) return result(false, []);

  const byName = new Map(state.pods.map((p) => [p.name, p]));
  const alive = state.candidates.filter((t) => {
    const p = byName.get(t);
    return p !== undefined && p.terminating !== true;
  });
  if (alive.length === 0) return result(true, [], state.noCandidateReason);
  // Random order, then greedily take pods whose loss keeps quorum.
  const order = [...alive];
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(state.random.next() * (i + 1));
    [order[i], order[j]] = [order[j] as string, order[i] as string];
  }
  const lostVoters = new Map<string, number>();
  const victims: string[] = [];
  const spared: string[] = [];
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
      if (readyVoters - lost < majority) {
        spared.push(
          `${name} (Raft group ${plan.group}: ${readyVoters} of ${plan.voters.length} voters ready)`,
        );
        continue;
      }
      lostVoters.set(plan.group, lost);
    }
    victims.push(name);
  }
  if (victims.length === 0) {
    return result(
      true,
      [],
      `killing would leave a Raft group without a majority of ready voters: ${spared.join(', ')}`,
    );
  }
  return result(true, victims.sort());
}
