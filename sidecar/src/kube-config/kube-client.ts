/**
 * The `ConfigMapClient` of Kubernetes mode: a label-selected list and watch of one namespace's
 * ConfigMaps. In a pod, the lean `node:https` client of `in-cluster-client.ts`; with a kubeconfig
 * file (runs outside a cluster), @kubernetes/client-node, imported here only and lazily, so that
 * neither a pod nor the standalone sidecar loads it.
 */
import type { Random } from '../core/random.js';
import type { ConfigMapClient } from './config-map-reflector.js';
import { inClusterAccess, inClusterConfigMapClient } from './in-cluster-client.js';
import { CONFIG_MAP_SELECTOR } from './select-config.js';

/** Where the API server is and who we are to it. */
export interface KubeClientOptions {
  /** A kubeconfig file (out-of-cluster runs); absent: the pod's service account. */
  readonly kubeconfigPath?: string;
  readonly namespace: string;
  /** Spreads watch lifetimes so that sidecars started together do not reconnect together. */
  readonly random: Random;
}

/** Watches last 5–10 minutes, like client-go's reflector, then resume from the last version. */
const WATCH_MIN_SECONDS = 300;

/** Builds the client (reads the credentials). */
export async function createKubeConfigMapClient(
  options: KubeClientOptions,
): Promise<ConfigMapClient> {
  const watchSeconds = (): number =>
    WATCH_MIN_SECONDS + Math.floor(options.random.next() * WATCH_MIN_SECONDS);
  if (options.kubeconfigPath === undefined) {
    return inClusterConfigMapClient(
      inClusterAccess(),
      options.namespace,
      CONFIG_MAP_SELECTOR,
      watchSeconds,
    );
  }
  const { CoreV1Api, KubeConfig, Watch } = await import('@kubernetes/client-node');
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(options.kubeconfigPath);
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const watcher = new Watch(kubeConfig);
  const { namespace } = options;
  const path = `/api/v1/namespaces/${encodeURIComponent(namespace)}/configmaps`;
  return {
    async list() {
      const list = await core.listNamespacedConfigMap({
        namespace,
        labelSelector: CONFIG_MAP_SELECTOR,
      });
      return { items: list.items, resourceVersion: list.metadata?.resourceVersion ?? '' };
    },
    watch(resourceVersion, onEvent, onDone) {
      return watcher.watch(
        path,
        {
          labelSelector: CONFIG_MAP_SELECTOR,
          resourceVersion,
          allowWatchBookmarks: true,
          timeoutSeconds: watchSeconds(),
        },
        (type: string, object: unknown) => onEvent(type, object),
        onDone,
      );
    },
  };
}
