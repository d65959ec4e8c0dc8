import { Type, type Static } from '@sinclair/typebox';
import { Direction, RequestMatch } from './common.js';
import { BreakerTarget, BreakerTrip, FailureOn } from './kinds/circuit-breaker.js';
import { Fault } from './kinds/chaos-experiment.js';
import { FailureMode, RateLimitRule } from './kinds/rate-limit-policy.js';
import { SagaStep } from './kinds/saga.js';
import { Duration, StringEnum, extendObject } from './schema-helpers.js';

const RedisSettings = Type.Object({
  url: Type.String({ pattern: '^rediss?://', maxLength: 1024 }),
  timeout: Type.Optional(
    Duration('Bound on one decision before failureMode applies. Default 50ms.'),
  ),
});
const Port = Type.Integer({ minimum: 1, maximum: 65535 });
const PolicyRef = Type.String({
  pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?/[a-z0-9]([-.a-z0-9]*[a-z0-9])?$',
  maxLength: 317,
  description: 'namespace/name of the resource this entry comes from.',
});

/** A rate-limit rule as enforced by one sidecar: the CRD rule plus where it came from. */
export const SidecarRateLimit = extendObject(RateLimitRule, {
  policy: PolicyRef,
  failureMode: Type.Optional(FailureMode),
  redis: Type.Optional(RedisSettings),
});

/** A circuit breaker as enforced by one sidecar. */
export const SidecarCircuitBreaker = Type.Object({
  policy: PolicyRef,
  target: BreakerTarget,
  trip: BreakerTrip,
  failureOn: Type.Optional(FailureOn),
  requestTimeout: Type.Optional(Duration('Per-call timeout.')),
  openDuration: Duration('Open period before half-open.'),
  halfOpen: Type.Optional(
    Type.Object({
      maxRequests: Type.Integer({ minimum: 1 }),
      successesToClose: Type.Integer({ minimum: 1 }),
    }),
  ),
});

/** A fault of a running ChaosExperiment, delivered to the targeted sidecars. */
export const SidecarFault = extendObject(Fault, { experiment: PolicyRef });

/** A saga this sidecar's Raft group can run. */
export const SidecarSaga = Type.Object({
  name: PolicyRef,
  timeout: Type.Optional(Duration('Instance timeout.')),
  retention: Type.Optional(Duration('How long finished instances stay readable.')),
  steps: Type.Array(SagaStep, { minItems: 1, maxItems: 32 }),
});

/** A member of the sidecar's Raft group. */
export const RaftPeer = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 253 }),
  address: Type.String({
    pattern: '^[^:\\s]+:[0-9]{1,5}$',
    description: 'host:port of its Raft listener.',
  }),
  voter: Type.Boolean(),
});

/** Optional default outbound retry policy. */
export const SidecarRetry = Type.Object({
  attempts: Type.Integer({ minimum: 1, maximum: 10 }),
  backoff: Duration('Base backoff.'),
  budgetPercent: Type.Optional(Type.Number({ minimum: 0, maximum: 100 })),
});

/**
 * The document a sidecar enforces: produced by the operator per pod (shared by pods with the
 * same effective policies), or written by hand for standalone mode. Field names reuse the CRDs'.
 */
export const SidecarConfig = Type.Object({
  version: Type.String({
    minLength: 1,
    maxLength: 128,
    description: 'Opaque; changes whenever the content changes.',
  }),
  app: Type.Object({
    host: Type.String({ minLength: 1, maxLength: 253 }),
    port: Port,
  }),
  listeners: Type.Optional(
    Type.Object({
      admin: Type.Optional(Port),
      inbound: Type.Optional(Port),
      outbound: Type.Optional(Port),
      raft: Type.Optional(Port),
    }),
  ),
  rateLimits: Type.Optional(Type.Array(SidecarRateLimit, { maxItems: 1024 })),
  circuitBreakers: Type.Optional(Type.Array(SidecarCircuitBreaker, { maxItems: 1024 })),
  faults: Type.Optional(Type.Array(SidecarFault, { maxItems: 256 })),
  retries: Type.Optional(SidecarRetry),
  sagas: Type.Optional(Type.Array(SidecarSaga, { maxItems: 256 })),
  raft: Type.Optional(
    Type.Object({
      group: PolicyRef,
      id: Type.String({ minLength: 1, maxLength: 253 }),
      peers: Type.Array(RaftPeer, { maxItems: 1000 }),
      secretFile: Type.Optional(Type.String({ minLength: 1, maxLength: 4096 })),
      dataDir: Type.Optional(Type.String({ minLength: 1, maxLength: 4096 })),
    }),
  ),
  redis: Type.Optional(RedisSettings),
  tracing: Type.Optional(
    Type.Object({
      otlpEndpoint: Type.Optional(Type.String({ pattern: '^https?://', maxLength: 2048 })),
      sampleRatio: Type.Number({ minimum: 0, maximum: 1 }),
    }),
  ),
  logLevel: Type.Optional(StringEnum(['debug', 'info', 'warn', 'error'])),
});
/** The document a sidecar enforces. */
export type SidecarConfig = Static<typeof SidecarConfig>;
/** One rate-limit entry of a SidecarConfig. */
export type SidecarRateLimit = Static<typeof SidecarRateLimit>;
/** One circuit-breaker entry of a SidecarConfig. */
export type SidecarCircuitBreaker = Static<typeof SidecarCircuitBreaker>;
/** One fault entry of a SidecarConfig. */
export type SidecarFault = Static<typeof SidecarFault>;
/** One saga entry of a SidecarConfig. */
export type SidecarSaga = Static<typeof SidecarSaga>;
/** One Raft peer. */
export type RaftPeer = Static<typeof RaftPeer>;

export { Direction, RequestMatch };
