import type { Clock } from '../core/clock.js';
import type { Random } from '../core/random.js';
import { splitKey } from '../informer/object-key.js';
import { podInfoFromPod } from '../informer/pod-info.js';
import type { Reconcile } from '../queue/controller.js';
import { parseDuration } from '@palisade/crds';
import type { ChaosObservation } from './chaos-observation.js';
import type { ChaosObserver } from './chaos-observer.js';
import { planChaos, selectPods } from './chaos-planner.js';
import { conditionTransitionEvents, type EventRecorder } from './condition-events.js';
import type { KubeApi } from './kube-api.js';
import type { NamespaceCompiler } from './namespace-compiler.js';
import { ownedStatusUpToDate } from './owned-status.js';
import type { RaftRoleSample } from './sidecar-metrics.js';

/** Options of the ChaosExperiment reconciler. */
export interface ChaosReconcilerOptions {
  api: KubeApi;
  compiler: NamespaceCompiler;
  clock: Clock;
  random: Random;
  /** Told about condition transitions, after the status carrying them was written. */
  events?: EventRecorder;
  /**
   * Reads the sidecars' metrics for `abortWhen` and `expect`; without it those see nothing
   * (no abort, expectations unmet).
   */
  observer?: ChaosObserver;
  /** Time between scrapes of a running experiment with guards or expectations (ms). */
  observeIntervalMs?: number;
}

/**
 * Drives one ChaosExperiment (key `namespace/name`) through its lifecycle with `planChaos`.
 * The status is applied before any pod is deleted, so a crash between the two loses at most
 * one kill and never repeats one. Fault delivery to sidecars follows from the status (phase,
 * targets) through the configs reconciler. While a guarded run (abortWhen, expect) is
 * Running, each reconcile first scrapes the namespace's sidecars through the observer; with a
 * podKill `target: raftLeader`, it also reads the selected sidecars' Raft roles.
 */
export function createChaosReconciler(options: ChaosReconcilerOptions): Reconcile {
  const { api, compiler, clock, random, events, observer } = options;
  return async (key, signal) => {
    const { namespace, name } = splitKey(key);
    const experiment = await api.getResource('ChaosExperiment', namespace, name);
    if (experiment === undefined || experiment.metadata.deletionTimestamp !== undefined) {
      observer?.forget(key);
      return;
    }
    const [podList, output] = await Promise.all([
      api.listPods(namespace),
      compiler.compile(namespace),
    ]);
    const pods = podList.map(podInfoFromPod).filter((p) => p.terminating !== true);
    const status = experiment.status;
    const spec = experiment.spec;
    let observation: ChaosObservation | undefined;
    if (
      observer !== undefined &&
      status?.phase === 'Running' &&
      status.startTime !== undefined &&
      (spec.abortWhen !== undefined || (spec.expect ?? []).length > 0)
    ) {
      const window = spec.abortWhen?.window;
      observation = await observer.observe(
        {
          experiment: key,
          startTime: status.startTime,
          targets: status.targets ?? [],
          windowMs: window === undefined ? 0 : parseDuration(window),
        },
        pods,
        signal,
      );
    } else if (status?.phase !== 'Paused') {
      observer?.forget(key);
    }
    // A leader kill looks at who leads now, whenever a round could be due (also at the start).
    let raftRoles: Map<string, RaftRoleSample> | undefined;
    if (
      observer !== undefined &&
      spec.paused !== true &&
      spec.faults.some((f) => f.type === 'podKill' && f.target === 'raftLeader') &&
      (status?.phase === undefined ||
        status.phase === 'Pending' ||
        status.phase === 'Running' ||
        spec.schedule !== undefined)
    ) {
      const selected = selectPods(spec, pods);
      if (selected.ok) raftRoles = await observer.raftRoles(selected.pods, signal);
    }
    const plan = planChaos({
      experiment,
      pods,
      raftGroups: output.raftGroups,
      now: clock.now(),
      random,
      ...(observation === undefined ? {} : { observation }),
      ...(raftRoles === undefined ? {} : { raftRoles }),
      ...(options.observeIntervalMs === undefined
        ? {}
        : { observeIntervalMs: options.observeIntervalMs }),
    });
    if (!ownedStatusUpToDate(experiment.status, plan.status)) {
      signal.throwIfAborted();
      await api.applyStatus('ChaosExperiment', namespace, name, plan.status, signal);
      if (events !== undefined)
        for (const event of conditionTransitionEvents(
          {
            kind: 'ChaosExperiment',
            namespace,
            name,
            ...(experiment.metadata.uid === undefined ? {} : { uid: experiment.metadata.uid }),
          },
          experiment.status?.conditions,
          plan.status.conditions,
        ))
          events.record(event);
    }
    for (const pod of plan.kill.names) {
      signal.throwIfAborted();
      await api.deletePod(namespace, pod, plan.kill.gracePeriodSeconds, signal);
    }
    return plan.requeueAfterMs === undefined ? undefined : { requeueAfterMs: plan.requeueAfterMs };
  };
}
