import { allKinds } from './kinds/index.js';
import { SidecarConfig } from './sidecar-config.js';
import {
  createResourceValidator,
  createValidator,
  type ValidationResult,
  type Validator,
} from './validate.js';

let sidecarConfigValidator: Validator<SidecarConfig> | undefined;
const resourceValidators = new Map<string, ReturnType<typeof createResourceValidator>>();

/** Validates a SidecarConfig document (compiled on first use). */
export function validateSidecarConfig(value: unknown): ValidationResult<SidecarConfig> {
  sidecarConfigValidator ??= createValidator<SidecarConfig>(SidecarConfig);
  return sidecarConfigValidator(value);
}

/**
 * Validates a Palisade custom resource of any kind, chosen by its `kind` field; an unknown
 * kind is an error naming the field.
 */
export function validateResource(value: unknown): ValidationResult<unknown> {
  const kind = (value as { kind?: unknown } | null)?.kind;
  const def = allKinds.find((k) => k.kind === kind);
  if (def === undefined) {
    return {
      ok: false,
      errors: [
        {
          field: 'kind',
          message: `must be one of ${allKinds.map((k) => k.kind).join(', ')} (got ${JSON.stringify(kind)})`,
        },
      ],
    };
  }
  let validator = resourceValidators.get(def.kind);
  if (validator === undefined) {
    validator = createResourceValidator(def);
    resourceValidators.set(def.kind, validator);
  }
  return validator(value);
}
