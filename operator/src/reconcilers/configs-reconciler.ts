import type { Clock } from '../core/clock.js';
import type { Reconcile } from '../queue/controller.js';
import { planConfigMapWrites, type ConfigMapWrite } from './config-map.js';
import type { OwnerReference } from './installation-owner.js';
import type { KubeApi } from './kube-api.js';
import type { NamespaceCompiler } from './namespace-compiler.js';

/** Options of the configs reconciler. */
export interface ConfigsReconcilerOptions {
  api: KubeApi;
  compiler: NamespaceCompiler;
  clock: Clock;
  /** ownerReferences every ConfigMap must carry now (default none). */
  owners?: () => readonly OwnerReference[];
  /** Told about each write (metrics: API writes per reconcile). */
  onWrite?: (write: ConfigMapWrite) => void;
}

/**
 * Delivers the compiled configs of one namespace (key: the namespace): applies one ConfigMap
 * per content hash listing the pods that enforce it, and deletes the managed ConfigMaps no pod
 * uses any more. Level-based and idempotent: it compares the compile with what exists and
 * writes only the difference, in an order that never leaves a moving pod without config.
 * ConfigMaps carry the installation owner, so that `helm uninstall` garbage-collects them.
 */
export function createConfigsReconciler(options: ConfigsReconcilerOptions): Reconcile {
  const { api, compiler, clock, onWrite } = options;
  const owners = options.owners ?? (() => []);
  return async (namespace, signal) => {
    const [output, existing] = await Promise.all([
      compiler.compile(namespace),
      api.listConfigMaps(namespace),
    ]);
    const desired = output.configs.filter((c) => c.namespace === namespace);
    for (const write of planConfigMapWrites(desired, existing, clock.now(), owners())) {
      signal.throwIfAborted();
      if (write.op === 'apply') await api.applyConfigMap(write.configMap, signal);
      else await api.deleteConfigMap(write.namespace, write.name, signal);
      onWrite?.(write);
    }
  };
}
