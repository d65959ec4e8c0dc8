/**
 * Saga commands as they travel through the Raft log. One entry holds every command the leader
 * proposed in one event-loop turn, of any instances: the byte `S`, then a JSON array of commands
 * (entries written before batching are `{"saga": command}`, and still read). The tag byte keeps
 * the lease table's decoder, which sees every entry first, from parsing saga entries as JSON.
 *
 * Every decision that depends on configuration or on the leader's clock (retry or give up, past
 * the deadline or not) is taken by the leader and written into the command, so that applying the
 * log needs nothing but the log: every replica computes the same table.
 *
 * `decodeSagaEntry` validates everything: entries come from the leader of the group, but a
 * malformed one must be refused, not crash every replica.
 */

/** Which call of a step. */
export type Phase = 'action' | 'compensation';

/**
 * What one attempt of a call gave. `response`: the service answered (any status). `error`: no
 * answer; `uncertain` when the request may have reached the service (timeout, reset after
 * sending) — such a step may have taken effect.
 */
export type CallOutcome =
  | { readonly kind: 'response'; readonly status: number; readonly body?: unknown }
  | { readonly kind: 'error'; readonly uncertain: boolean; readonly message: string };

/**
 * The leader's verdict on an attempt: `succeeded`; `retry` (another attempt will follow after a
 * backoff); `failed` (no more attempts).
 */
export type Verdict = 'succeeded' | 'retry' | 'failed';

/** One step as an instance records it when it starts. */
export interface StartStep {
  readonly name: string;
  /** Whether the step has a compensation. */
  readonly compensable: boolean;
}

/** A new instance; its first step's action is intended at once (one entry, not two). */
export interface StartCommand {
  readonly op: 'start';
  readonly id: string;
  readonly saga: string;
  readonly input: unknown;
  readonly steps: readonly StartStep[];
  /** Leader's wall clock (ms since the epoch): for the step log, durations and retention. */
  readonly at: number;
}

/**
 * The outcome of the call in flight. Applying it records the outcome and, on success, intends
 * the next call (the next step's action, or the next compensation): outcome and next intent
 * share one entry.
 */
export interface OutcomeCommand {
  readonly op: 'outcome';
  readonly id: string;
  readonly phase: Phase;
  readonly step: number;
  readonly attempt: number;
  readonly outcome: CallOutcome;
  readonly verdict: Verdict;
  /** The instance's deadline had passed when the outcome was proposed: compensate, go no further. */
  readonly deadlineExceeded: boolean;
  readonly at: number;
}

/** The intent of the next attempt of a call awaiting retry. */
export interface RetryCommand {
  readonly op: 'retry';
  readonly id: string;
  readonly phase: Phase;
  readonly step: number;
  readonly attempt: number;
  readonly at: number;
}

/** The deadline passed while an action awaited its retry: compensate instead. */
export interface TimeoutCommand {
  readonly op: 'timeout';
  readonly id: string;
  readonly at: number;
}

/** Drop finished instances (retention). */
export interface ForgetCommand {
  readonly op: 'forget';
  readonly ids: readonly string[];
}

/** No change: a new leader proposes one and resumes once it applied (its table is then current). */
export interface BarrierCommand {
  readonly op: 'barrier';
}

/** Everything the saga table applies. */
export type SagaCommand =
  StartCommand | OutcomeCommand | RetryCommand | TimeoutCommand | ForgetCommand | BarrierCommand;

/** First byte of a saga entry (`S`). */
export const SAGA_ENTRY_TAG = 0x53;
/** Most commands one entry may hold (an entry with more is malformed). */
export const MAX_COMMANDS_PER_ENTRY = 1024;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Builds one saga entry from commands added one at a time (each serialized as it is added, so
 * that the builder knows the entry's size before it is sealed).
 */
export class SagaEntryBuilder {
  private readonly parts: string[] = [];
  private length = 0;

  /** Adds a command. */
  add(command: SagaCommand): void {
    const json = JSON.stringify(command);
    this.parts.push(json);
    this.length += json.length + 1;
  }

  /** Commands added. */
  get count(): number {
    return this.parts.length;
  }

  /** Characters of JSON added (≈ bytes: the entry's size). */
  get size(): number {
    return this.length;
  }

  /** The entry: `S[command,command,…]`. */
  build(): Uint8Array {
    return encoder.encode(`S[${this.parts.join(',')}]`);
  }
}

/** Instance ids: 32 lowercase hex digits (also the instance's trace id). */
export const INSTANCE_ID_PATTERN = /^[0-9a-f]{32}$/;
/** Longest error text kept in the table. */
export const MAX_ERROR_LENGTH = 1024;

class Malformed extends Error {}

function fail(what: string): never {
  throw new Malformed(what);
}

function rec(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(what);
  return value as Record<string, unknown>;
}

function int(value: unknown, what: string, min = 0): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) fail(what);
  return value;
}

function text(value: unknown, what: string, max = 512): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > max) fail(what);
  return value;
}

function id(value: unknown): string {
  if (typeof value !== 'string' || !INSTANCE_ID_PATTERN.test(value)) fail('id');
  return value;
}

function phase(value: unknown): Phase {
  if (value !== 'action' && value !== 'compensation') fail('phase');
  return value;
}

function outcome(value: unknown): CallOutcome {
  const o = rec(value, 'outcome');
  if (o.kind === 'response') {
    const status = int(o.status, 'status', 100);
    return o.body === undefined
      ? { kind: 'response', status }
      : { kind: 'response', status, body: o.body };
  }
  if (o.kind === 'error') {
    if (typeof o.uncertain !== 'boolean') fail('uncertain');
    return {
      kind: 'error',
      uncertain: o.uncertain,
      message: text(o.message, 'message', MAX_ERROR_LENGTH),
    };
  }
  return fail('outcome kind');
}

function parse(value: unknown): SagaCommand {
  const c = rec(value, 'command');
  switch (c.op) {
    case 'start': {
      if (!Array.isArray(c.steps) || c.steps.length === 0 || c.steps.length > 32) fail('steps');
      return {
        op: 'start',
        id: id(c.id),
        saga: text(c.saga, 'saga'),
        input: c.input,
        steps: c.steps.map((s) => {
          const step = rec(s, 'step');
          if (typeof step.compensable !== 'boolean') fail('compensable');
          return { name: text(step.name, 'step name', 253), compensable: step.compensable };
        }),
        at: int(c.at, 'at'),
      };
    }
    case 'outcome': {
      const verdict = c.verdict;
      if (verdict !== 'succeeded' && verdict !== 'retry' && verdict !== 'failed') fail('verdict');
      if (typeof c.deadlineExceeded !== 'boolean') fail('deadlineExceeded');
      return {
        op: 'outcome',
        id: id(c.id),
        phase: phase(c.phase),
        step: int(c.step, 'step'),
        attempt: int(c.attempt, 'attempt', 1),
        outcome: outcome(c.outcome),
        verdict,
        deadlineExceeded: c.deadlineExceeded,
        at: int(c.at, 'at'),
      };
    }
    case 'retry':
      return {
        op: 'retry',
        id: id(c.id),
        phase: phase(c.phase),
        step: int(c.step, 'step'),
        attempt: int(c.attempt, 'attempt', 2),
        at: int(c.at, 'at'),
      };
    case 'timeout':
      return { op: 'timeout', id: id(c.id), at: int(c.at, 'at') };
    case 'forget':
      if (!Array.isArray(c.ids) || c.ids.length > 100_000) fail('ids');
      return { op: 'forget', ids: c.ids.map(id) };
    case 'barrier':
      return { op: 'barrier' };
    default:
      return fail('op');
  }
}

function parseAll(values: unknown): SagaCommand[] {
  if (!Array.isArray(values) || values.length === 0 || values.length > MAX_COMMANDS_PER_ENTRY)
    fail('commands');
  return values.map(parse);
}

/**
 * Decodes a log payload: its commands in order, `'malformed'` for a saga entry that fails
 * validation (all of it: replicas must agree), or undefined when the payload is not a saga
 * entry (another state machine's).
 */
export function decodeSagaEntry(data: Uint8Array): SagaCommand[] | 'malformed' | undefined {
  try {
    if (data[0] === SAGA_ENTRY_TAG) {
      let values: unknown;
      try {
        values = JSON.parse(decoder.decode(data.subarray(1)));
      } catch {
        return 'malformed';
      }
      return parseAll(values);
    }
    // An entry written before batching: one command, `{"saga": …}`.
    if (data[0] !== 0x7b /* { */) return undefined;
    let value: unknown;
    try {
      value = JSON.parse(decoder.decode(data));
    } catch {
      return undefined;
    }
    if (typeof value !== 'object' || value === null || !('saga' in value)) return undefined;
    return [parse(value.saga)];
  } catch (error) {
    if (error instanceof Malformed) return 'malformed';
    throw error;
  }
}
