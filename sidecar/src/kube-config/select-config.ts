/**
 * Which delivered config this pod enforces (decision 0008), pure. The operator writes one
 * ConfigMap `palisade-config-<hash>` per distinct config, labelled
 * `app.kubernetes.io/managed-by=palisade-operator`, with `data.config.json` (the shared
 * document), `data.pods` (the pods that enforce it, one name per line) and the annotation
 * `palisade.dev/assignment-epoch`. A pod follows the object whose `pods` lists it; while a pod
 * moves, two objects may list it for a moment and the larger epoch wins. No object → the "no
 * policy" document: the sidecar is a plain proxy to its app.
 *
 * The names below are the operator's (operator/src/reconcilers/config-map.ts): the sidecar must
 * not import the operator, and the e2e tests prove both sides agree.
 */
import { ConfigError } from '../config/errors.js';
import { parseConfigText } from '../config/load-config.js';

/** Label selector of the operator's config ConfigMaps (one watch per namespace uses it). */
export const CONFIG_MAP_SELECTOR = 'app.kubernetes.io/managed-by=palisade-operator';
/** Data key holding the shared SidecarConfig (canonical JSON). */
export const CONFIG_KEY = 'config.json';
/** Data key listing the pods that enforce it, one name per line. */
export const PODS_KEY = 'pods';
/** Annotation ordering two objects that list the same pod: the larger epoch wins. */
export const ASSIGNMENT_EPOCH_ANNOTATION = 'palisade.dev/assignment-epoch';
/** `version` of the document enforced while no object lists the pod. */
export const NO_POLICY_VERSION = 'no-policy';

/** The part of a config ConfigMap selection reads, validated (see `toConfigMapView`). */
export interface ConfigMapView {
  readonly name: string;
  readonly resourceVersion: string;
  /** `palisade.dev/assignment-epoch`; 0 when absent or not a number. */
  readonly epoch: number;
  /** `data.config.json`, possibly absent (then the object is unusable, not ignored). */
  readonly configText: string | undefined;
  /** `data.pods` as delivered (one name per line); ask `listsPod`. */
  readonly podsText: string;
}

/**
 * Whether `podsText` (one name per line) lists `pod` as a whole line. A search, not a split: a
 * namespace's every sidecar receives every object, each listing up to all its pods, and each
 * sidecar asks about one name only.
 */
export function listsPod(podsText: string, pod: string): boolean {
  if (pod === '') return false;
  for (let at = podsText.indexOf(pod); at >= 0; at = podsText.indexOf(pod, at + 1)) {
    const end = at + pod.length;
    if (
      (at === 0 || podsText[at - 1] === '\n') &&
      (end === podsText.length || podsText[end] === '\n')
    )
      return true;
  }
  return false;
}

/**
 * Reads the fields selection needs from an untrusted API object; `null` when it is not a
 * ConfigMap-shaped object with a name (a watch may deliver anything).
 */
export function toConfigMapView(object: unknown): ConfigMapView | null {
  if (typeof object !== 'object' || object === null) return null;
  const { metadata, data } = object as { metadata?: unknown; data?: unknown };
  if (typeof metadata !== 'object' || metadata === null) return null;
  const { name, resourceVersion, annotations } = metadata as {
    name?: unknown;
    resourceVersion?: unknown;
    annotations?: unknown;
  };
  if (typeof name !== 'string' || name === '') return null;
  const epochText =
    typeof annotations === 'object' && annotations !== null
      ? (annotations as Record<string, unknown>)[ASSIGNMENT_EPOCH_ANNOTATION]
      : undefined;
  const epoch = typeof epochText === 'string' ? Number(epochText) : 0;
  const values = typeof data === 'object' && data !== null ? (data as Record<string, unknown>) : {};
  const configText = values[CONFIG_KEY];
  const podsText = values[PODS_KEY];
  return {
    name,
    resourceVersion: typeof resourceVersion === 'string' ? resourceVersion : '',
    epoch: Number.isFinite(epoch) && epoch >= 0 ? epoch : 0,
    configText: typeof configText === 'string' ? configText : undefined,
    podsText: typeof podsText === 'string' ? podsText : '',
  };
}

/**
 * The object `podName` follows: among those listing it, the largest epoch, then (a tie only
 * happens with hand-written objects) the smallest name, so every sidecar decides alike.
 */
export function selectConfigMap(
  objects: Iterable<ConfigMapView>,
  podName: string,
): ConfigMapView | null {
  let best: ConfigMapView | null = null;
  for (const object of objects) {
    if (!listsPod(object.podsText, podName)) continue;
    if (
      best === null ||
      object.epoch > best.epoch ||
      (object.epoch === best.epoch && object.name < best.name)
    )
      best = object;
  }
  return best;
}

/** Listener ports fixed by the pod spec (flags/env); they override the delivered ones. */
export interface ListenerOverrides {
  readonly admin?: number;
  readonly inbound?: number;
  readonly outbound?: number;
  readonly raft?: number;
}

/** What this pod is: its name (`raft.id`), its app port and its listener ports. */
export interface PodIdentity {
  readonly podName: string;
  /** The app's port (`PALISADE_APP_PORT`); used by the no-policy document. */
  readonly appPort: number;
  readonly listeners: ListenerOverrides;
}

/**
 * The per-pod document for the shared one in `configText`: `raft.id` set to the pod's name
 * (the shared document omits it) and the listener ports the pod was started with. Throws the
 * `ConfigError` of `parseConfigText` for text that is not JSON; everything else is left to the
 * store's validation, so a bad object is refused exactly like a bad file.
 */
export function podConfigDocument(configText: string, pod: PodIdentity, source: string): unknown {
  const document = parseConfigText(configText, 'json', source);
  if (typeof document !== 'object' || document === null || Array.isArray(document)) return document;
  const shared = document as Record<string, unknown>;
  const raft = shared['raft'];
  return {
    ...shared,
    listeners: { ...(shared['listeners'] as object | undefined), ...definedPorts(pod.listeners) },
    ...(typeof raft === 'object' && raft !== null ? { raft: { ...raft, id: pod.podName } } : {}),
  };
}

/** The document enforced while no object lists the pod: no policy, proxy to the app. */
export function noPolicyDocument(pod: PodIdentity): Record<string, unknown> {
  return {
    version: NO_POLICY_VERSION,
    app: { host: '127.0.0.1', port: pod.appPort },
    listeners: definedPorts(pod.listeners),
  };
}

/** What the pod should enforce now. */
export type PodConfigDecision =
  | {
      readonly kind: 'config';
      /** `configmap <namespace>/<name>@<resourceVersion>`: for logs and the store's source. */
      readonly source: string;
      readonly name: string;
      readonly epoch: number;
      readonly document: unknown;
    }
  | { readonly kind: 'invalid'; readonly source: string; readonly error: ConfigError }
  | { readonly kind: 'none'; readonly source: string; readonly document: unknown };

/** `source` of the decision for `selected`: its name and resourceVersion, or "none". */
export function decisionSource(selected: ConfigMapView | null, namespace: string): string {
  return selected === null
    ? 'no config map lists this pod'
    : `configmap ${namespace}/${selected.name}@${selected.resourceVersion}`;
}

/** The decision for the object `selectConfigMap` chose (parsing its config). */
export function decidePodConfig(
  selected: ConfigMapView | null,
  pod: PodIdentity,
  namespace: string,
): PodConfigDecision {
  const source = decisionSource(selected, namespace);
  if (selected === null) return { kind: 'none', source, document: noPolicyDocument(pod) };
  if (selected.configText === undefined) {
    const error = new ConfigError('CONFIG_READ_FAILED', `${source} has no data.${CONFIG_KEY}`, [], {
      source,
    });
    return { kind: 'invalid', source, error };
  }
  try {
    const document = podConfigDocument(selected.configText, pod, source);
    return { kind: 'config', source, name: selected.name, epoch: selected.epoch, document };
  } catch (error) {
    return { kind: 'invalid', source, error: error as ConfigError };
  }
}

function definedPorts(ports: ListenerOverrides): Record<string, number> {
  return Object.fromEntries(Object.entries(ports).filter(([, port]) => port !== undefined));
}
