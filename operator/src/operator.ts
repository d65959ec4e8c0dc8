import { canonicalJson } from './compiler/canonical-json.js';
import { MAX_VOTERS } from './compiler/raft-peers.js';
import type { InstallationSettings, PolicyKind } from './compiler/types.js';
import type { Scheduler } from './core/clock.js';
import type { Random } from './core/random.js';
import { objectKey, type ObjectLike } from './informer/object-key.js';
import { podInfoFromPod, type PodLike } from './informer/pod-info.js';
import type { InformerEvent } from './informer/resource-informer.js';
import { Controller, type ReconcileOutcome } from './queue/controller.js';
import { ChaosObserver } from './reconcilers/chaos-observer.js';
import { createChaosReconciler } from './reconcilers/chaos-reconciler.js';
import { createConfigsReconciler } from './reconcilers/configs-reconciler.js';
import type { EventRecorder } from './reconcilers/condition-events.js';
import type { OwnerReference } from './reconcilers/installation-owner.js';
import type { KubeApi } from './reconcilers/kube-api.js';
import { NamespaceCompiler } from './reconcilers/namespace-compiler.js';
import { createNamespaceReconciler } from './reconcilers/namespace-reconciler.js';
import { createPolicyReconciler } from './reconcilers/policy-reconciler.js';
import type { RedisHealth } from './reconcilers/redis-health.js';
import {
  SagaInstancesObserver,
  type SagaScrapeFailure,
} from './reconcilers/saga-instances-observer.js';
import { httpMetricsReader, type SidecarMetricsReader } from './reconcilers/sidecar-scrape.js';

/** What the operator needs of an informer (`ResourceInformer` fits). */
export interface EventSource {
  onEvent(handler: (event: InformerEvent<ObjectLike>) => void): void;
  list(namespace?: string): readonly ObjectLike[];
  hasSynced(): boolean;
  whenSynced(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** The four kinds, in the order their controllers are built. */
export const POLICY_KINDS: readonly PolicyKind[] = [
  'RateLimitPolicy',
  'CircuitBreaker',
  'ChaosExperiment',
  'Saga',
];

/** Options of an `Operator`. */
export interface OperatorOptions {
  api: KubeApi;
  sources: {
    pods: EventSource;
    configMaps: EventSource;
    kinds: ReadonlyMap<PolicyKind, EventSource>;
    /** The sidecar RoleBindings the operator made (they name namespaces to clean up). */
    roleBindings?: EventSource;
  };
  installation: InstallationSettings;
  /**
   * Per-namespace objects (sidecar RoleBinding to this ClusterRole, Raft Secret) for every
   * namespace with injected pods; no `namespaces` controller when absent.
   */
  sidecarClusterRole?: string;
  /** ownerReferences of every object written (the installation owner); none when absent. */
  owners?: () => readonly OwnerReference[];
  scheduler: Scheduler;
  random: Random;
  /** Workers of the configs controller and of each status controller. Default 2 and 2. */
  workers?: { configs?: number; status?: number };
  reconcileTimeoutMs?: number;
  /** Kubernetes Events on condition transitions (none if absent). */
  events?: EventRecorder;
  /** Redis reachability behind `RedisUnavailable` on RateLimitPolicies (not checked if absent). */
  redis?: RedisHealth;
  /**
   * How chaos guards and expectations read the sidecars' metrics (default: HTTP to the pod IP's
   * probe port 15020) and how often while a guarded experiment runs (default 2000 ms).
   */
  chaos?: { metrics?: SidecarMetricsReader; observeIntervalMs?: number };
  /**
   * How Saga `status.instances` is read from the sidecars' metrics (default: HTTP to the pod
   * IP's probe port 15020, 1 s timeout per pod), how often while a Saga has pods (default
   * 5000 ms), from at most how many voters of its Raft group (default: all, 5 unless
   * `installation.raft.maxVoters` says otherwise), and who hears about rounds that gave no
   * counts (the counts are then kept).
   */
  sagas?: {
    metrics?: SidecarMetricsReader;
    statusIntervalMs?: number;
    maxScrapedPods?: number;
    onScrapeFailed?: (failure: SagaScrapeFailure) => void;
  };
  /** Metrics hook: every reconcile of every controller. */
  onReconciled?: (
    controller: string,
    key: string,
    outcome: ReconcileOutcome,
    durationMs: number,
  ) => void;
}

/**
 * Assembles the controllers: `configs` (key: namespace) delivers compiled configs, `namespaces`
 * (key: namespace; pod and RoleBinding events) provisions the sidecar RoleBinding and Raft
 * Secret, one controller per kind (key: namespace/name) writes status and runs chaos. Any
 * change in a namespace (pod, resource) re-queues the namespace's configs and every resource
 * there, since selection counts and conflicts may change; the work queues de-duplicate, and
 * the namespace compile is shared. Workers start only after every informer has synced, so no
 * reconcile sees a partial cache (and the GC never deletes a config because a list was
 * incomplete).
 */
export class Operator {
  readonly compiler: NamespaceCompiler;
  readonly configs: Controller;
  /** Sidecar RoleBinding and Raft Secret per namespace (key: namespace), if configured. */
  readonly namespaces: Controller | undefined;
  readonly kinds: ReadonlyMap<PolicyKind, Controller>;
  private readonly options: OperatorOptions;
  private started = false;
  private readonly podFingerprints = new Map<string, string>();

  constructor(options: OperatorOptions) {
    this.options = options;
    const { api, installation, scheduler, random } = options;
    const owners = options.owners ?? (() => []);
    this.compiler = new NamespaceCompiler({ api, installation });
    const common = (name: string, workers: number) => ({
      name,
      scheduler,
      workers,
      ...(options.reconcileTimeoutMs === undefined
        ? {}
        : { reconcileTimeoutMs: options.reconcileTimeoutMs }),
      onReconciled: (key: string, outcome: ReconcileOutcome, ms: number) =>
        options.onReconciled?.(name, key, outcome, ms),
    });
    const statusWorkers = options.workers?.status ?? 2;
    this.configs = new Controller({
      ...common('configs', options.workers?.configs ?? 2),
      reconcile: createConfigsReconciler({
        api,
        compiler: this.compiler,
        clock: scheduler,
        owners,
      }),
    });
    this.namespaces =
      options.sidecarClusterRole === undefined
        ? undefined
        : new Controller({
            ...common('namespaces', 1),
            reconcile: createNamespaceReconciler({
              api,
              sidecarClusterRole: options.sidecarClusterRole,
              owners,
            }),
          });
    const kinds = new Map<PolicyKind, Controller>();
    for (const kind of POLICY_KINDS) {
      const reconcile =
        kind === 'ChaosExperiment'
          ? createChaosReconciler({
              api,
              compiler: this.compiler,
              clock: scheduler,
              random,
              ...(options.events === undefined ? {} : { events: options.events }),
              observer: new ChaosObserver({
                reader: options.chaos?.metrics ?? httpMetricsReader({}),
                clock: scheduler,
              }),
              ...(options.chaos?.observeIntervalMs === undefined
                ? {}
                : { observeIntervalMs: options.chaos.observeIntervalMs }),
            })
          : createPolicyReconciler({
              kind,
              api,
              compiler: this.compiler,
              installation,
              clock: scheduler,
              ...(options.events === undefined ? {} : { events: options.events }),
              ...(options.redis === undefined || kind !== 'RateLimitPolicy'
                ? {}
                : { redis: options.redis }),
              ...(kind === 'Saga' ? { sagaInstances: sagaInstances(options, scheduler) } : {}),
            });
      kinds.set(kind, new Controller({ ...common(kind.toLowerCase(), statusWorkers), reconcile }));
    }
    this.kinds = kinds;
  }

  /** Registers handlers, starts the informers, waits for their first lists, then starts workers. */
  async start(): Promise<void> {
    await this.startInformers();
    this.startWorkers();
  }

  /**
   * Registers handlers, starts the informers and waits for their first full lists. A standby
   * replica stops here: its caches stay warm, its queues fill (de-duplicated), nothing is
   * reconciled until `startWorkers`.
   */
  async startInformers(): Promise<void> {
    const { sources } = this.options;
    const namespaceChanged = (event: InformerEvent<ObjectLike>) =>
      this.namespaceChanged(namespaceOf(event.object));
    sources.pods.onEvent((event) => {
      if (!this.podChanged(event)) return;
      namespaceChanged(event);
      this.namespaces?.enqueue(namespaceOf(event.object));
    });
    for (const source of sources.kinds.values()) source.onEvent(namespaceChanged);
    sources.configMaps.onEvent((event) => this.configs.enqueue(namespaceOf(event.object)));
    // A RoleBinding changed or left in a namespace without pods (e.g. the last pod went while
    // no operator ran) is reconciled too.
    sources.roleBindings?.onEvent((event) => this.namespaces?.enqueue(namespaceOf(event.object)));
    const all = this.allSources();
    await Promise.all(all.map((s) => s.start()));
    await Promise.all(all.map((s) => s.whenSynced()));
  }

  /** Starts every controller's workers (the leader only). Call after `startInformers`. */
  startWorkers(): void {
    if (this.started) return;
    this.configs.start();
    this.namespaces?.start();
    for (const c of this.kinds.values()) c.start();
    this.started = true;
  }

  /** Whether workers run (this replica leads, or runs without election). */
  get workersStarted(): boolean {
    return this.started;
  }

  /** Every informer has its first full list. */
  informersSynced(): boolean {
    return this.allSources().every((s) => s.hasSynced());
  }

  /** Queue depth per controller (metrics). */
  queueDepths(): Map<string, number> {
    return new Map(this.controllers().map((c) => [c.name, c.queue.length]));
  }

  /** /readyz: informers synced and workers running. */
  ready(): boolean {
    return this.started && this.informersSynced();
  }

  /**
   * The installation owner changed: every namespace the operator wrote in or serves is
   * reconciled again, so that each object gets the new ownerReferences.
   */
  ownerChanged(): void {
    const { sources } = this.options;
    const namespaces = new Set<string>();
    for (const source of [sources.pods, sources.configMaps, sources.roleBindings])
      for (const object of source?.list() ?? []) namespaces.add(namespaceOf(object));
    for (const namespace of namespaces) {
      this.configs.enqueue(namespace);
      this.namespaces?.enqueue(namespace);
    }
  }

  /** Resolves when no controller has queued or running work (tests, benchmarks). */
  async whenIdle(): Promise<void> {
    const controllers = this.controllers();
    // A reconcile of one controller can queue work in another only through informer events,
    // so loop until a full pass finds everything idle.
    for (;;) {
      await Promise.all(controllers.map((c) => c.queue.whenIdle()));
      if (controllers.every((c) => c.queue.length === 0 && c.queue.processingCount === 0)) return;
    }
  }

  /** Graceful stop: informers first (no new work), then controllers drain. */
  async shutDown(): Promise<void> {
    await Promise.all(this.allSources().map((s) => s.stop()));
    await Promise.all(this.controllers().map((c) => c.shutDown()));
  }

  private allSources(): EventSource[] {
    const { sources } = this.options;
    return [
      sources.pods,
      sources.configMaps,
      ...sources.kinds.values(),
      ...(sources.roleBindings === undefined ? [] : [sources.roleBindings]),
    ];
  }

  private controllers(): Controller[] {
    return [
      this.configs,
      ...(this.namespaces === undefined ? [] : [this.namespaces]),
      ...this.kinds.values(),
    ];
  }

  /**
   * Whether a pod event changes what the compiler reads (labels, readiness, IP, app port,
   * termination): most pod updates (container statuses, restarts) do not, and at 10,000 pods
   * they would otherwise re-queue whole namespaces all the time. Resyncs always pass.
   */
  private podChanged(event: InformerEvent<ObjectLike>): boolean {
    const key = objectKey(event.object);
    if (event.type === 'delete') {
      this.podFingerprints.delete(key);
      return true;
    }
    const fingerprint = canonicalJson(podInfoFromPod(event.object as PodLike));
    const unchanged = this.podFingerprints.get(key) === fingerprint;
    this.podFingerprints.set(key, fingerprint);
    return event.type === 'resync' || !unchanged;
  }

  private namespaceChanged(namespace: string): void {
    this.compiler.invalidate(namespace);
    this.configs.enqueue(namespace);
    for (const [kind, source] of this.options.sources.kinds) {
      const controller = this.kinds.get(kind);
      for (const object of source.list(namespace)) controller?.enqueue(objectKey(object));
    }
  }
}

/** Default of `OperatorOptions.sagas.statusIntervalMs`. */
const SAGA_STATUS_INTERVAL_MS = 5000;

function sagaInstances(options: OperatorOptions, scheduler: Scheduler) {
  const sagas = options.sagas;
  return {
    observer: new SagaInstancesObserver({
      reader: sagas?.metrics ?? httpMetricsReader({}),
      clock: scheduler,
      ...(sagas?.onScrapeFailed === undefined ? {} : { onFailure: sagas.onScrapeFailed }),
    }),
    intervalMs: sagas?.statusIntervalMs ?? SAGA_STATUS_INTERVAL_MS,
    // Every voter by default: the leader is one, and each committed entry is on a majority.
    maxPods: sagas?.maxScrapedPods ?? options.installation.raft?.maxVoters ?? MAX_VOTERS,
  };
}

function namespaceOf(object: ObjectLike): string {
  return object.metadata?.namespace ?? '';
}
