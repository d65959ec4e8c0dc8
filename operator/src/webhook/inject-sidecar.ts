import { APP_PORT_ANNOTATION, SIDECAR_LABEL, SIDECAR_LABEL_VALUE } from '../informer/pod-info.js';
import type { SidecarSettings } from '../options.js';
import { raftPodVolumes, raftVolumeMounts } from './raft-volumes.js';

export {
  INJECTED_RAFT_PATHS,
  RAFT_SECRET_MOUNT_PATH,
  RAFT_SECRET_VOLUME,
  SIDECAR_DATA_PATH,
  SIDECAR_DATA_VOLUME,
} from './raft-volumes.js';

/** Name of the injected container; its presence is what makes injection idempotent. */
export const SIDECAR_CONTAINER_NAME = 'palisade-sidecar';
/** Label (on a pod or its namespace) that asks for injection. */
export const INJECT_LABEL = 'palisade.dev/inject';
/**
 * The sidecar's probe listener (`/livez`, `/readyz`, `/metrics` on the pod IP; the sidecar's
 * default). Fixed for now: the installation's `ports` are also the SidecarConfig's
 * `listeners`, which have no probe entry.
 */
export const SIDECAR_PROBE_PORT = 15020;

/** One RFC 6902 operation (only `add` and `replace` are produced). */
export interface JsonPatchOperation {
  op: 'add' | 'replace';
  path: string;
  value: unknown;
}

/** The pod fields injection reads (structural: raw AdmissionReview JSON fits). */
export interface InjectablePod {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: {
    containers?: {
      name?: string;
      env?: { name?: string }[];
      ports?: { name?: string; containerPort?: number }[];
    }[];
    volumes?: { name?: string }[];
  };
}

/** Outcome of `injectSidecar`. */
export type InjectionResult =
  | { kind: 'patch'; patch: JsonPatchOperation[] }
  /** Already injected: nothing to do. */
  | { kind: 'unchanged' }
  /** Cannot inject; `message` tells the user what to add. */
  | { kind: 'refused'; message: string };

/**
 * Pure: the JSON patch that adds the Palisade sidecar to `pod`. Idempotent — a pod that
 * already has a container named `palisade-sidecar` gets no patch. Adds:
 * - the `palisade-sidecar` container (inbound, outbound, Raft and probe ports; the admin port
 *   stays on loopback and is not declared; HTTP probes on the probe listener — `/livez` for
 *   start-up and liveness, `/readyz` for readiness; resources; a locked-down security context;
 *   POD_NAME / POD_NAMESPACE / POD_IP from the downward API; the app, admin and probe ports);
 * - `HTTP_PROXY`/`NO_PROXY` (and lower-case twins) on every application container that does
 *   not set them itself, so its outbound HTTP goes through the sidecar;
 * - label `palisade.dev/sidecar=injected` (what the operator watches) and the annotation
 *   `palisade.dev/app-port` with the resolved numeric port (what the compiler reads);
 * - the sidecar's Raft volumes (raft-volumes.ts): the namespace's Raft Secret, read-only, and
 *   a size-bounded emptyDir for its log; each added only if the pod has no volume of that name.
 * Refuses a pod whose app port is missing or unresolvable: without it the sidecar cannot know
 * where to send inbound traffic.
 */
export function injectSidecar(pod: InjectablePod, settings: SidecarSettings): InjectionResult {
  const containers = pod.spec?.containers ?? [];
  if (containers.some((c) => c.name === SIDECAR_CONTAINER_NAME)) return { kind: 'unchanged' };
  if (containers.length === 0) return { kind: 'refused', message: 'pod has no containers' };
  const port = resolveAppPort(pod);
  if (typeof port === 'string') return { kind: 'refused', message: port };
  for (const used of [
    settings.ports.inbound,
    settings.ports.outbound,
    settings.ports.raft,
    settings.ports.admin,
    SIDECAR_PROBE_PORT,
  ])
    if (used === port)
      return {
        kind: 'refused',
        message: `${APP_PORT_ANNOTATION} ${port} collides with a port the Palisade sidecar uses`,
      };

  const patch: JsonPatchOperation[] = [];
  const labels = pod.metadata?.labels;
  if (labels === undefined)
    patch.push({
      op: 'add',
      path: '/metadata/labels',
      value: { [SIDECAR_LABEL]: SIDECAR_LABEL_VALUE },
    });
  else
    patch.push({
      op: 'add',
      path: `/metadata/labels/${escape(SIDECAR_LABEL)}`,
      value: SIDECAR_LABEL_VALUE,
    });
  const annotations = pod.metadata?.annotations;
  if (annotations === undefined)
    patch.push({
      op: 'add',
      path: '/metadata/annotations',
      value: { [APP_PORT_ANNOTATION]: String(port) },
    });
  else if (annotations[APP_PORT_ANNOTATION] !== String(port))
    patch.push({
      op: 'add',
      path: `/metadata/annotations/${escape(APP_PORT_ANNOTATION)}`,
      value: String(port),
    });

  const proxyEnv = [
    { name: 'HTTP_PROXY', value: `http://127.0.0.1:${settings.ports.outbound}` },
    { name: 'http_proxy', value: `http://127.0.0.1:${settings.ports.outbound}` },
    { name: 'NO_PROXY', value: '127.0.0.1,localhost' },
    { name: 'no_proxy', value: '127.0.0.1,localhost' },
  ];
  containers.forEach((container, index) => {
    const existing = new Set((container.env ?? []).map((e) => e.name));
    const missing = proxyEnv.filter((e) => !existing.has(e.name));
    if (missing.length === 0) return;
    if (container.env === undefined)
      patch.push({ op: 'add', path: `/spec/containers/${index}/env`, value: missing });
    else
      for (const e of missing)
        patch.push({ op: 'add', path: `/spec/containers/${index}/env/-`, value: e });
  });

  patch.push({ op: 'add', path: '/spec/containers/-', value: sidecarContainer(settings, port) });
  const existing = new Set((pod.spec?.volumes ?? []).map((v) => v.name));
  const volumes = raftPodVolumes().filter((v) => !existing.has(v['name'] as string));
  if (pod.spec?.volumes === undefined)
    patch.push({ op: 'add', path: '/spec/volumes', value: volumes });
  else
    for (const volume of volumes) patch.push({ op: 'add', path: '/spec/volumes/-', value: volume });
  return { kind: 'patch', patch };
}

/** The container the webhook adds (exported for docs and tests). */
export function sidecarContainer(
  settings: SidecarSettings,
  appPort: number,
): Record<string, unknown> {
  const { ports } = settings;
  const field = (fieldPath: string) => ({ valueFrom: { fieldRef: { fieldPath } } });
  // The kubelet cannot reach the loopback admin API; the probe listener serves the same
  // answers on the pod IP. Readiness includes "config listed from the API server".
  const probe = (path: string, periodSeconds: number, failureThreshold: number) => ({
    httpGet: { path, port: 'palisade-probe' },
    periodSeconds,
    failureThreshold,
    timeoutSeconds: 1,
  });
  return {
    name: SIDECAR_CONTAINER_NAME,
    image: settings.image,
    imagePullPolicy: settings.imagePullPolicy,
    args: [...settings.args],
    ports: [
      { name: 'palisade-in', containerPort: ports.inbound, protocol: 'TCP' },
      { name: 'palisade-out', containerPort: ports.outbound, protocol: 'TCP' },
      { name: 'palisade-raft', containerPort: ports.raft, protocol: 'TCP' },
      { name: 'palisade-probe', containerPort: SIDECAR_PROBE_PORT, protocol: 'TCP' },
    ],
    env: [
      { name: 'POD_NAME', ...field('metadata.name') },
      { name: 'POD_NAMESPACE', ...field('metadata.namespace') },
      { name: 'POD_IP', ...field('status.podIP') },
      { name: 'PALISADE_APP_PORT', value: String(appPort) },
      { name: 'PALISADE_ADMIN_PORT', value: String(ports.admin) },
      { name: 'PALISADE_INBOUND_PORT', value: String(ports.inbound) },
      { name: 'PALISADE_OUTBOUND_PORT', value: String(ports.outbound) },
      { name: 'PALISADE_RAFT_PORT', value: String(ports.raft) },
      { name: 'PALISADE_PROBE_PORT', value: String(SIDECAR_PROBE_PORT) },
    ],
    // Start-up waits up to 10 s for the first ConfigMap list: 30 × 1 s covers it.
    startupProbe: probe('/livez', 1, 30),
    readinessProbe: probe('/readyz', 5, 3),
    livenessProbe: probe('/livez', 10, 3),
    resources: {
      requests: { ...settings.resources.requests },
      limits: { ...settings.resources.limits },
    },
    securityContext: {
      runAsNonRoot: true,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    },
    volumeMounts: raftVolumeMounts(),
  };
}

/**
 * The app port from annotation (preferred) or label `palisade.dev/app-port`: a number, or the
 * name of a port declared by an application container. Returns an error message otherwise.
 */
export function resolveAppPort(pod: InjectablePod): number | string {
  const text =
    pod.metadata?.annotations?.[APP_PORT_ANNOTATION] ?? pod.metadata?.labels?.[APP_PORT_ANNOTATION];
  if (text === undefined || text === '')
    return `pod asks for the Palisade sidecar but has no ${APP_PORT_ANNOTATION} annotation or label naming the application's port`;
  if (/^[0-9]{1,5}$/.test(text)) {
    const n = Number(text);
    if (n >= 1 && n <= 65535) return n;
    return `${APP_PORT_ANNOTATION} '${text}' is not a port (1-65535)`;
  }
  for (const c of pod.spec?.containers ?? [])
    for (const p of c.ports ?? [])
      if (p.name === text && p.containerPort !== undefined) return p.containerPort;
  return `${APP_PORT_ANNOTATION} '${text.slice(0, 63)}' is neither a port number nor the name of a container port`;
}

/** RFC 6901: `~` → `~0`, `/` → `~1`. */
function escape(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}
