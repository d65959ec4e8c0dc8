/**
 * The ajv keyword for `x-kubernetes-validations`. It generates code rather than wrapping a
 * function, so that the same keyword works in validators compiled at run time and in the
 * standalone code generated at build time (`render-validators.ts`): there, each node's check is
 * built when the generated module loads, from the rules and shape written into it.
 */
import { _, Name, stringify, type Code, type KeywordDefinition } from 'ajv';
import { celRuleCheck, type CelShape } from './cel-rules.js';
import type { CelRule } from './schema-helpers.js';

/** The name generated code calls `celRuleCheck` by (the generated module imports it so). */
export const CEL_RULE_CHECK = new Name('celRuleCheck');

type SchemaNode = Record<string, unknown>;

/** `x-kubernetes-validations`: every failed rule is one error with its message and fieldPath. */
export const celKeyword: KeywordDefinition = {
  keyword: 'x-kubernetes-validations',
  schemaType: 'array',
  code(cxt) {
    const rules = cxt.schema as CelRule[];
    const shape = celShapeOf(cxt.parentSchema as SchemaNode) ?? {};
    const check = cxt.gen.scopeValue('keyword', {
      ref: celRuleCheck(rules, shape),
      code: _`${CEL_RULE_CHECK}(${stringify(rules)}, ${stringify(shape)})`,
    });
    cxt.gen.forOf('failure', _`${check}(${cxt.data})`, (failure) => {
      cxt.error(false, { message: _`${failure}.message`, fieldPath: _`${failure}.fieldPath` });
    });
  },
  error: {
    message: ({ params }) => params.message as Code,
    params: ({ params }) => _`{fieldPath: ${params.fieldPath as Code}}`,
  },
};

/** Where `schema`'s integers are; undefined when it has none. */
export function celShapeOf(schema: SchemaNode): CelShape | undefined {
  const shape: {
    type?: string;
    properties?: Record<string, CelShape>;
    items?: CelShape;
    additionalProperties?: CelShape;
  } = {};
  if (schema.type === 'integer') shape.type = 'integer';
  if (isNode(schema.properties)) {
    for (const [key, child] of Object.entries(schema.properties)) {
      const childShape = isNode(child) ? celShapeOf(child) : undefined;
      if (childShape !== undefined) (shape.properties ??= {})[key] = childShape;
    }
  } else if (isNode(schema.additionalProperties)) {
    const additional = celShapeOf(schema.additionalProperties);
    if (additional !== undefined) shape.additionalProperties = additional;
  }
  if (isNode(schema.items)) {
    const items = celShapeOf(schema.items);
    if (items !== undefined) shape.items = items;
  }
  return Object.keys(shape).length === 0 ? undefined : shape;
}

function isNode(value: unknown): value is SchemaNode {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
