import type { KubeConfig } from '@kubernetes/client-node';
import {
  KubernetesObjectApi,
  ListWatch,
  Watch,
  type KubernetesObject,
} from '@kubernetes/client-node';
import { API_VERSION, GROUP, VERSION, allKinds } from '@palisade/crds';
import type { Scheduler } from '../core/clock.js';
import { ResourceInformer, type ListWatchPort } from './resource-informer.js';
import { SIDECAR_LABEL, SIDECAR_LABEL_VALUE } from './pod-info.js';
import { slimPod, transformingWatch, type SlimPod } from './slim-objects.js';
import { MANAGED_BY_SELECTOR } from '../reconcilers/config-map.js';

/** What to watch and how. */
export interface KubeInformerOptions {
  kubeConfig: KubeConfig;
  scheduler: Scheduler;
  /** Watch this namespace only (default: all namespaces). */
  namespace?: string;
  /** Resync period, ms (default 10 min). */
  resyncMs?: number;
  onError?: (informer: string, error: unknown, restartInMs: number) => void;
}

/**
 * The informers of the operator: the four kinds, injected Pods, the config ConfigMaps and the
 * sidecar RoleBindings it made.
 */
export interface KubeInformers {
  kinds: ReadonlyMap<string, ResourceInformer<KubernetesObject>>;
  pods: ResourceInformer<KubernetesObject>;
  configMaps: ResourceInformer<KubernetesObject>;
  roleBindings: ResourceInformer<KubernetesObject>;
  all: readonly ResourceInformer<KubernetesObject>[];
}

/**
 * Thin adapter: builds one client-node ListWatch per resource (cluster-wide, or one namespace
 * with `namespace`; Pods slimmed by
 * `slimPod` before caching), each wrapped in a `ResourceInformer`. Exercised against the local
 * control plane (operator/test/operator-integration.ts), not by unit tests.
 */
export function createKubeInformers(options: KubeInformerOptions): KubeInformers {
  const objects = KubernetesObjectApi.makeApiClient(options.kubeConfig);
  const watch = new Watch(options.kubeConfig);
  const make = (
    name: string,
    path: string,
    apiVersion: string,
    kind: string,
    labelSelector?: string,
    transform?: (object: KubernetesObject) => KubernetesObject,
  ) =>
    new ResourceInformer<KubernetesObject>({
      name,
      scheduler: options.scheduler,
      resyncMs: options.resyncMs ?? 600_000,
      ...(options.onError === undefined
        ? {}
        : { onError: (error: unknown, delay: number) => options.onError?.(name, error, delay) }),
      createListWatch: (wrap): ListWatchPort<KubernetesObject> =>
        new ListWatch<KubernetesObject>(
          path,
          // The cast is the boundary to client-node: ListWatch only calls watch().
          transform === undefined
            ? watch
            : (transformingWatch(watch, transform) as unknown as Watch),
          () =>
            wrap(async () => {
              const list = await objects.list<KubernetesObject>(
                apiVersion,
                kind,
                options.namespace,
                undefined,
                undefined,
                undefined,
                undefined,
                labelSelector,
              );
              return transform === undefined ? list : { ...list, items: list.items.map(transform) };
            }),
          false,
          labelSelector,
        ),
    });
  const scope =
    options.namespace === undefined ? '' : `/namespaces/${encodeURIComponent(options.namespace)}`;
  const kinds = new Map(
    allKinds.map((k) => [
      k.kind,
      make(k.plural, `/apis/${GROUP}/${VERSION}${scope}/${k.plural}`, API_VERSION, k.kind),
    ]),
  );
  const pods = make(
    'pods',
    `/api/v1${scope}/pods`,
    'v1',
    'Pod',
    `${SIDECAR_LABEL}=${SIDECAR_LABEL_VALUE}`,
    (pod) => slimPod(pod as SlimPod) as KubernetesObject,
  );
  const configMaps = make(
    'configmaps',
    `/api/v1${scope}/configmaps`,
    'v1',
    'ConfigMap',
    MANAGED_BY_SELECTOR,
  );
  // Events only (the reconciler reads the RoleBinding by name): which namespaces still hold
  // one, and when one is changed or deleted by hand. The label keeps other RoleBindings out.
  const roleBindings = make(
    'rolebindings',
    `/apis/rbac.authorization.k8s.io/v1${scope}/rolebindings`,
    'rbac.authorization.k8s.io/v1',
    'RoleBinding',
    MANAGED_BY_SELECTOR,
  );
  return {
    kinds,
    pods,
    configMaps,
    roleBindings,
    all: [...kinds.values(), pods, configMaps, roleBindings],
  };
}
