import type { Clock } from '../core/clock.js';
import type { Random } from '../core/random.js';
import { splitKey } from '../informer/object-key.js';
import { podInfoFromPod } from '../informer/pod-info.js';
import type { Reconcile } from '../queue/controller.js';
import { planChaos } from './chaos-planner.js';
import { conditionTransitionEvents, type EventRecorder } from './condition-events.js';
import type { KubeApi } from './kube-api.js';
import type { NamespaceCompiler } from './namespace-compiler.js';
import { ownedStatusUpToDate } from './owned-status.js';

/** Options of the ChaosExperiment reconciler. */
export interface ChaosReconcilerOptions {
  api: KubeApi;
  compiler: NamespaceCompiler;
  clock: Clock;
  random: Random;
  /** Told about condition transitions, after the status carrying them was written. */
  events?: EventRecorder;
}

/**
 * Drives one ChaosExperiment (key `namespace/name`) through its lifecycle with `planChaos`.
 * The status is applied before any pod is deleted, so a crash between the two loses at most
 * one kill and never repeats one. Fault delivery to sidecars follows from the status (phase,
 * targets) through the configs reconciler.
 */
export function createChaosReconciler(options: ChaosReconcilerOptions): Reconcile {
  const { api, compiler, clock, random, events } = options;
  return async (key, signal) => {
    const { namespace, name } = splitKey(key);
    const experiment = await api.getResource('ChaosExperiment', namespace, name);
    if (experiment === undefined || experiment.metadata.deletionTimestamp !== undefined) return;
    const [pods, output] = await Promise.all([
      api.listPods(namespace),
      compiler.compile(namespace),
    ]);
    const plan = planChaos({
      experiment,
      pods: pods.map(podInfoFromPod).filter((p) => p.terminating !== true),
      raftGroups: output.raftGroups,
      now: clock.now(),
      random,
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
