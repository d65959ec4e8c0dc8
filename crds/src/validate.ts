import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { parse as parseCel } from '@marcbachmann/cel-js';
import type { TSchema } from '@sinclair/typebox';
import { API_VERSION, type KindDefinition } from './kind-definition.js';
import type { CelRule } from './schema-helpers.js';

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

type SchemaNode = Record<string, unknown>;
type CompiledRule = CelRule & { evaluate: (context: Record<string, unknown>) => unknown };
type CelKeywordValidate = ((data: unknown, ctx?: { instancePath: string }) => boolean) & {
  errors?: Partial<ErrorObject>[];
};

/**
 * Creates a validator for `schema` that refuses what the API server refuses: the OpenAPI
 * constraints, unknown fields (the API server's strict field validation), and the same CEL
 * rules evaluated by a CEL interpreter. Messages follow the API server's wording.
 */
export function createValidator<T>(schema: TSchema, root = ''): Validator<T> {
  const ajv = new Ajv({ allErrors: true, strict: true, validateFormats: false });
  ajv.addKeyword({ keyword: 'x-kubernetes-preserve-unknown-fields' });
  ajv.addKeyword({
    keyword: 'x-kubernetes-validations',
    errors: true,
    compile(rules: CelRule[], parentSchema: SchemaNode) {
      const compiled: CompiledRule[] = rules.map((r) => ({ ...r, evaluate: parseCel(r.rule) }));
      const validate: CelKeywordValidate = (data) => {
        const self = toCelValue(data, parentSchema);
        // A rule that cannot be evaluated (e.g. a field of the wrong type) refuses the object,
        // as the API server does.
        const failed = compiled.filter((r) => {
          try {
            return r.evaluate({ self }) !== true;
          } catch {
            return true;
          }
        });
        validate.errors = failed.map((r) => ({
          keyword: 'x-kubernetes-validations',
          message: r.message,
          params: { fieldPath: r.fieldPath ?? '' },
        }));
        return failed.length === 0;
      };
      return validate;
    },
  });
  const check: ValidateFunction = ajv.compile(
    closeObjects(JSON.parse(JSON.stringify(schema))) as SchemaNode,
  );
  return (value) => {
    if (check(value)) return { ok: true, value: value as T };
    return { ok: false, errors: (check.errors ?? []).map((e) => toFieldError(e, root)) };
  };
}

/** Like a validator, but throws `ValidationError`; returns the typed value. */
export function assertValid<T>(validator: Validator<T>, value: unknown, what: string): T {
  const result = validator(value);
  if (!result.ok) throw new ValidationError(what, result.errors);
  return result.value;
}

/**
 * Validates a whole custom resource (apiVersion, kind, metadata.name, spec) of `def`, the way
 * `kubectl apply` would see it refused.
 */
export function createResourceValidator(def: KindDefinition): Validator<{
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  spec: unknown;
}> {
  const spec = createValidator<unknown>(def.spec, 'spec');
  return (value) => {
    const errors: FieldError[] = [];
    const doc = (value ?? {}) as Record<string, unknown>;
    if (doc.apiVersion !== API_VERSION)
      errors.push({ field: 'apiVersion', message: `must be "${API_VERSION}"` });
    if (doc.kind !== def.kind) errors.push({ field: 'kind', message: `must be "${def.kind}"` });
    const metadata = doc.metadata as Record<string, unknown> | undefined;
    if (typeof metadata?.name !== 'string' || metadata.name === '')
      errors.push({ field: 'metadata.name', message: 'Required value' });
    if (doc.spec === undefined) errors.push({ field: 'spec', message: 'Required value' });
    else {
      const result = spec(doc.spec);
      if (!result.ok) errors.push(...result.errors);
    }
    return errors.length === 0 ? { ok: true, value: value as never } : { ok: false, errors };
  };
}

/** Marks every object with declared properties as closed, as strict field validation does. */
function closeObjects(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(closeObjects);
  if (node === null || typeof node !== 'object') return node;
  const out: SchemaNode = {};
  for (const [key, value] of Object.entries(node)) out[key] = closeObjects(value);
  if (
    out.type === 'object' &&
    out.properties !== undefined &&
    out.additionalProperties === undefined
  )
    out.additionalProperties = false;
  return out;
}

/** Converts JSON to CEL values the way the API server does: schema integers become ints. */
function toCelValue(data: unknown, schema: SchemaNode | undefined): unknown {
  if (schema === undefined) return data;
  if (typeof data === 'number') return schema.type === 'integer' ? BigInt(data) : data;
  if (Array.isArray(data)) return data.map((d) => toCelValue(d, schema.items as SchemaNode));
  if (data !== null && typeof data === 'object') {
    const properties = (schema.properties ?? {}) as Record<string, SchemaNode>;
    const additional = schema.additionalProperties as SchemaNode | undefined;
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(data)) {
      out[key] = toCelValue(value, properties[key] ?? additional);
    }
    return out;
  }
  return data;
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
