/**
 * The leader's decisions about one instance, pure (randomness passed in): what to do next, how to
 * judge an attempt's outcome, how long to wait before a retry, and the request a call renders to.
 * The orchestrator does the I/O around them; the table records what they decided.
 */
import type { Random } from '../core/random.js';
import { backoffDelay } from '../raft-transport/backoff.js';
import type { CallOutcome, Phase, Verdict } from './commands.js';
import { MAX_BACKOFF_MS, type CompiledCall, type SagaDefinition } from './definition.js';
import { currentCall, idempotencyKey, type SagaInstance } from './saga-table.js';
import { renderString, renderValue, type TemplateContext } from '@palisade/crds/runtime';

/** What the leader should do for an unfinished instance. */
export type NextWork =
  /** Make (or re-make: its outcome is unknown) the call in flight. */
  | {
      readonly kind: 'call';
      readonly phase: Phase;
      readonly step: number;
      readonly attempt: number;
    }
  /** Wait the backoff, then intend `attempt` (or time out). */
  | {
      readonly kind: 'retry';
      readonly phase: Phase;
      readonly step: number;
      readonly attempt: number;
    };

/** The next thing to do for `instance`, or undefined when it is finished. */
export function nextWork(instance: SagaInstance): NextWork | undefined {
  const call = currentCall(instance);
  if (call === undefined) return undefined;
  const { phase, step, record } = call;
  if (record.status === 'in-flight') return { kind: 'call', phase, step, attempt: record.attempts };
  if (record.status === 'awaiting-retry') {
    return { kind: 'retry', phase, step, attempt: record.attempts + 1 };
  }
  return undefined;
}

/** Whether an outcome is a success (2xx), and whether a failure is worth another attempt. */
export function classify(outcome: CallOutcome): 'success' | 'retryable' | 'final' {
  if (outcome.kind === 'error') return 'retryable';
  if (outcome.status >= 200 && outcome.status < 300) return 'success';
  // Overload, timeouts and server errors may pass; other answers will not change.
  return outcome.status === 408 || outcome.status === 429 || outcome.status >= 500
    ? 'retryable'
    : 'final';
}

/** The verdict on attempt `attempt` of `call`. */
export function judge(call: CompiledCall, attempt: number, outcome: CallOutcome): Verdict {
  const kind = classify(outcome);
  if (kind === 'success') return 'succeeded';
  return kind === 'retryable' && attempt < call.attempts ? 'retry' : 'failed';
}

/** The wait before attempt `attempt` (≥ 2): the call's backoff doubling, with jitter, capped. */
export function retryDelayMs(call: CompiledCall, attempt: number, random: Random): number {
  return backoffDelay(attempt - 2, { baseMs: call.backoffMs * 2, capMs: MAX_BACKOFF_MS }, random);
}

/** The compiled call of a step's action or compensation (undefined: the step has none). */
export function callOf(
  definition: SagaDefinition,
  phase: Phase,
  step: number,
): CompiledCall | undefined {
  const s = definition.steps[step];
  return phase === 'action' ? s?.action : s?.compensation;
}

/** An HTTP request, rendered. */
export interface RenderedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: Record<string, string>;
  /** JSON text, when the call has a body. */
  readonly body: string | undefined;
  readonly timeoutMs: number;
}

/** What templates of `instance` read: its input and the responses of its succeeded actions. */
export function templateContext(instance: SagaInstance): TemplateContext {
  const responses = new Map<string, { status: number; body: unknown }>();
  for (const step of instance.steps) {
    const response = step.action.response;
    if (step.action.status === 'succeeded' && response !== undefined) {
      responses.set(step.name, { status: response.status, body: response.body });
    }
  }
  return { input: instance.input, responses };
}

/**
 * Renders a call of `instance`. Throws `TemplateError` when a value is missing (e.g. the response
 * of a step whose outcome is unknown): a final failure of that call.
 */
export function renderCall(
  call: CompiledCall,
  instance: SagaInstance,
  phase: Phase,
  step: number,
): RenderedRequest {
  const context = templateContext(instance);
  const headers: Record<string, string> = {};
  for (const [name, value] of call.headers)
    headers[name.toLowerCase()] = renderString(value, context);
  const name = instance.steps[step]?.name ?? String(step);
  headers['idempotency-key'] = idempotencyKey(instance.id, name, phase);
  let body: string | undefined;
  if (call.body !== undefined) {
    body = JSON.stringify(renderValue(call.body, context));
    headers['content-type'] ??= 'application/json';
  }
  return {
    method: call.method,
    url: renderString(call.url, context, encodeURIComponent),
    headers,
    body,
    timeoutMs: call.timeoutMs,
  };
}
