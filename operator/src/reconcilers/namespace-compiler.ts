import { compileSidecarConfigs } from '../compiler/compile.js';
import type {
  ChaosInput,
  CompileOutput,
  InstallationSettings,
  PolicyObject,
} from '../compiler/types.js';
import { podInfoFromPod } from '../informer/pod-info.js';
import { timestampText, type KubeApi, type Resource } from './kube-api.js';

/** Options of a `NamespaceCompiler`. */
export interface NamespaceCompilerOptions {
  api: KubeApi;
  installation: InstallationSettings;
  /**
   * Reuse a namespace's output until `invalidate(namespace)` (which the informer wiring calls
   * on every event of that namespace). Default true; tests that mutate the fake may turn it off.
   */
  memoize?: boolean;
}

/**
 * Compiles one namespace at a time (resources only select pods of their own namespace) from
 * what the KubeApi port reads. The configs reconciler and every status reconciler of the
 * namespace share one compile per change instead of compiling per key.
 */
export class NamespaceCompiler {
  private readonly memo = new Map<string, Promise<CompileOutput>>();

  constructor(private readonly options: NamespaceCompilerOptions) {}

  /** The compile output of `namespace` as the cluster is now. */
  compile(namespace: string): Promise<CompileOutput> {
    if (this.options.memoize === false) return this.compileNow(namespace);
    let result = this.memo.get(namespace);
    if (result === undefined) {
      result = this.compileNow(namespace);
      this.memo.set(namespace, result);
      // A failed read must not be remembered.
      result.catch(() => this.memo.delete(namespace));
    }
    return result;
  }

  /** Forgets the memoised output of `namespace`. */
  invalidate(namespace: string): void {
    this.memo.delete(namespace);
  }

  private async compileNow(namespace: string): Promise<CompileOutput> {
    const { api } = this.options;
    const [pods, rateLimits, circuitBreakers, chaos, sagas] = await Promise.all([
      api.listPods(namespace),
      api.listResources('RateLimitPolicy', namespace),
      api.listResources('CircuitBreaker', namespace),
      api.listResources('ChaosExperiment', namespace),
      api.listResources('Saga', namespace),
    ]);
    return compileSidecarConfigs({
      pods: pods.map(podInfoFromPod),
      policies: {
        rateLimits: live(rateLimits).map(toPolicy),
        circuitBreakers: live(circuitBreakers).map(toPolicy),
        chaos: live(chaos).map((r): ChaosInput => ({
          ...toPolicy(r),
          ...(r.status?.phase === undefined ? {} : { phase: r.status.phase }),
          ...(r.status?.targets === undefined ? {} : { targets: r.status.targets }),
        })),
        sagas: live(sagas).map(toPolicy),
      },
      installation: this.options.installation,
    });
  }
}

/** Resources being deleted are no longer enforced. */
function live<T extends Resource<unknown, object>>(list: readonly T[]): T[] {
  return list.filter((r) => r.metadata.deletionTimestamp === undefined);
}

function toPolicy<Spec>(r: Resource<Spec, object>): PolicyObject<Spec> {
  const created = timestampText(r.metadata.creationTimestamp);
  return {
    namespace: r.metadata.namespace,
    name: r.metadata.name,
    spec: r.spec,
    ...(created === undefined ? {} : { creationTimestamp: created }),
  };
}
