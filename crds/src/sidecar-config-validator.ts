/**
 * `validateSidecarConfig`: the generated SidecarConfig check (`generated/sidecar-config-check.ts`,
 * from the schema in `sidecar-config.ts`) with the API server's wording for its errors. Loads
 * neither TypeBox nor the ajv compiler: what a sidecar validates its config with.
 */
import { validatorOf, type SchemaCheck, type ValidationResult } from './field-errors.js';
import { validate } from './generated/sidecar-config-check.js';
import type { SidecarConfig } from './sidecar-config.js';

const validator = validatorOf<SidecarConfig>(validate as SchemaCheck);

/** Validates a SidecarConfig document: the CRDs' constraints and CEL rules, unknown fields refused. */
export function validateSidecarConfig(value: unknown): ValidationResult<SidecarConfig> {
  return validator(value);
}
