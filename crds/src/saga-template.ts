/**
 * Saga templates (API.md): `{{input.x}}` and `{{steps.<name>.response.body.y}}` (also
 * `{{steps.<name>.response.status}}`) inside URLs, header values and string values of bodies.
 *
 * Compiled once when the config loads, so that a bad reference is refused there, with the field
 * named, and never discovered while an instance runs. Rendering is then a walk over the compiled
 * parts. A string that is exactly one template takes the referenced JSON value as it is (an
 * array stays an array); a template inside a longer string is interpolated (objects as JSON,
 * URL values percent-encoded).
 */

import type { FieldError } from './field-errors.js';

/** Where a template reads from: the instance input, or an earlier step's response. */
export type TemplateRef =
  | { readonly root: 'input'; readonly path: readonly string[] }
  | {
      readonly root: 'step';
      readonly step: string;
      readonly field: 'body' | 'status';
      readonly path: readonly string[];
    };

/** A string split into literal text and references. */
export interface CompiledString {
  readonly parts: readonly (string | TemplateRef)[];
  /** The whole string is one reference: render to its raw JSON value. */
  readonly whole: boolean;
}

/** A JSON value whose strings may hold references. */
export type CompiledValue =
  | { readonly kind: 'literal'; readonly value: unknown }
  | { readonly kind: 'string'; readonly template: CompiledString }
  | { readonly kind: 'array'; readonly items: readonly CompiledValue[] }
  | { readonly kind: 'object'; readonly entries: readonly (readonly [string, CompiledValue])[] };

/** What templates read when a call is rendered. */
export interface TemplateContext {
  readonly input: unknown;
  /** Step name → the response of its action (absent: not succeeded, or unknown). */
  readonly responses: ReadonlyMap<string, { readonly status: number; readonly body: unknown }>;
}

/** A template that cannot be compiled (config time) or rendered (run time). */
export class TemplateError extends Error {
  override readonly name = 'TemplateError';
  readonly code = 'PALISADE_SAGA_TEMPLATE';
}

const TEMPLATE = /\{\{\s*([^{}]*?)\s*\}\}/g;
const SEGMENT = /^[A-Za-z0-9_-]+$/;

/** Parses one reference like `steps.reserve.response.body.id`. */
export function parseRef(expression: string): TemplateRef {
  const segments = expression.split('.');
  if (segments.some((s) => !SEGMENT.test(s))) {
    throw new TemplateError(
      `"{{${expression}}}": path segments must be letters, digits, "_" or "-"`,
    );
  }
  const [root, ...rest] = segments;
  if (root === 'input') return { root: 'input', path: rest };
  if (root === 'steps') {
    const [step, response, field, ...path] = rest;
    if (step === undefined || response !== 'response' || (field !== 'body' && field !== 'status')) {
      throw new TemplateError(
        `"{{${expression}}}": expected steps.<name>.response.body[.field…] or steps.<name>.response.status`,
      );
    }
    if (field === 'status' && path.length > 0) {
      throw new TemplateError(`"{{${expression}}}": response.status has no fields`);
    }
    return { root: 'step', step, field, path };
  }
  throw new TemplateError(`"{{${expression}}}": must start with "input" or "steps"`);
}

/** Compiles one string; throws `TemplateError` on a malformed template. */
export function compileString(text: string): CompiledString {
  const parts: (string | TemplateRef)[] = [];
  let last = 0;
  for (const match of text.matchAll(TEMPLATE)) {
    if (match.index > last) parts.push(text.slice(last, match.index));
    parts.push(parseRef(match[1] as string));
    last = match.index + match[0].length;
  }
  if (last < text.length) parts.push(text.slice(last));
  const literalText = parts.filter((p) => typeof p === 'string').join('');
  if (literalText.includes('{{') || literalText.includes('}}')) {
    throw new TemplateError(`"${text}": unbalanced "{{" or "}}"`);
  }
  return { parts, whole: parts.length === 1 && typeof parts[0] !== 'string' };
}

/** Compiles a JSON value (a body): every string in it may hold templates. */
export function compileValue(value: unknown): CompiledValue {
  if (typeof value === 'string') {
    const template = compileString(value);
    return template.parts.every((p) => typeof p === 'string')
      ? { kind: 'literal', value }
      : { kind: 'string', template };
  }
  if (Array.isArray(value)) return { kind: 'array', items: value.map(compileValue) };
  if (typeof value === 'object' && value !== null) {
    return {
      kind: 'object',
      entries: Object.entries(value).map(([k, v]) => [k, compileValue(v)] as const),
    };
  }
  return { kind: 'literal', value };
}

/** Every reference of a compiled string or value (for validation at load). */
export function refsOf(compiled: CompiledString | CompiledValue): TemplateRef[] {
  if ('parts' in compiled) return compiled.parts.filter((p) => typeof p !== 'string');
  switch (compiled.kind) {
    case 'literal':
      return [];
    case 'string':
      return refsOf(compiled.template);
    case 'array':
      return compiled.items.flatMap(refsOf);
    case 'object':
      return compiled.entries.flatMap(([, v]) => refsOf(v));
  }
}

/** `input.items`, `steps.reserve.response.body.id`: how a reference reads in messages. */
export function describeRef(ref: TemplateRef): string {
  return ref.root === 'input'
    ? ['input', ...ref.path].join('.')
    : ['steps', ref.step, 'response', ref.field, ...ref.path].join('.');
}

function lookup(ref: TemplateRef, context: TemplateContext): unknown {
  let value: unknown;
  if (ref.root === 'input') value = context.input;
  else {
    const response = context.responses.get(ref.step);
    if (response === undefined) {
      throw new TemplateError(`${describeRef(ref)}: step ${ref.step} has no known response`);
    }
    if (ref.field === 'status') return response.status;
    value = response.body;
  }
  for (const key of ref.path) {
    if (typeof value !== 'object' || value === null || !Object.hasOwn(value, key)) {
      throw new TemplateError(`${describeRef(ref)} is missing`);
    }
    value = (value as Record<string, unknown>)[key];
  }
  if (value === undefined) throw new TemplateError(`${describeRef(ref)} is missing`);
  return value;
}

function asText(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/**
 * Renders a string. `encode` is applied to each interpolated value (URLs percent-encode). A
 * whole-string template still yields text here (URLs and headers are text).
 */
export function renderString(
  template: CompiledString,
  context: TemplateContext,
  encode: (text: string) => string = (t) => t,
): string {
  let out = '';
  for (const part of template.parts) {
    out += typeof part === 'string' ? part : encode(asText(lookup(part, context)));
  }
  return out;
}

/** Renders a body value; a whole-string template yields the referenced JSON value itself. */
export function renderValue(compiled: CompiledValue, context: TemplateContext): unknown {
  switch (compiled.kind) {
    case 'literal':
      return compiled.value;
    case 'string': {
      const { template } = compiled;
      if (template.whole) return lookup(template.parts[0] as TemplateRef, context);
      return renderString(template, context);
    }
    case 'array':
      return compiled.items.map((item) => renderValue(item, context));
    case 'object':
      return Object.fromEntries(compiled.entries.map(([k, v]) => [k, renderValue(v, context)]));
  }
}

/** Reads an input reference (for validating a start request's input). */
export function readInput(ref: TemplateRef & { root: 'input' }, input: unknown): unknown {
  try {
    return lookup(ref, { input, responses: new Map() });
  } catch {
    return undefined;
  }
}

/**
 * The template problems of a saga's steps, each naming its field under `field` (e.g. `spec` or
 * `sagas[0]`): malformed templates, and references to a step that is not an earlier one (a
 * compensation may also read its own step's response). One rule for both sides: the operator
 * sets a Saga's `Ready` from it (and leaves a refused Saga out of the compiled config), the
 * sidecar refuses a config with it.
 */
export function sagaTemplateErrors(
  steps: readonly {
    readonly name: string;
    readonly action: SagaCallTemplates;
    readonly compensation?: SagaCallTemplates;
  }[],
  field: string,
): FieldError[] {
  const errors: FieldError[] = [];
  const earlier = new Set<string>();
  steps.forEach((step, i) => {
    const at = `${field}.steps[${i}]`;
    checkCall(step.action, `${at}.action`, earlier, errors);
    if (step.compensation !== undefined) {
      checkCall(step.compensation, `${at}.compensation`, new Set([...earlier, step.name]), errors);
    }
    earlier.add(step.name);
  });
  return errors;
}

/** The templated parts of a saga call. */
interface SagaCallTemplates {
  readonly url: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: unknown;
}

function checkCall(
  call: SagaCallTemplates,
  field: string,
  visible: ReadonlySet<string>,
  errors: FieldError[],
): void {
  const check = (at: string, compile: () => CompiledString | CompiledValue): void => {
    let compiled: CompiledString | CompiledValue;
    try {
      compiled = compile();
    } catch (error) {
      if (!(error instanceof TemplateError)) throw error;
      errors.push({ field: at, message: error.message });
      return;
    }
    for (const ref of refsOf(compiled)) {
      if (ref.root === 'step' && !visible.has(ref.step)) {
        errors.push({
          field: at,
          message: `{{${describeRef(ref)}}} refers to step "${ref.step}", which is not an earlier step of this saga`,
        });
      }
    }
  };
  check(`${field}.url`, () => compileString(call.url));
  for (const [name, value] of Object.entries(call.headers ?? {})) {
    check(`${field}.headers.${name}`, () => compileString(value));
  }
  if (call.body !== undefined) check(`${field}.body`, () => compileValue(call.body));
}
