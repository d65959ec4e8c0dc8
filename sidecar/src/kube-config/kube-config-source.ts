/**
 * Kubernetes mode's config delivery: one `ConfigMapReflector` on the pod's namespace, and after
 * every change of its cache the pure `decidePodConfig`; a decision is handed on only when the
 * selected object (name and resourceVersion) differs from the last one and its shared document
 * (`config.json`) differs from the last one decided, so the many events about other pods'
 * configs, and rewrites of this pod's object that only move its pod list or epoch, cost a
 * selection and nothing else. Used by the sidecar (the
 * decision goes to `ConfigStore`) and by the propagation benchmark's stand-ins (same code, the
 * decision is only timed).
 */
import type { Random } from '../core/random.js';
import type { BackoffPolicy } from '../raft-transport/backoff.js';
import { ConfigMapReflector, type ConfigMapClient } from './config-map-reflector.js';
import {
  decidePodConfig,
  decisionSource,
  selectConfigMap,
  type PodConfigDecision,
  type PodIdentity,
} from './select-config.js';

/** Options of `KubeConfigSource`. */
export interface KubeConfigSourceOptions {
  readonly client: ConfigMapClient;
  readonly namespace: string;
  readonly pod: PodIdentity;
  readonly random: Random;
  readonly backoff?: BackoffPolicy;
  /** Gets each new decision, in order; the source does not wait for it. */
  readonly onDecision: (decision: PodConfigDecision) => void;
  readonly onError?: (error: unknown, retryInMs: number) => void;
}

/** Watches the namespace and decides what this pod enforces (see the module comment). */
export class KubeConfigSource {
  private readonly reflector: ConfigMapReflector;
  private lastIdentity: string | null = null;
  /** `config.json` of the last decision handed on; undefined after a "none" or an unreadable one. */
  private lastConfigText: string | undefined = undefined;

  constructor(private readonly options: KubeConfigSourceOptions) {
    this.reflector = new ConfigMapReflector({
      client: options.client,
      random: options.random,
      ...(options.backoff === undefined ? {} : { backoff: options.backoff }),
      ...(options.onError === undefined ? {} : { onError: options.onError }),
      onChange: (objects) => {
        const selected = selectConfigMap(objects, options.pod.podName);
        // Names the object and its resourceVersion (or "none"): the config is parsed only
        // when it changes.
        const identity = decisionSource(selected, options.namespace);
        if (identity === this.lastIdentity) return;
        this.lastIdentity = identity;
        // Byte for byte the document already decided: the per-pod document would be the same
        // (it adds only what the pod itself fixes), so parsing and validating it again — a
        // thousand Raft peers in a large workload — would end in "unchanged".
        const configText = selected?.configText;
        if (configText !== undefined && configText === this.lastConfigText) return;
        this.lastConfigText = configText;
        options.onDecision(decidePodConfig(selected, options.pod, options.namespace));
      },
    });
  }

  /** Starts watching; resolves true once the first list is in, false after `timeoutMs`. */
  start(timeoutMs: number): Promise<boolean> {
    this.reflector.start();
    return this.reflector.whenSynced(timeoutMs);
  }

  /** True once a full list has been received. */
  hasSynced(): boolean {
    return this.reflector.hasSynced();
  }

  /** The decision for the objects cached now (what `onDecision` last received, or would). */
  current(): PodConfigDecision {
    const selected = selectConfigMap(this.reflector.objects(), this.options.pod.podName);
    return decidePodConfig(selected, this.options.pod, this.options.namespace);
  }

  /** Stops the watch. */
  stop(): Promise<void> {
    return this.reflector.stop();
  }
}
