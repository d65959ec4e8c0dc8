import { APP_PORT_ANNOTATION, type PodLike } from './pod-info.js';

/** What the informer keeps of each Pod: what the compiler and chaos read, plus resourceVersion. */
export interface SlimPod extends PodLike {
  apiVersion?: string;
  kind?: string;
  metadata?: PodLike['metadata'] & { resourceVersion?: string; uid?: string };
}

/**
 * Drops everything the operator never reads from a Pod (spec, managedFields, container
 * statuses, most annotations): at 10,000 pods the full objects would dominate the operator's
 * memory. Keeps identity, labels, the app-port annotation, timestamps, IP and conditions.
 */
export function slimPod(pod: SlimPod): SlimPod {
  const m = pod.metadata ?? {};
  const appPort = m.annotations?.[APP_PORT_ANNOTATION];
  return {
    ...(pod.apiVersion === undefined ? {} : { apiVersion: pod.apiVersion }),
    ...(pod.kind === undefined ? {} : { kind: pod.kind }),
    metadata: {
      ...(m.name === undefined ? {} : { name: m.name }),
      ...(m.namespace === undefined ? {} : { namespace: m.namespace }),
      ...(m.uid === undefined ? {} : { uid: m.uid }),
      ...(m.resourceVersion === undefined ? {} : { resourceVersion: m.resourceVersion }),
      ...(m.labels === undefined ? {} : { labels: m.labels }),
      ...(appPort === undefined ? {} : { annotations: { [APP_PORT_ANNOTATION]: appPort } }),
      ...(m.creationTimestamp === undefined ? {} : { creationTimestamp: m.creationTimestamp }),
      ...(m.deletionTimestamp === undefined ? {} : { deletionTimestamp: m.deletionTimestamp }),
    },
    status: {
      ...(pod.status?.podIP === undefined ? {} : { podIP: pod.status.podIP }),
      ...(pod.status?.conditions === undefined
        ? {}
        : { conditions: pod.status.conditions.map((c) => ({ type: c.type, status: c.status })) }),
    },
  };
}

/** The watch call of client-node's `Watch`, which `ListWatch` uses. */
export interface WatchLike {
  watch(
    path: string,
    queryParams: Record<string, string | number | boolean | undefined>,
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- client-node's own signature
    callback: (phase: string, apiObj: any, watchObj?: any) => void,
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- client-node's own signature
    done: (err: any) => void,
  ): Promise<AbortController>;
}

/**
 * A `Watch` whose object events pass through `transform` before the ListWatch caches them
 * (client-node has no transform hook). ERROR and BOOKMARK events pass unchanged, so 410 Gone
 * handling is untouched.
 */
export function transformingWatch<T>(inner: WatchLike, transform: (object: T) => T): WatchLike {
  return {
    watch: (path, queryParams, callback, done) =>
      inner.watch(
        path,
        queryParams,
        (phase, apiObj, watchObj) =>
          callback(
            phase,
            phase === 'ADDED' || phase === 'MODIFIED' || phase === 'DELETED'
              ? transform(apiObj as T)
              : apiObj,
            watchObj,
          ),
        done,
      ),
  };
}
