import { FIELD_MANAGER, MANAGED_BY_LABEL } from './config-map.js';
import {
  ownedByAnotherInstallation,
  sameOwners,
  type OwnedObjectMetadata,
  type OwnerReference,
} from './installation-owner.js';
import { RAFT_SECRET_NAME, SIDECAR_ROLE_BINDING_NAME } from './namespace-objects.js';

/** The shape of a RoleBinding the operator reads and writes. */
export interface RoleBindingObject {
  apiVersion?: string;
  kind?: string;
  metadata: OwnedObjectMetadata;
  roleRef: { apiGroup: string; kind: string; name: string };
  subjects?: { kind: string; apiGroup?: string; name: string; namespace?: string }[];
}

/** What the operator reads of a Secret: its metadata only, never its data. */
export interface SecretMetadata {
  metadata: OwnedObjectMetadata;
}

/** A Secret the operator creates. */
export interface SecretObject extends SecretMetadata {
  apiVersion: 'v1';
  kind: 'Secret';
  type: 'Opaque';
  /** Base64 values. */
  data: Record<string, string>;
}

/** What one namespace has and needs, as the reconciler read it. */
export interface NamespaceObjectsState {
  namespace: string;
  /** Whether any injected pod (terminating ones included: they still run) is in the namespace. */
  hasInjectedPods: boolean;
  /** The RoleBinding named `SIDECAR_ROLE_BINDING_NAME`, whoever made it. */
  roleBinding: RoleBindingObject | undefined;
  /** The Secret named `RAFT_SECRET_NAME`, whoever made it. */
  secret: SecretMetadata | undefined;
  /** The ClusterRole sidecars are bound to. */
  sidecarClusterRole: string;
  /** ownerReferences every object must carry (none without an installation owner). */
  owners: readonly OwnerReference[];
}

/** One write of the namespace reconciler. `createSecret` gets its key from the reconciler. */
export type NamespaceObjectWrite =
  | { op: 'applyRoleBinding'; roleBinding: RoleBindingObject }
  | { op: 'deleteRoleBinding'; namespace: string; name: string }
  | { op: 'createSecret'; secret: SecretMetadata }
  | { op: 'setSecretOwners'; namespace: string; name: string; owners: OwnerReference[] }
  | { op: 'deleteSecret'; namespace: string; name: string };

const RBAC_GROUP = 'rbac.authorization.k8s.io';

/** The group of every service account of `namespace`. */
export function serviceAccountsGroup(namespace: string): string {
  return `system:serviceaccounts:${namespace}`;
}

/** The RoleBinding granting `namespace`'s service accounts the sidecar ClusterRole. */
export function desiredRoleBinding(
  namespace: string,
  sidecarClusterRole: string,
  owners: readonly OwnerReference[],
): RoleBindingObject {
  return {
    apiVersion: `${RBAC_GROUP}/v1`,
    kind: 'RoleBinding',
    metadata: {
      name: SIDECAR_ROLE_BINDING_NAME,
      namespace,
      labels: { [MANAGED_BY_LABEL]: FIELD_MANAGER },
      ...(owners.length === 0 ? {} : { ownerReferences: [...owners] }),
    },
    roleRef: { apiGroup: RBAC_GROUP, kind: 'ClusterRole', name: sidecarClusterRole },
    // Every service account of the namespace: pods run as whichever the app chose.
    subjects: [{ kind: 'Group', apiGroup: RBAC_GROUP, name: serviceAccountsGroup(namespace) }],
  };
}

/** The Raft Secret's metadata (the reconciler adds the key when it creates it). */
export function desiredSecretMetadata(
  namespace: string,
  owners: readonly OwnerReference[],
): SecretMetadata {
  return {
    metadata: {
      name: RAFT_SECRET_NAME,
      namespace,
      labels: { [MANAGED_BY_LABEL]: FIELD_MANAGER },
      ...(owners.length === 0 ? {} : { ownerReferences: [...owners] }),
    },
  };
}

function isManaged(object: { metadata: { labels?: Record<string, string> } }): boolean {
  return object.metadata.labels?.[MANAGED_BY_LABEL] === FIELD_MANAGER;
}

/**
 * The writes that give a namespace with injected pods its sidecar RoleBinding and Raft Secret,
 * and take them away when no injected pod is left. Nothing is written when both are as desired
 * (a resync writes nothing). Ownership rules:
 * - the RoleBinding name is the operator's: one made by hand (the old install workaround) is
 *   taken over; its `roleRef` cannot change, so a different role means delete, then apply;
 * - the Secret is created once and never rewritten: only its ownerReferences follow the
 *   installation owner. A Secret of that name without the managed-by label is the user's own
 *   key: used as it is, never changed or deleted;
 * - an object owned by another installation's webhook configuration is that installation's:
 *   neither changed nor deleted (two installations would otherwise rewrite it in turn forever).
 */
export function planNamespaceObjects(state: NamespaceObjectsState): NamespaceObjectWrite[] {
  const { namespace, roleBinding, secret, owners } = state;
  const ours = (o: { metadata: { ownerReferences?: OwnerReference[] } }) =>
    !ownedByAnotherInstallation(o.metadata.ownerReferences, owners);
  const writes: NamespaceObjectWrite[] = [];
  if (!state.hasInjectedPods) {
    if (roleBinding !== undefined && isManaged(roleBinding) && ours(roleBinding))
      writes.push({ op: 'deleteRoleBinding', namespace, name: SIDECAR_ROLE_BINDING_NAME });
    if (secret !== undefined && isManaged(secret) && ours(secret))
      writes.push({ op: 'deleteSecret', namespace, name: RAFT_SECRET_NAME });
    return writes;
  }
  const wanted = desiredRoleBinding(namespace, state.sidecarClusterRole, owners);
  if (roleBinding === undefined || (ours(roleBinding) && !sameRoleBinding(roleBinding, wanted))) {
    if (roleBinding !== undefined && roleBinding.roleRef.name !== wanted.roleRef.name)
      writes.push({ op: 'deleteRoleBinding', namespace, name: SIDECAR_ROLE_BINDING_NAME });
    writes.push({ op: 'applyRoleBinding', roleBinding: wanted });
  }
  if (secret === undefined) {
    writes.push({ op: 'createSecret', secret: desiredSecretMetadata(namespace, owners) });
  } else if (
    isManaged(secret) &&
    ours(secret) &&
    !sameOwners(secret.metadata.ownerReferences, owners)
  ) {
    writes.push({ op: 'setSecretOwners', namespace, name: RAFT_SECRET_NAME, owners: [...owners] });
  }
  return writes;
}

function sameRoleBinding(existing: RoleBindingObject, wanted: RoleBindingObject): boolean {
  const [subject] = existing.subjects ?? [];
  const [wantedSubject] = wanted.subjects ?? [];
  return (
    isManaged(existing) &&
    existing.roleRef.kind === wanted.roleRef.kind &&
    existing.roleRef.name === wanted.roleRef.name &&
    (existing.subjects ?? []).length === 1 &&
    subject?.kind === wantedSubject?.kind &&
    subject?.name === wantedSubject?.name &&
    sameOwners(existing.metadata.ownerReferences, wanted.metadata.ownerReferences ?? [])
  );
}
