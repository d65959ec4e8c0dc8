/**
 * The CEL rules of a schema node (`x-kubernetes-validations`), evaluated with a CEL interpreter
 * the way the API server evaluates them. This is the run-time half, used by the validators
 * compiled by ajv and by the generated SidecarConfig validator alike; the ajv keyword that
 * calls it is `cel-keyword.ts`.
 */
import { parse as parseCel } from '@marcbachmann/cel-js';
import type { CelRule } from './schema-helpers.js';

/**
 * What of a schema decides how JSON becomes CEL values: where its integers are (the API server
 * gives CEL schema integers as ints, other numbers as doubles). Subtrees without integers are
 * left out.
 */
export interface CelShape {
  readonly type?: string;
  readonly properties?: Readonly<Record<string, CelShape>>;
  readonly items?: CelShape;
  readonly additionalProperties?: CelShape;
}

/** A rule that did not hold for a value. */
export interface CelFailure {
  readonly message: string;
  /** Relative path of the field to blame (`.failureRatio`), `''` for the object itself. */
  readonly fieldPath: string;
}

/** Checks a value against the rules of one schema node; returns the rules that failed. */
export type CelRuleCheck = (value: unknown) => readonly CelFailure[];

const NO_FAILURES: readonly CelFailure[] = Object.freeze([]);

/**
 * Compiles `rules` (throws if one is not CEL) for values of `shape`. A rule that cannot be
 * evaluated (e.g. a field of the wrong type) fails, as it refuses the object on the API server.
 */
export function celRuleCheck(rules: readonly CelRule[], shape: CelShape): CelRuleCheck {
  const compiled = rules.map((rule) => ({
    evaluate: parseCel(rule.rule),
    failure: Object.freeze({ message: rule.message, fieldPath: rule.fieldPath ?? '' }),
  }));
  return (value) => {
    const self = toCelValue(value, shape);
    let failures: CelFailure[] | undefined;
    for (const { evaluate, failure } of compiled) {
      let holds: boolean;
      try {
        holds = evaluate({ self }) === true;
      } catch {
        holds = false;
      }
      if (!holds) (failures ??= []).push(failure);
    }
    return failures ?? NO_FAILURES;
  };
}

/**
 * Converts JSON to CEL values the way the API server does: schema integers become ints. A
 * fraction where the schema wants an integer stays a double (the `type` check refuses it).
 */
function toCelValue(data: unknown, shape: CelShape | undefined): unknown {
  if (shape === undefined) return data;
  if (typeof data === 'number')
    return shape.type === 'integer' && Number.isInteger(data) ? BigInt(data) : data;
  if (Array.isArray(data)) return data.map((d) => toCelValue(d, shape.items));
  if (data !== null && typeof data === 'object') {
    const properties = shape.properties ?? {};
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(data)) {
      out[key] = toCelValue(
        value,
        Object.hasOwn(properties, key) ? properties[key] : shape.additionalProperties,
      );
    }
    return out;
  }
  return data;
}
