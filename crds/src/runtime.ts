/**
 * `@palisade/crds/runtime` — what a running sidecar needs from the API package, and nothing that
 * builds schemas: the SidecarConfig validator (generated at build time), field errors, durations
 * and saga templates. The root entry (`@palisade/crds`) builds every kind's TypeBox schema and
 * compiles validators with ajv, ~15 MB of resident memory a sidecar does not need (decision
 * 0019); a sidecar imports values from here and only types from the root.
 */
export {
  assertValid,
  formatErrors,
  ValidationError,
  type FieldError,
  type ValidationResult,
  type Validator,
} from './field-errors.js';
export { validateSidecarConfig } from './sidecar-config-validator.js';
export * from './duration.js';
export * from './saga-template.js';
export type {
  RaftPeer,
  SidecarCircuitBreaker,
  SidecarConfig,
  SidecarFault,
  SidecarRateLimit,
  SidecarSaga,
} from './sidecar-config.js';
export type { SagaCall } from './kinds/saga.js';
