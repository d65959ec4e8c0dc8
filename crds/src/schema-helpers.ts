import {
  Type,
  type TObject,
  type TProperties,
  type TSchema,
  type TUnsafe,
  type SchemaOptions,
} from '@sinclair/typebox';
import { DURATION_PATTERN } from './duration.js';

/**
 * A rule the API server checks with CEL (`x-kubernetes-validations`) and the runtime
 * validator checks with the same expression, so the two can never disagree.
 */
export interface CelRule {
  /** CEL expression over `self` (the object the rule is attached to). */
  rule: string;
  /** What the user sees; says what to change. */
  message: string;
  /** Relative path (from `self`) of the field to blame, e.g. `.failureRatio`. */
  fieldPath?: string;
}

/** Schema options carrying CEL rules. */
export function cel(...rules: CelRule[]): SchemaOptions {
  return { 'x-kubernetes-validations': rules };
}

/** A string restricted to `values`, typed as their union. */
export function StringEnum<const T extends readonly string[]>(
  values: T,
  options: SchemaOptions = {},
): TUnsafe<T[number]> {
  return Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...options });
}

/** A duration string (`250ms`, `10s`, `1m`); see duration.ts. */
export function Duration(description: string): TUnsafe<string> {
  return Type.Unsafe<string>({
    type: 'string',
    pattern: DURATION_PATTERN,
    maxLength: 32,
    description,
  });
}

/** A map of strings to strings (labels, headers). */
export function StringMap(description: string): TUnsafe<Record<string, string>> {
  return Type.Unsafe<Record<string, string>>({
    type: 'object',
    additionalProperties: { type: 'string', maxLength: 1024 },
    maxProperties: 64,
    description,
  });
}

/** Free-form JSON kept as written (saga bodies). */
export function FreeForm(description: string): TUnsafe<unknown> {
  return Type.Unsafe<unknown>({
    description,
    'x-kubernetes-preserve-unknown-fields': true,
  });
}

/** A list whose items carry a `name` that must be unique within the list. */
export function NamedList<T extends TSchema>(
  item: T,
  options: { description: string; what: string; maxItems: number },
) {
  return Type.Array(item, {
    description: options.description,
    minItems: 1,
    maxItems: options.maxItems,
    ...cel({
      rule: 'self.all(x, self.exists_one(y, y.name == x.name))',
      message: `${options.what} names must be unique`,
    }),
  });
}

/** A DNS-1123 label-like name (rule, step). */
export function Name(description: string) {
  return Type.String({
    description,
    pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$',
    maxLength: 63,
  });
}

/**
 * `base` with more properties, keeping base's CEL rules (TypeBox's Composite would drop them,
 * and an allOf would not survive the runtime validator's closed objects).
 */
export function extendObject<B extends TProperties, E extends TProperties>(
  base: TObject<B>,
  extra: E,
) {
  const rules = (base as unknown as Record<string, unknown>)['x-kubernetes-validations'];
  return Type.Object(
    { ...base.properties, ...extra },
    rules === undefined ? {} : { 'x-kubernetes-validations': rules },
  );
}
