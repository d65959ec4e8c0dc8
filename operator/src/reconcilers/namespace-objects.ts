/**
 * Names of the objects the operator provisions in every namespace with injected pods. The
 * webhook mounts the Raft Secret into the sidecars it injects and the namespace reconciler
 * creates both objects, so both import the names from here.
 */

/** RoleBinding granting the namespace's service accounts the sidecar ClusterRole. */
export const SIDECAR_ROLE_BINDING_NAME = 'palisade-sidecar';
/** Secret holding the key the sidecars of the namespace's Raft groups authenticate with. */
export const RAFT_SECRET_NAME = 'palisade-raft';
/** Data key of the Raft Secret holding the key (32 random bytes). */
export const RAFT_SECRET_KEY = 'key';
