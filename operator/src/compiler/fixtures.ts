import type {
  ChaosExperimentSpec,
  CircuitBreakerSpec,
  LabelSelector,
  RateLimitPolicySpec,
  SagaSpec,
} from '@palisade/crds';
import type { ChaosInput, InstallationSettings, PodInfo, PolicyObject } from './types.js';

/** Test fixtures shared by the compiler's and the reconcilers' tests. */
export const installation: InstallationSettings = {
  ports: { admin: 15000, inbound: 15006, outbound: 15001, raft: 15010 },
  app: { host: '127.0.0.1', defaultPort: 8080 },
  redis: { url: 'redis://redis.palisade:6379' },
  tracing: { otlpEndpoint: 'http://otel-collector:4318', sampleRatio: 0.01 },
  raft: { secretFile: '/var/run/palisade/raft-secret' },
};

/** A ready pod created `minute` minutes after 2026-01-01T00:00Z. */
export function pod(
  name: string,
  labels: Record<string, string>,
  extra: Partial<PodInfo> = {},
): PodInfo {
  const n = Number(/(\d+)$/.exec(name)?.[1] ?? 0);
  return {
    namespace: 'shop',
    name,
    labels,
    creationTimestamp: new Date(Date.UTC(2026, 0, 1) + n * 60_000).toISOString(),
    ready: true,
    podIP: `10.0.${Math.floor(n / 250)}.${(n % 250) + 1}`,
    ...extra,
  };
}

/** A RateLimitPolicy with one local rule. */
export function rateLimit(
  name: string,
  selector: LabelSelector,
  requests = 100,
  namespace = 'shop',
): PolicyObject<RateLimitPolicySpec> {
  return {
    namespace,
    name,
    creationTimestamp: '2026-01-01T00:00:00Z',
    spec: {
      selector,
      rules: [
        {
          name: 'all',
          match: { pathPrefix: '/api' },
          limit: { requests, period: '1m' },
          burst: 10,
          key: { type: 'header', name: 'x-user-id' },
          scope: 'local',
        },
      ],
      failureMode: 'open',
    },
  };
}

/** A CircuitBreaker on an outbound host. */
export function breaker(
  name: string,
  selector: LabelSelector,
  host: string,
  createdMinute = 0,
): PolicyObject<CircuitBreakerSpec> {
  return {
    namespace: 'shop',
    name,
    creationTimestamp: new Date(Date.UTC(2026, 0, 1) + createdMinute * 60_000).toISOString(),
    spec: {
      selector,
      target: { direction: 'outbound', host },
      trip: { consecutiveFailures: 5 },
      openDuration: '30s',
      requestTimeout: '2s',
    },
  };
}

/** A ChaosExperiment with a latency fault and a podKill fault. */
export function experiment(
  name: string,
  selector: LabelSelector,
  state: Pick<ChaosInput, 'phase' | 'targets'>,
  spec: Partial<ChaosExperimentSpec> = {},
): ChaosInput {
  return {
    namespace: 'shop',
    name,
    ...state,
    spec: {
      selector,
      mode: { type: 'all' },
      faults: [
        { type: 'latency', delay: '300ms', percentage: 20, direction: 'inbound' },
        { type: 'podKill', count: 1 },
      ],
      duration: '60s',
      ...spec,
    },
  };
}

/** A one-step Saga. */
export function saga(name: string, selector: LabelSelector): PolicyObject<SagaSpec> {
  return {
    namespace: 'shop',
    name,
    spec: {
      selector,
      timeout: '30s',
      steps: [
        {
          name: 'reserve',
          action: { method: 'POST', url: 'http://inventory.shop.svc/reservations' },
          compensation: { method: 'DELETE', url: 'http://inventory.shop.svc/reservations/x' },
        },
      ],
    },
  };
}
