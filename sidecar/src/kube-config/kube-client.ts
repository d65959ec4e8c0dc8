/**
 * The client-node adapter of `ConfigMapClient`: a label-selected list and watch of one
 * namespace's ConfigMaps. @kubernetes/client-node is imported here only, lazily, so the
 * standalone sidecar never loads it.
 */
import type { Random } from '../core/random.js';
import type { ConfigMapClient } from './config-map-reflector.js';
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

/** Builds the client (loads client-node and the credentials). */
export async function createKubeConfigMapClient(
  options: KubeClientOptions,
): Promise<ConfigMapClient> {
  const { CoreV1Api, KubeConfig, Watch } = await import('@kubernetes/client-node');
  const kubeConfig = new KubeConfig();
  if (options.kubeconfigPath !== undefined) kubeConfig.loadFromFile(options.kubeconfigPath);
  else kubeConfig.loadFromCluster();
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
          timeoutSeconds: WATCH_MIN_SECONDS + Math.floor(options.random.next() * WATCH_MIN_SECONDS),
        },
        (type: string, object: unknown) => onEvent(type, object),
        onDone,
      );
    },
  };
}
