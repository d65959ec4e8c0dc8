import type { KindDefinition } from '../kind-definition.js';
import { chaosExperimentKind } from './chaos-experiment.js';
import { circuitBreakerKind } from './circuit-breaker.js';
import { rateLimitPolicyKind } from './rate-limit-policy.js';
import { sagaKind } from './saga.js';

/** Every Palisade kind, in a stable order (generation output and docs follow it). */
export const allKinds: readonly KindDefinition[] = [
  rateLimitPolicyKind,
  circuitBreakerKind,
  chaosExperimentKind,
  sagaKind,
];

export * from './chaos-experiment.js';
export * from './circuit-breaker.js';
export * from './rate-limit-policy.js';
export * from './saga.js';
