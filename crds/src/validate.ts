import { Ajv, type CodeOptions } from 'ajv';
import type { TSchema } from '@sinclair/typebox';
import { celKeyword } from './cel-keyword.js';
import { validatorOf, type FieldError, type Validator } from './field-errors.js';
import { API_VERSION, type KindDefinition } from './kind-definition.js';

export {
  assertValid,
  formatErrors,
  ValidationError,
  type FieldError,
  type ValidationResult,
  type Validator,
} from './field-errors.js';

type SchemaNode = Record<string, unknown>;

/**
 * Creates a validator for `schema` that refuses what the API server refuses: the OpenAPI
 * constraints, unknown fields (the API server's strict field validation), and the same CEL
 * rules evaluated by a CEL interpreter. Messages follow the API server's wording.
 */
export function createValidator<T>(schema: TSchema, root = ''): Validator<T> {
  return validatorOf<T>(createAjv().compile(validationSchema(schema)), root);
}

/**
 * The ajv instance every validator is compiled with, run-time or generated (`code` options for
 * standalone code): all errors, strict, formats not checked (the API server checks none of ours).
 */
export function createAjv(code?: CodeOptions): Ajv {
  const ajv = new Ajv({ allErrors: true, strict: true, validateFormats: false, code });
  ajv.addKeyword({ keyword: 'x-kubernetes-preserve-unknown-fields' });
  ajv.addKeyword(celKeyword);
  return ajv;
}

/**
 * The JSON Schema that is compiled for `schema`: a plain copy with every object that declares
 * properties closed, as strict field validation does.
 */
export function validationSchema(schema: TSchema): SchemaNode {
  return closeObjects(JSON.parse(JSON.stringify(schema))) as SchemaNode;
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
