import type {
  ChaosExperimentSpec,
  CircuitBreakerSpec,
  RateLimitPolicySpec,
  SagaSpec,
} from '@palisade/crds';
import type { InstallationSettings } from '../compiler/types.js';
import {
  APP_PORT_ANNOTATION,
  SIDECAR_LABEL,
  SIDECAR_LABEL_VALUE,
  type PodLike,
} from '../informer/pod-info.js';
import type { ChaosStatus, PalisadeResource } from '../reconcilers/kube-api.js';

/** Installation settings used by the reconciler tests. */
export const testInstallation: InstallationSettings = {
  ports: { admin: 15000, inbound: 15006, outbound: 15001, raft: 15010 },
  app: { host: '127.0.0.1', defaultPort: 8080 },
  redis: { url: 'redis://redis.palisade:6379' },
};

/** An injected pod as the API returns it; `minute` orders creation times. */
export function kubePod(
  name: string,
  labels: Record<string, string>,
  options: {
    minute?: number;
    ready?: boolean;
    ip?: string;
    namespace?: string;
    appPort?: number;
    terminating?: boolean;
  } = {},
): PodLike {
  const minute = options.minute ?? Number(/(\d+)$/.exec(name)?.[1] ?? 0);
  return {
    metadata: {
      name,
      namespace: options.namespace ?? 'shop',
      labels: { ...labels, [SIDECAR_LABEL]: SIDECAR_LABEL_VALUE },
      creationTimestamp: new Date(Date.UTC(2026, 0, 1) + minute * 60_000).toISOString(),
      ...(options.appPort === undefined
        ? {}
        : { annotations: { [APP_PORT_ANNOTATION]: String(options.appPort) } }),
      ...(options.terminating === true ? { deletionTimestamp: '2026-01-02T00:00:00Z' } : {}),
    },
    status: {
      podIP: options.ip ?? `10.0.0.${minute + 1}`,
      conditions: [{ type: 'Ready', status: options.ready === false ? 'False' : 'True' }],
    },
  };
}

function meta(name: string, generation = 1, minute = 0) {
  return {
    name,
    namespace: 'shop',
    generation,
    creationTimestamp: new Date(Date.UTC(2026, 0, 1) + minute * 60_000).toISOString(),
  };
}

/** A RateLimitPolicy object. */
export function kubeRateLimit(
  name: string,
  spec: RateLimitPolicySpec,
  generation = 1,
): PalisadeResource {
  return {
    apiVersion: 'palisade.dev/v1alpha1',
    kind: 'RateLimitPolicy',
    metadata: meta(name, generation),
    spec,
  };
}

/** A CircuitBreaker object created `minute` minutes after the epoch of the tests. */
export function kubeBreaker(name: string, spec: CircuitBreakerSpec, minute = 0): PalisadeResource {
  return {
    apiVersion: 'palisade.dev/v1alpha1',
    kind: 'CircuitBreaker',
    metadata: meta(name, 1, minute),
    spec,
  };
}

/** A Saga object. */
export function kubeSaga(name: string, spec: SagaSpec): PalisadeResource {
  return { apiVersion: 'palisade.dev/v1alpha1', kind: 'Saga', metadata: meta(name), spec };
}

/** A ChaosExperiment object. */
export function kubeChaos(
  name: string,
  spec: ChaosExperimentSpec,
  status?: ChaosStatus,
): PalisadeResource {
  return {
    apiVersion: 'palisade.dev/v1alpha1',
    kind: 'ChaosExperiment',
    metadata: meta(name),
    spec,
    ...(status === undefined ? {} : { status }),
  };
}

/** A one-rule RateLimitPolicy spec. */
export function rateLimitSpec(
  app: string,
  requests = 100,
  scope: 'local' | 'global' = 'local',
): RateLimitPolicySpec {
  return {
    selector: { matchLabels: { app } },
    rules: [{ name: 'all', limit: { requests, period: '1m' }, key: { type: 'global' }, scope }],
  };
}

/** A CircuitBreaker spec for an outbound host. */
export function breakerSpec(app: string, host: string): CircuitBreakerSpec {
  return {
    selector: { matchLabels: { app } },
    target: { direction: 'outbound', host },
    trip: { consecutiveFailures: 5 },
    openDuration: '30s',
  };
}
