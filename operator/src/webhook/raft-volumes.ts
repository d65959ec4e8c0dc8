/**
 * Where an injected sidecar finds its Raft group credential and keeps its Raft log. One source
 * of truth: the webhook mounts these paths, and the operator compiles them into the `raft`
 * section of injected pods' configs (`INJECTED_RAFT_PATHS`, the installation default while the
 * webhook is on).
 */
import { RAFT_SECRET_KEY, RAFT_SECRET_NAME } from '../reconcilers/namespace-objects.js';

/** Volume of the namespace's Raft Secret (read-only, in the sidecar only). */
export const RAFT_SECRET_VOLUME = 'palisade-raft-secret';
/** Where that Secret is mounted in the sidecar. */
export const RAFT_SECRET_MOUNT_PATH = '/var/run/palisade/raft';
/** Volume for the sidecar's data: the Raft WAL and snapshots (the root filesystem is read-only). */
export const SIDECAR_DATA_VOLUME = 'palisade-data';
/** Where that volume is mounted in the sidecar. */
export const SIDECAR_DATA_PATH = '/var/lib/palisade';
/**
 * Bound on the data volume. Snapshots keep 1,000 entries behind and the lease table is small;
 * a pod that exceeds it is evicted by the kubelet rather than filling the node's disk.
 */
export const SIDECAR_DATA_SIZE_LIMIT = '256Mi';

/** `raft.secretFile` and `raft.dataDir` of an injected sidecar. */
export const INJECTED_RAFT_PATHS = Object.freeze({
  secretFile: `${RAFT_SECRET_MOUNT_PATH}/${RAFT_SECRET_KEY}`,
  dataDir: `${SIDECAR_DATA_PATH}/raft`,
});

/**
 * The pod volumes injection adds. The Secret is `optional`: the operator creates it once the
 * namespace has an injected pod, possibly after this pod, and the kubelet fills the volume in
 * when it appears (the sidecar retries until then). Mode 0444 rather than 0400: Secret files
 * are owned by root and the sidecar runs as a non-root user without a pod `fsGroup` (which would
 * re-own the application's volumes too); only the sidecar container mounts the volume.
 */
export function raftPodVolumes(): Record<string, unknown>[] {
  return [
    {
      name: RAFT_SECRET_VOLUME,
      secret: {
        secretName: RAFT_SECRET_NAME,
        items: [{ key: RAFT_SECRET_KEY, path: RAFT_SECRET_KEY, mode: 0o444 }],
        optional: true,
      },
    },
    { name: SIDECAR_DATA_VOLUME, emptyDir: { sizeLimit: SIDECAR_DATA_SIZE_LIMIT } },
  ];
}

/** The sidecar container's mounts of `raftPodVolumes`. */
export function raftVolumeMounts(): Record<string, unknown>[] {
  return [
    { name: RAFT_SECRET_VOLUME, mountPath: RAFT_SECRET_MOUNT_PATH, readOnly: true },
    { name: SIDECAR_DATA_VOLUME, mountPath: SIDECAR_DATA_PATH },
  ];
}
