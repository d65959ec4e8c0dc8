import type { Clock } from '../core/clock.js';
import { policyKey, type InstallationSettings } from '../compiler/types.js';
import { splitKey } from '../informer/object-key.js';
import { podInfoFromPod } from '../informer/pod-info.js';
import type { Reconcile } from '../queue/controller.js';
import { conditionTransitionEvents, type EventRecorder } from './condition-events.js';
import type { KubeApi } from './kube-api.js';
import type { NamespaceCompiler } from './namespace-compiler.js';
import { ownedStatusUpToDate } from './owned-status.js';
import { desiredPolicyStatus, redisUrlOf } from './policy-status.js';
import type { RedisHealth } from './redis-health.js';
import type { SagaInstancesObserver } from './saga-instances-observer.js';
import { sagaScrapeTargets } from './saga-instances.js';

/** Options of a status reconciler for RateLimitPolicy, CircuitBreaker or Saga. */
export interface PolicyReconcilerOptions {
  kind: 'RateLimitPolicy' | 'CircuitBreaker' | 'Saga';
  api: KubeApi;
  compiler: NamespaceCompiler;
  installation: InstallationSettings;
  clock: Clock;
  /** Told about condition transitions, after the status carrying them was written. */
  events?: EventRecorder;
  /**
   * Reachability of Redis for RateLimitPolicies with global rules (`RedisUnavailable`); such
   * policies are re-reconciled every `intervalMs` while they need it. None: not checked.
   */
  redis?: RedisHealth;
  /**
   * Saga `status.instances`: read from the sidecars of the Saga's Raft group (at most
   * `maxPods` voters) at each reconcile, and again every `intervalMs` while the Saga selects
   * pods of one group. None: not written.
   */
  sagaInstances?: { observer: SagaInstancesObserver; intervalMs: number; maxPods: number };
}

/**
 * Reconciles the status of one resource (key `namespace/name`): re-reads it, takes its
 * diagnostics from the namespace's compile (and a Saga's instance counts from its sidecars),
 * and applies the status only when the owned fields differ. Enforcement itself is the configs
 * reconciler's job; a deleted resource needs nothing here.
 */
export function createPolicyReconciler(options: PolicyReconcilerOptions): Reconcile {
  const { kind, api, compiler, installation, clock, events, redis, sagaInstances } = options;
  return async (key, signal) => {
    const { namespace, name } = splitKey(key);
    const resource = await api.getResource(kind, namespace, name);
    if (resource === undefined || resource.metadata.deletionTimestamp !== undefined) {
      sagaInstances?.observer.forget(key);
      return;
    }
    const output = await compiler.compile(namespace);
    const diag = output.diagnostics.get(policyKey(kind, namespace, name));
    const redisUrl = redis === undefined ? undefined : redisUrlOf(resource, installation);
    const redisState =
      redisUrl === undefined ? undefined : await (redis as RedisHealth).state(redisUrl);
    // Level-based: while the policy needs Redis, look again after the check interval.
    let result = redisUrl === undefined ? undefined : { requeueAfterMs: redis?.intervalMs };
    // Counts that cannot be read now stay as they are: the apply must carry them, since
    // server-side apply drops a field its manager stops sending.
    let instances = resource.kind === 'Saga' ? resource.status?.instances : undefined;
    const groups = diag?.raftGroups ?? [];
    const plan = groups.length === 1 ? output.raftGroups.get(groups[0] as string) : undefined;
    if (sagaInstances !== undefined && plan !== undefined && (diag?.matchedPods ?? 0) > 0) {
      // Only the voters are converted: a namespace may hold thousands of pods.
      const voters = new Set(plan.voters);
      const pods = (await api.listPods(namespace))
        .filter((pod) => voters.has(pod.metadata?.name ?? ''))
        .map(podInfoFromPod);
      const targets = sagaScrapeTargets(plan, pods, sagaInstances.maxPods);
      const reading = await sagaInstances.observer.read(key, targets, signal);
      if (reading !== undefined) instances = reading.counts;
      // Instances change without any event the operator sees: look again while there are pods.
      result = { requeueAfterMs: sagaInstances.intervalMs };
    }
    const desired = {
      ...desiredPolicyStatus(resource, diag, installation, new Date(clock.now()), redisState),
      ...(instances === undefined ? {} : { instances }),
    };
    if (ownedStatusUpToDate(resource.status, desired)) return result;
    signal.throwIfAborted();
    await api.applyStatus(kind, namespace, name, desired, signal);
    if (events !== undefined)
      for (const event of conditionTransitionEvents(
        {
          kind,
          namespace,
          name,
          ...(resource.metadata.uid === undefined ? {} : { uid: resource.metadata.uid }),
        },
        resource.status?.conditions,
        desired.conditions,
      ))
        events.record(event);
    return result;
  };
}
