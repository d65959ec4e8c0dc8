/**
 * @palisade/crds — the Palisade API, written once: TypeBox schemas from which the CRD YAML,
 * the TypeScript types and the runtime validators all derive.
 */
export * from './common.js';
export * from './crd.js';
export * from './duration.js';
export * from './kind-definition.js';
export * from './kinds/index.js';
export * from './sidecar-config.js';
export * from './validate.js';
export { validateResource } from './validators.js';
export { validateSidecarConfig } from './sidecar-config-validator.js';
export * from './saga-template.js';
