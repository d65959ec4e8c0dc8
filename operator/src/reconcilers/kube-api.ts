import type {
  ChaosExperimentSpec,
  CircuitBreakerSpec,
  Condition,
  RateLimitPolicySpec,
  SagaSpec,
} from '@palisade/crds';
import type { PolicyKind } from '../compiler/types.js';
import type { PodLike } from '../informer/pod-info.js';
import type { ConfigMapObject } from './config-map.js';
import type { OwnerReference } from './installation-owner.js';
import type { SagaInstanceCounts } from './saga-instances.js';
import type { RoleBindingObject, SecretMetadata, SecretObject } from './namespace-provisioning.js';

/** Status fields every Palisade kind has. */
export interface CommonStatus {
  observedGeneration?: number;
  conditions?: Condition[];
  matchedPods?: number;
}

/** status of a ChaosExperiment (crds: ChaosExperimentStatus). */
export interface ChaosStatus extends CommonStatus {
  phase?: 'Pending' | 'Running' | 'Paused' | 'Completed' | 'Aborted';
  startTime?: string;
  endTime?: string;
  targets?: string[];
  injected?: { latency?: number; abort?: number; partition?: number; podKill?: number };
  /** podKill rounds of the current run: due and done (killed or skipped), and skips. */
  podKillRounds?: { done: number; skipped: number; lastSkipReason?: string };
  /** Past runs of a scheduled experiment, newest last (bounded). */
  runs?: ChaosRun[];
  /** One entry per `spec.expect` item, in order, for the current run. */
  expectations?: ExpectationStatus[];
}

/** One finished run of a scheduled ChaosExperiment (crds: status.runs). */
export interface ChaosRun {
  startTime: string;
  endTime?: string;
  phase: string;
}

/** Whether one `spec.expect` item was observed (crds: status.expectations). */
export interface ExpectationStatus {
  type: string;
  /** The breaker or lease named by the expectation. */
  subject?: string;
  met?: boolean;
  /** When it was first observed. */
  observedTime?: string;
  message?: string;
}

/** status of a Saga (crds: SagaStatus); `instances` is read from the sidecars' metrics. */
export interface SagaStatus extends CommonStatus {
  instances?: Partial<SagaInstanceCounts>;
}

/** Metadata of a Palisade object the reconcilers read. */
export interface ResourceMeta {
  name: string;
  namespace: string;
  /** Set on objects read from the API (events refer to it). */
  uid?: string;
  generation?: number;
  /** RFC 3339 (or a Date from a typed client). */
  creationTimestamp?: string | Date;
  deletionTimestamp?: string | Date;
}

/** A Palisade custom resource. */
export interface Resource<Spec, Status extends CommonStatus = CommonStatus> {
  apiVersion?: string;
  kind?: string;
  metadata: ResourceMeta;
  spec: Spec;
  status?: Status;
}

/** Any of the four kinds, tagged by `kind`. */
export type PalisadeResource =
  | (Resource<RateLimitPolicySpec> & { kind: 'RateLimitPolicy' })
  | (Resource<CircuitBreakerSpec> & { kind: 'CircuitBreaker' })
  | (Resource<ChaosExperimentSpec, ChaosStatus> & { kind: 'ChaosExperiment' })
  | (Resource<SagaSpec, SagaStatus> & { kind: 'Saga' });

/** The resource type of one kind. */
export type ResourceOf<K extends PolicyKind> = Extract<PalisadeResource, { kind: K }>;

/**
 * The narrow port through which reconcilers see and change the cluster. Reads are served from
 * informer caches in production (`cache-backed-kube-api.ts`); writes are server-side applies
 * with field manager `palisade-operator`. Tests use an in-memory fake of this port only.
 */
export interface KubeApi {
  /** Injected pods of `namespace`. */
  listPods(namespace: string): Promise<PodLike[]>;
  /** Resources of one kind in `namespace`. */
  listResources<K extends PolicyKind>(kind: K, namespace: string): Promise<ResourceOf<K>[]>;
  /** One resource, or undefined when it does not exist. */
  getResource<K extends PolicyKind>(
    kind: K,
    namespace: string,
    name: string,
  ): Promise<ResourceOf<K> | undefined>;
  /** ConfigMaps of `namespace` labelled as managed by the operator. */
  listConfigMaps(namespace: string): Promise<ConfigMapObject[]>;
  /** Server-side apply of a whole ConfigMap (force: the operator owns these objects). */
  applyConfigMap(configMap: ConfigMapObject, signal?: AbortSignal): Promise<void>;
  /** Deletes a ConfigMap; absent is not an error. */
  deleteConfigMap(namespace: string, name: string, signal?: AbortSignal): Promise<void>;
  /** Server-side apply of the fields of `status` the operator owns, on the status subresource. */
  applyStatus(
    kind: PolicyKind,
    namespace: string,
    name: string,
    status: object,
    signal?: AbortSignal,
  ): Promise<void>;
  /** Deletes a pod (chaos podKill); absent is not an error. */
  deletePod(
    namespace: string,
    name: string,
    gracePeriodSeconds?: number,
    signal?: AbortSignal,
  ): Promise<void>;
  /** One RoleBinding read from the API (labelled or not), or undefined when absent. */
  getRoleBinding(namespace: string, name: string): Promise<RoleBindingObject | undefined>;
  /** Server-side apply of a whole RoleBinding (force: the operator owns the name). */
  applyRoleBinding(roleBinding: RoleBindingObject, signal?: AbortSignal): Promise<void>;
  /** Deletes a RoleBinding; absent is not an error. */
  deleteRoleBinding(namespace: string, name: string, signal?: AbortSignal): Promise<void>;
  /**
   * The metadata of one Secret read from the API (labelled or not), or undefined when absent.
   * Its data never leaves the adapter: nothing the reconcilers log or keep can hold a key.
   */
  getSecretMetadata(namespace: string, name: string): Promise<SecretMetadata | undefined>;
  /** Creates a Secret; one that exists already is left as it is (not an error, not rewritten). */
  createSecret(secret: SecretObject, signal?: AbortSignal): Promise<void>;
  /** Replaces a Secret's ownerReferences, and nothing else. */
  setSecretOwners(
    namespace: string,
    name: string,
    owners: readonly OwnerReference[],
    signal?: AbortSignal,
  ): Promise<void>;
  /** Deletes a Secret; absent is not an error. */
  deleteSecret(namespace: string, name: string, signal?: AbortSignal): Promise<void>;
  /** UID of the cluster-scoped MutatingWebhookConfiguration `name`, undefined when absent. */
  getWebhookConfigurationUid(name: string): Promise<string | undefined>;
}

/** RFC 3339 text of a timestamp that may be a Date (typed clients) or a string (watch JSON). */
export function timestampText(value: string | Date | undefined): string | undefined {
  return value === undefined ? undefined : typeof value === 'string' ? value : value.toISOString();
}
