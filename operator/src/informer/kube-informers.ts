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
import { MANAGED_BY_SELECTOR } from '../reconcilers/config-map.js';

/** What to watch and how. */
export interface KubeInformerOptions {
  kubeConfig: KubeConfig;
  scheduler: Scheduler;
  /** Resync period, ms (default 10 min). */
  resyncMs?: number;
  onError?: (informer: string, error: unknown, restartInMs: number) => void;
}

/** The informers of the operator: the four kinds, injected Pods and the config ConfigMaps. */
export interface KubeInformers {
  kinds: ReadonlyMap<string, ResourceInformer<KubernetesObject>>;
  pods: ResourceInformer<KubernetesObject>;
  configMaps: ResourceInformer<KubernetesObject>;
  all: readonly ResourceInformer<KubernetesObject>[];
}

/**
 * Thin adapter: builds one client-node ListWatch per resource (cluster-wide), wrapped in a
 * `ResourceInformer`. Exercised by the e2e tests on the local control plane, not unit tests.
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
          watch,
          () =>
            wrap(() =>
              objects.list<KubernetesObject>(
                apiVersion,
                kind,
                undefined,
                undefined,
                undefined,
                undefined,
                undefined,
                labelSelector,
              ),
            ),
          false,
          labelSelector,
        ),
    });
  const kinds = new Map(
    allKinds.map((k) => [
      k.kind,
      make(k.plural, `/apis/${GROUP}/${VERSION}/${k.plural}`, API_VERSION, k.kind),
    ]),
  );
  const pods = make('pods', '/api/v1/pods', 'v1', 'Pod', `${SIDECAR_LABEL}=${SIDECAR_LABEL_VALUE}`);
  const configMaps = make(
    'configmaps',
    '/api/v1/configmaps',
    'v1',
    'ConfigMap',
    MANAGED_BY_SELECTOR,
  );
  return { kinds, pods, configMaps, all: [...kinds.values(), pods, configMaps] };
}
