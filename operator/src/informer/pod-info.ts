import type { PodInfo } from '../compiler/types.js';

/** Annotation naming the application's port (API.md, Injection). */
export const APP_PORT_ANNOTATION = 'palisade.dev/app-port';
/** Label the injection webhook puts on every pod it injects; the operator watches only those. */
export const SIDECAR_LABEL = 'palisade.dev/sidecar';
/** Value of `SIDECAR_LABEL` on injected pods. */
export const SIDECAR_LABEL_VALUE = 'injected';

/**
 * The fields of a V1Pod the compiler reads. Structural, so that both typed client objects
 * (timestamps as Date) and raw watch JSON (timestamps as strings) fit.
 */
export interface PodLike {
  metadata?: {
    name?: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    creationTimestamp?: Date | string;
    deletionTimestamp?: Date | string;
  };
  status?: {
    podIP?: string;
    conditions?: { type: string; status: string }[];
  };
}

/** What the compiler needs of a pod. */
export function podInfoFromPod(pod: PodLike): PodInfo {
  const meta = pod.metadata ?? {};
  const created = meta.creationTimestamp;
  const info: PodInfo = {
    namespace: meta.namespace ?? '',
    name: meta.name ?? '',
    labels: meta.labels ?? {},
    creationTimestamp:
      created === undefined
        ? new Date(0).toISOString()
        : typeof created === 'string'
          ? created
          : created.toISOString(),
    ready: pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false,
  };
  const ip = pod.status?.podIP;
  if (ip !== undefined && ip !== '') info.podIP = ip;
  const port = parsePort(meta.annotations?.[APP_PORT_ANNOTATION]);
  if (port !== undefined) info.appPort = port;
  if (meta.deletionTimestamp !== undefined) info.terminating = true;
  return info;
}

function parsePort(text: string | undefined): number | undefined {
  if (text === undefined || !/^[0-9]{1,5}$/.test(text)) return undefined;
  const n = Number(text);
  return n >= 1 && n <= 65535 ? n : undefined;
}
