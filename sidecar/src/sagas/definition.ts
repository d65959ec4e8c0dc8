/**
 * A saga as the orchestrator runs it: the config's `sagas[]` entry with durations parsed and every
 * template compiled and checked. `compileSagas` is called when the config loads; a reference to
 * an unknown or later step, or a malformed template, refuses the config with the field named.
 */
import {
  compileString,
  compileValue,
  describeRef,
  parseDuration,
  refsOf,
  sagaTemplateErrors,
  type CompiledString,
  type CompiledValue,
  type FieldError,
  type SagaCall,
  type SidecarSaga,
  type TemplateRef,
} from '@palisade/crds/runtime';

/** Per-attempt timeout when a call names none. */
export const DEFAULT_CALL_TIMEOUT_MS = 5000;
/** Actions are tried once unless `retries` says otherwise: a step may not be safe to repeat. */
export const DEFAULT_ACTION_RETRIES = Object.freeze({ attempts: 1, backoffMs: 100 });
/**
 * Compensations must work harder than actions: without `retries` they get 5 attempts (100 ms
 * doubling with jitter) before the instance is handed to a human (`NeedsAttention`).
 */
export const DEFAULT_COMPENSATION_RETRIES = Object.freeze({ attempts: 5, backoffMs: 100 });
/** How long finished instances stay readable when the saga names no `retention`. */
export const DEFAULT_RETENTION_MS = 24 * 60 * 60 * 1000;
/** No retry waits longer than this, whatever the doubling says. */
export const MAX_BACKOFF_MS = 30_000;

/** One HTTP call, ready to render. */
export interface CompiledCall {
  readonly method: SagaCall['method'];
  readonly url: CompiledString;
  readonly headers: readonly (readonly [string, CompiledString])[];
  readonly body: CompiledValue | undefined;
  readonly timeoutMs: number;
  readonly attempts: number;
  readonly backoffMs: number;
}

/** One step, compiled. */
export interface CompiledStep {
  readonly name: string;
  readonly action: CompiledCall;
  readonly compensation: CompiledCall | undefined;
}

/** A saga, compiled. */
export interface SagaDefinition {
  /** `namespace/name`. */
  readonly name: string;
  readonly steps: readonly CompiledStep[];
  /** Bound on one instance (absent: none); past it the instance compensates. */
  readonly timeoutMs: number | undefined;
  readonly retentionMs: number;
  /** Every `input.…` reference: a start request must provide each. */
  readonly inputRefs: readonly (TemplateRef & { root: 'input' })[];
}

/** The config's sagas, compiled; or every problem found, each naming its field. */
export type CompileResult =
  | { readonly ok: true; readonly sagas: ReadonlyMap<string, SagaDefinition> }
  | { readonly ok: false; readonly errors: FieldError[] };

/** Compiles a call whose templates `sagaTemplateErrors` found sound. */
function compileCall(
  call: SagaCall,
  defaults: { attempts: number; backoffMs: number },
): CompiledCall {
  return {
    method: call.method,
    url: compileString(call.url),
    headers: Object.entries(call.headers ?? {}).map(
      ([name, value]) => [name, compileString(value)] as const,
    ),
    body: call.body === undefined ? undefined : compileValue(call.body),
    timeoutMs: call.timeout === undefined ? DEFAULT_CALL_TIMEOUT_MS : parseDuration(call.timeout),
    attempts: call.retries?.attempts ?? defaults.attempts,
    backoffMs:
      call.retries === undefined ? defaults.backoffMs : parseDuration(call.retries.backoff),
  };
}

/** Compiles one saga; problems go to `errors` with fields under `field` (e.g. `sagas[0]`). */
export function compileSaga(
  saga: SidecarSaga,
  field: string,
  errors: FieldError[],
): SagaDefinition | undefined {
  const before = errors.length;
  const names = new Set<string>();
  saga.steps.forEach((step, i) => {
    if (names.has(step.name)) {
      errors.push({
        field: `${field}.steps[${i}].name`,
        message: `duplicates step name "${step.name}"`,
      });
    }
    names.add(step.name);
  });
  errors.push(...sagaTemplateErrors(saga.steps, field));
  if (errors.length > before) return undefined;
  // An action reads earlier steps only; its compensation may also read its own response.
  const steps: CompiledStep[] = saga.steps.map((step) => ({
    name: step.name,
    action: compileCall(step.action, DEFAULT_ACTION_RETRIES),
    compensation:
      step.compensation === undefined
        ? undefined
        : compileCall(step.compensation, DEFAULT_COMPENSATION_RETRIES),
  }));
  const inputRefs = steps
    .flatMap((s) => [s.action, ...(s.compensation ? [s.compensation] : [])])
    .flatMap((c) => [
      ...refsOf(c.url),
      ...c.headers.flatMap(([, v]) => refsOf(v)),
      ...(c.body ? refsOf(c.body) : []),
    ])
    .filter((r): r is TemplateRef & { root: 'input' } => r.root === 'input');
  const unique = new Map(inputRefs.map((r) => [describeRef(r), r]));
  return {
    name: saga.name,
    steps,
    timeoutMs: saga.timeout === undefined ? undefined : parseDuration(saga.timeout),
    retentionMs:
      saga.retention === undefined ? DEFAULT_RETENTION_MS : parseDuration(saga.retention),
    inputRefs: [...unique.values()],
  };
}

/** Compiles the config's `sagas`; fields are named `sagas[i]…`. */
export function compileSagas(sagas: readonly SidecarSaga[]): CompileResult {
  const errors: FieldError[] = [];
  const compiled = new Map<string, SagaDefinition>();
  sagas.forEach((saga, i) => {
    const definition = compileSaga(saga, `sagas[${i}]`, errors);
    if (definition !== undefined) compiled.set(definition.name, definition);
  });
  return errors.length > 0 ? { ok: false, errors } : { ok: true, sagas: compiled };
}

/** The field errors of the config's sagas (empty when they compile): for the config loader. */
export function sagaConfigErrors(sagas: readonly SidecarSaga[]): FieldError[] {
  const result = compileSagas(sagas);
  return result.ok ? [] : result.errors;
}
