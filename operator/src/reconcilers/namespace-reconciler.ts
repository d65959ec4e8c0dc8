import { randomBytes } from 'node:crypto';
import type { Reconcile } from '../queue/controller.js';
import type { OwnerReference } from './installation-owner.js';
import type { KubeApi } from './kube-api.js';
import {
  RAFT_SECRET_KEY,
  RAFT_SECRET_NAME,
  SIDECAR_ROLE_BINDING_NAME,
} from './namespace-objects.js';
import { planNamespaceObjects, type NamespaceObjectWrite } from './namespace-provisioning.js';

/** Bytes of a namespace's Raft key. */
export const RAFT_KEY_BYTES = 32;

/** Options of the namespace reconciler. */
export interface NamespaceReconcilerOptions {
  api: KubeApi;
  /** The ClusterRole bound to each namespace's service accounts. */
  sidecarClusterRole: string;
  /** ownerReferences to write now (the installation owner; none without one). */
  owners: () => readonly OwnerReference[];
  /** A new Raft key (default: RAFT_KEY_BYTES from node:crypto). */
  newKey?: () => Uint8Array;
  /** Told about each write (metrics, tests); never given the key. */
  onWrite?: (write: NamespaceObjectWrite) => void;
}

/**
 * Provisions one namespace (key: the namespace) for its injected pods: the sidecar RoleBinding
 * and the Raft Secret while any injected pod exists, neither once none is left. Reads both by
 * name from the API (Secrets cannot be listed by name, so there is no Secret cache) and the pods
 * from the informer cache; writes only the difference (`planNamespaceObjects`).
 */
export function createNamespaceReconciler(options: NamespaceReconcilerOptions): Reconcile {
  const { api, sidecarClusterRole, owners, onWrite } = options;
  const newKey = options.newKey ?? (() => randomBytes(RAFT_KEY_BYTES));
  return async (namespace, signal) => {
    const [pods, roleBinding, secret] = await Promise.all([
      api.listPods(namespace),
      api.getRoleBinding(namespace, SIDECAR_ROLE_BINDING_NAME),
      api.getSecretMetadata(namespace, RAFT_SECRET_NAME),
    ]);
    const writes = planNamespaceObjects({
      namespace,
      hasInjectedPods: pods.length > 0,
      roleBinding,
      secret,
      sidecarClusterRole,
      owners: owners(),
    });
    for (const write of writes) {
      signal.throwIfAborted();
      switch (write.op) {
        case 'applyRoleBinding':
          await api.applyRoleBinding(write.roleBinding, signal);
          break;
        case 'deleteRoleBinding':
          await api.deleteRoleBinding(write.namespace, write.name, signal);
          break;
        case 'createSecret':
          await api.createSecret(
            {
              apiVersion: 'v1',
              kind: 'Secret',
              type: 'Opaque',
              metadata: write.secret.metadata,
              data: { [RAFT_SECRET_KEY]: Buffer.from(newKey()).toString('base64') },
            },
            signal,
          );
          break;
        case 'setSecretOwners':
          await api.setSecretOwners(write.namespace, write.name, write.owners, signal);
          break;
        case 'deleteSecret':
          await api.deleteSecret(write.namespace, write.name, signal);
          break;
      }
      onWrite?.(write);
    }
  };
}
