import { allKinds } from './kinds/index.js';
import { createResourceValidator, type ValidationResult } from './validate.js';

const resourceValidators = new Map<string, ReturnType<typeof createResourceValidator>>();

/**
 * Validates a Palisade custom resource of any kind, chosen by its `kind` field; an unknown
 * kind is an error naming the field. Each kind's validator is compiled on first use.
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
