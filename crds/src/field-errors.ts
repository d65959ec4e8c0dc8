/**
 * How a refused document is reported: one `FieldError` per reason, named as `kubectl` users know
 * the field, in the API server's wording. Shared by the validators compiled at run time
 * (`createValidator`) and the code generated at build time (`validateSidecarConfig`); imports no
 * validator library, so a sidecar loading it loads neither TypeBox nor the ajv compiler.
 */
import type { ErrorObject } from 'ajv';

/** One reason a document was refused, naming the field as `kubectl` users know it. */
export interface FieldError {
  /** e.g. `spec.rules[0].limit.requests`. */
  field: string;
  message: string;
}

/** Result of validating a document. */
export type ValidationResult<T> = { ok: true; value: T } | { ok: false; errors: FieldError[] };

/** A compiled validator for one schema. */
export type Validator<T> = (value: unknown) => ValidationResult<T>;

/** An ajv validation function, compiled now or generated as standalone code at build time. */
export interface SchemaCheck {
  (value: unknown): boolean;
  errors?: ErrorObject[] | null;
}

/** Thrown by `assertValid` with every field error in its message. */
export class ValidationError extends Error {
  readonly code = 'INVALID_DOCUMENT';
  constructor(
    readonly what: string,
    readonly errors: FieldError[],
  ) {
    super(`${what} is invalid:\n${formatErrors(errors)}`);
  }
}

/** One line per error: `field: message`. */
export function formatErrors(errors: readonly FieldError[]): string {
  return errors.map((e) => `  ${e.field}: ${e.message}`).join('\n');
}

/** Like a validator, but throws `ValidationError`; returns the typed value. */
export function assertValid<T>(validator: Validator<T>, value: unknown, what: string): T {
  const result = validator(value);
  if (!result.ok) throw new ValidationError(what, result.errors);
  return result.value;
}

/** The validator of `check`, its errors' fields named from `root` (e.g. `spec`). */
export function validatorOf<T>(check: SchemaCheck, root = ''): Validator<T> {
  return (value) => {
    if (check(value)) return { ok: true, value: value as T };
    return { ok: false, errors: (check.errors ?? []).map((e) => toFieldError(e, root)) };
  };
}

/** `/spec/rules/0/limit` → `spec.rules[0].limit`. */
function toFieldPath(root: string, pointer: string): string {
  let path = root;
  for (const raw of pointer.split('/').slice(1)) {
    const part = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    path += /^[0-9]+$/.test(part) ? `[${part}]` : path === '' ? part : `.${part}`;
  }
  return path;
}

function join(path: string, child: string): string {
  return path === '' ? child : `${path}.${child}`;
}

/** Maps an Ajv error to the API server's wording. */
function toFieldError(e: ErrorObject, root: string): FieldError {
  const field = toFieldPath(root, e.instancePath);
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required':
      return { field: join(field, String(p.missingProperty)), message: 'Required value' };
    case 'additionalProperties':
      return {
        field: join(field, String(p.additionalProperty)),
        message: `unknown field "${join(field, String(p.additionalProperty))}"`,
      };
    case 'enum':
      return {
        field,
        message: `Unsupported value: supported values: ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`,
      };
    case 'maximum':
      return { field, message: `should be less than or equal to ${String(p.limit)}` };
    case 'minimum':
      return { field, message: `should be greater than or equal to ${String(p.limit)}` };
    case 'pattern':
      return { field, message: `should match '${String(p.pattern)}'` };
    case 'type':
      return { field, message: `must be of type ${String(p.type)}` };
    case 'minItems':
      return { field, message: `should have at least ${String(p.limit)} items` };
    case 'maxItems':
      return { field, message: `must have at most ${String(p.limit)} items` };
    case 'maxLength':
      return { field, message: `may not be longer than ${String(p.limit)}` };
    case 'minLength':
      return { field, message: `should be at least ${String(p.limit)} chars long` };
    case 'x-kubernetes-validations': {
      const fieldPath = String(p.fieldPath ?? '');
      return { field: fieldPath === '' ? field : field + fieldPath, message: e.message ?? '' };
    }
    default:
      return { field, message: e.message ?? e.keyword };
  }
}
