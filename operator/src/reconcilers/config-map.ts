import type { CompiledConfig } from '../compiler/types.js';
import { sameOwners, type OwnedObjectMetadata, type OwnerReference } from './installation-owner.js';

/** Field manager of every server-side apply the operator makes. */
export const FIELD_MANAGER = 'palisade-operator';
/** Names of config ConfigMaps: this prefix + the content hash. */
export const CONFIG_MAP_PREFIX = 'palisade-config-';
/** Standard label marking what the operator manages (and may garbage-collect). */
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
/** Label carrying the content hash (= `version`) of the config inside. */
export const CONFIG_HASH_LABEL = 'palisade.dev/config-hash';
/**
 * Annotation ordering assignments: a pod listed by two ConfigMaps for a moment (it moved and
 * the old object is not yet rewritten) follows the one with the larger epoch.
 */
export const ASSIGNMENT_EPOCH_ANNOTATION = 'palisade.dev/assignment-epoch';
/** Data key holding the shared SidecarConfig (JSON, which is also YAML). */
export const CONFIG_KEY = 'config.json';
/** Data key listing the pods (one name per line, sorted) that enforce it. */
export const PODS_KEY = 'pods';
/** Label selector of the operator's ConfigMaps (sidecars watch with it, in their namespace). */
export const MANAGED_BY_SELECTOR = `${MANAGED_BY_LABEL}=${FIELD_MANAGER}`;

/** The shape of a ConfigMap the operator reads and writes. */
export interface ConfigMapObject {
  apiVersion?: string;
  kind?: string;
  metadata: OwnedObjectMetadata & { annotations?: Record<string, string> };
  data?: Record<string, string>;
}

/** Name of the ConfigMap delivering the config with this hash. */
export function configMapName(hash: string): string {
  return `${CONFIG_MAP_PREFIX}${hash}`;
}

/** Whether the operator owns this ConfigMap (and may delete it). */
export function isManagedConfigMap(cm: ConfigMapObject): boolean {
  return (
    cm.metadata.labels?.[MANAGED_BY_LABEL] === FIELD_MANAGER &&
    cm.metadata.name.startsWith(CONFIG_MAP_PREFIX)
  );
}

/** The data of the ConfigMap for one compiled config (without the epoch, which is not content). */
export function configMapData(compiled: CompiledConfig): Record<string, string> {
  return { [CONFIG_KEY]: compiled.json, [PODS_KEY]: compiled.pods.join('\n') };
}

/**
 * The full ConfigMap to apply for one compiled config, owned by `owners` (the installation
 * owner, decision 0018; none when the operator runs without one).
 */
export function desiredConfigMap(
  compiled: CompiledConfig,
  epoch: number,
  owners: readonly OwnerReference[] = [],
): ConfigMapObject {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: configMapName(compiled.hash),
      namespace: compiled.namespace,
      labels: { [MANAGED_BY_LABEL]: FIELD_MANAGER, [CONFIG_HASH_LABEL]: compiled.hash },
      annotations: { [ASSIGNMENT_EPOCH_ANNOTATION]: String(epoch) },
      ...(owners.length === 0 ? {} : { ownerReferences: [...owners] }),
    },
    data: configMapData(compiled),
  };
}

/** One write the configs reconciler must make. */
export type ConfigMapWrite =
  { op: 'apply'; configMap: ConfigMapObject } | { op: 'delete'; namespace: string; name: string };

/**
 * The writes that turn `existing` (the namespace's managed ConfigMaps) into `desired`
 * (compiled configs), in a safe order: first the objects that are new or gain pods, then
 * those that only lose pods, then deletions, so that a moving pod is never left without a
 * config. Unchanged objects are not written (a resync that changes nothing writes nothing);
 * an object whose owners differ from `owners` is rewritten. Changed objects get an epoch larger
 * than any existing one and at least `nowMs`.
 */
export function planConfigMapWrites(
  desired: readonly CompiledConfig[],
  existing: readonly ConfigMapObject[],
  nowMs: number,
  owners: readonly OwnerReference[] = [],
): ConfigMapWrite[] {
  const managed = existing.filter(isManagedConfigMap);
  const byName = new Map(managed.map((cm) => [cm.metadata.name, cm]));
  let maxEpoch = 0;
  for (const cm of managed) {
    const e = Number(cm.metadata.annotations?.[ASSIGNMENT_EPOCH_ANNOTATION] ?? 0);
    if (Number.isFinite(e)) maxEpoch = Math.max(maxEpoch, e);
  }
  const epoch = Math.max(Math.floor(nowMs), maxEpoch + 1);
  const gaining: ConfigMapWrite[] = [];
  const losing: ConfigMapWrite[] = [];
  const wanted = new Set<string>();
  for (const compiled of desired) {
    const name = configMapName(compiled.hash);
    wanted.add(name);
    const current = byName.get(name);
    const data = configMapData(compiled);
    if (
      current !== undefined &&
      sameData(current.data, data) &&
      hasLabels(current, compiled.hash) &&
      sameOwners(current.metadata.ownerReferences, owners)
    )
      continue;
    const write: ConfigMapWrite = {
      op: 'apply',
      configMap: desiredConfigMap(compiled, epoch, owners),
    };
    const before = new Set((current?.data?.[PODS_KEY] ?? '').split('\n').filter((p) => p !== ''));
    if (current === undefined || compiled.pods.some((p) => !before.has(p))) gaining.push(write);
    else losing.push(write);
  }
  const deletions: ConfigMapWrite[] = managed
    .filter((cm) => !wanted.has(cm.metadata.name))
    .map((cm) => ({ op: 'delete', namespace: cm.metadata.namespace, name: cm.metadata.name }));
  return [...gaining, ...losing, ...deletions];
}

function sameData(a: Record<string, string> | undefined, b: Record<string, string>): boolean {
  const ka = Object.keys(a ?? {});
  return ka.length === Object.keys(b).length && ka.every((k) => a?.[k] === b[k]);
}

function hasLabels(cm: ConfigMapObject, hash: string): boolean {
  return (
    cm.metadata.labels?.[MANAGED_BY_LABEL] === FIELD_MANAGER &&
    cm.metadata.labels[CONFIG_HASH_LABEL] === hash
  );
}
