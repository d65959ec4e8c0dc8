/**
 * The replicated saga state machine: pure and deterministic, fed with committed log entries in
 * order (like the lease table), so every replica holds the same instances and step logs.
 *
 * An instance runs its steps' actions in order, then is Completed; when an action fails (or the
 * deadline passes) it compensates, in reverse order, every step that took effect — or may have:
 * an action whose outcome is unknown (timeout, reset) counts — and ends Compensated, or Failed
 * when there was nothing to undo. A compensation that fails for good stops the instance in
 * NeedsAttention with its error: the remaining compensations are left for a human, in order.
 *
 * "Intent before the call": a call is in flight in the table (status `in-flight`) before the
 * leader makes it, because the leader only calls what it reads from the table after applying a
 * committed entry. An outcome entry records the outcome and intends the next call in the same
 * entry, so a three-step saga that succeeds takes four entries.
 */
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import {
  MAX_ERROR_LENGTH,
  type CallOutcome,
  type OutcomeCommand,
  type Phase,
  type RetryCommand,
  type SagaCommand,
  type StartCommand,
  type TimeoutCommand,
} from './commands.js';

/** Instance states (API.md). */
export const INSTANCE_STATES = [
  'Running',
  'Completed',
  'Compensating',
  'Compensated',
  'Failed',
  'NeedsAttention',
] as const;
/** One instance state. */
export type InstanceState = (typeof INSTANCE_STATES)[number];

/** States an instance never leaves. */
export const TERMINAL_STATES: ReadonlySet<InstanceState> = new Set([
  'Completed',
  'Compensated',
  'Failed',
  'NeedsAttention',
]);

/** Where one call (an action or a compensation) stands. */
export type CallStatus = 'pending' | 'in-flight' | 'awaiting-retry' | 'succeeded' | 'failed';

/** One call of a step. */
export interface CallRecord {
  status: CallStatus;
  /** Attempts intended so far (the current one included). */
  attempts: number;
  /** The successful response (actions: templates read it). */
  response?: { status: number; body?: unknown };
  /** The last failure. */
  error?: string;
  /** Some attempt ended without an answer after the request may have been sent. */
  maybeApplied?: boolean;
}

/** One step of an instance. */
export interface StepRecord {
  readonly name: string;
  readonly compensable: boolean;
  readonly action: CallRecord;
  readonly compensation: CallRecord;
}

/** One line of an instance's step log. */
export interface StepLogRecord {
  /** Raft index of the entry that recorded it. */
  readonly index: number;
  /** Leader's wall clock, ms since the epoch. */
  readonly at: number;
  readonly step: string;
  readonly phase: Phase;
  readonly attempt: number;
  readonly event: 'intent' | 'succeeded' | 'retrying' | 'failed' | 'timeout';
  readonly status?: number;
  readonly error?: string;
}

/** A saga instance as the table holds it. */
export interface SagaInstance {
  readonly id: string;
  readonly saga: string;
  readonly input: unknown;
  state: InstanceState;
  readonly startedAt: number;
  finishedAt?: number;
  /** The step whose action (Running) or compensation (Compensating) is current. */
  cursor: number;
  readonly steps: StepRecord[];
  /** Why the instance failed or needs attention. */
  error?: string;
  readonly log: StepLogRecord[];
}

/** The call an instance is at: what the orchestrator makes or waits to retry. */
export interface CurrentCall {
  readonly phase: Phase;
  readonly step: number;
  readonly record: CallRecord;
}

/** Result of applying one command. */
export type SagaApplyResult =
  | { readonly applied: true; readonly instance?: SagaInstance }
  | { readonly applied: false; readonly reason: 'unknown-instance' | 'duplicate' | 'stale' };

/** First byte of a deflated snapshot (a plain JSON one starts with `{`). */
const SNAPSHOT_TAG = 0x5a; // Z
/** Largest inflated snapshot accepted (far above 50,000 retained instances). */
const MAX_SNAPSHOT_JSON_BYTES = 1024 * 1024 * 1024;

/** Step log lines kept per instance (the first and the most recent). */
export const MAX_LOG_RECORDS = 200;

/** Where the entry being applied sits in the log. */
export interface LogPosition {
  readonly index: number;
  readonly term: number;
}

/** The instance's current call, or undefined when it is finished. */
export function currentCall(instance: SagaInstance): CurrentCall | undefined {
  const step = instance.steps[instance.cursor];
  if (step === undefined) return undefined;
  if (instance.state === 'Running')
    return { phase: 'action', step: instance.cursor, record: step.action };
  if (instance.state === 'Compensating') {
    return { phase: 'compensation', step: instance.cursor, record: step.compensation };
  }
  return undefined;
}

/** The Idempotency-Key of a call: `<instance>-<step>`, and `…-compensation` for the undo. */
export function idempotencyKey(instance: string, step: string, phase: Phase): string {
  return phase === 'action' ? `${instance}-${step}` : `${instance}-${step}-compensation`;
}

/** "503", "timeout after 2000 ms", …: an outcome in one line. */
export function describeOutcome(outcome: CallOutcome): string {
  const text =
    outcome.kind === 'response'
      ? `HTTP ${outcome.status}`
      : `${outcome.message}${outcome.uncertain ? ' (may have taken effect)' : ''}`;
  return text.slice(0, MAX_ERROR_LENGTH);
}

/** The replicated table of saga instances. */
export class SagaTable {
  private readonly instances = new Map<string, SagaInstance>();
  /** Ids of instances not finished (the orchestrator's work list). */
  private readonly active = new Set<string>();
  /**
   * Ids of finished instances, oldest finish first (this replica's order: apply order, or
   * `finishedAt` after a restore), and how many each saga has: retention reads the front only.
   */
  private readonly finishedOrder = new Set<string>();
  private readonly finishedPerSaga = new Map<string, number>();

  /** Applies one committed command. Deterministic: same log, same table, same results. */
  apply(position: LogPosition, command: SagaCommand): SagaApplyResult {
    switch (command.op) {
      case 'start':
        return this.start(position, command);
      case 'outcome':
        return this.outcome(position, command);
      case 'retry':
        return this.retry(position, command);
      case 'timeout':
        return this.timeout(position, command);
      case 'forget':
        for (const id of command.ids) {
          const instance = this.instances.get(id);
          if (instance !== undefined && TERMINAL_STATES.has(instance.state)) {
            this.instances.delete(id);
            this.finishedOrder.delete(id);
            const left = (this.finishedPerSaga.get(instance.saga) ?? 1) - 1;
            if (left > 0) this.finishedPerSaga.set(instance.saga, left);
            else this.finishedPerSaga.delete(instance.saga);
          }
        }
        return { applied: true };
      case 'barrier':
        return { applied: true };
    }
  }

  /** An instance, or undefined. The object is the table's own: do not modify it. */
  get(id: string): SagaInstance | undefined {
    return this.instances.get(id);
  }

  /** Instances not finished yet. */
  *unfinished(): IterableIterator<SagaInstance> {
    for (const id of this.active) yield this.instances.get(id) as SagaInstance;
  }

  /** Number of instances held (finished ones included, until forgotten). */
  get size(): number {
    return this.instances.size;
  }

  /** Instances by saga and state. */
  counts(): Map<string, Record<InstanceState, number>> {
    const out = new Map<string, Record<InstanceState, number>>();
    for (const instance of this.instances.values()) {
      let row = out.get(instance.saga);
      if (row === undefined) {
        row = Object.fromEntries(INSTANCE_STATES.map((s) => [s, 0])) as Record<
          InstanceState,
          number
        >;
        out.set(instance.saga, row);
      }
      row[instance.state]++;
    }
    return out;
  }

  /**
   * Finished instances to forget at wall time `now`, at most `limit`: beyond `maxFinished` the
   * oldest (memory stays bounded whatever the retention), and those finished longer ago than
   * their saga's retention. Reads from the oldest finish on and stops once every saga's oldest
   * remaining instance is still within its retention (finish times follow apply order; after a
   * leader change with a skewed wall clock an instance may be forgotten that much later), so the
   * check once a second costs what it returns, not the number of retained instances.
   */
  expired(
    now: number,
    retentionOf: (saga: string) => number,
    maxFinished: number,
    limit = Infinity,
  ): string[] {
    const out: string[] = [];
    const excess = this.finishedOrder.size - maxFinished;
    const kept = new Set<string>();
    for (const id of this.finishedOrder) {
      if (out.length >= limit || kept.size === this.finishedPerSaga.size) break;
      const instance = this.instances.get(id) as SagaInstance;
      if (out.length < excess) out.push(id);
      else if (kept.has(instance.saga)) continue;
      else if ((instance.finishedAt as number) + retentionOf(instance.saga) <= now) out.push(id);
      else kept.add(instance.saga);
    }
    return out;
  }

  /**
   * Serializes the table (equal tables, equal bytes): `Z` then the JSON of every instance,
   * deflated. Retained instances repeat the same keys and names: deflate (level 1, ~2 ms per MB of JSON)
   * makes the snapshot ~24 times smaller, which keeps the 50,000 finished instances retention
   * allows (~70 MB of JSON) within what the Raft transport can send a follower in one message
   * (16 MiB frames, base64) and cuts the snapshot file write to match.
   */
  snapshot(): Uint8Array {
    const json = JSON.stringify({ instances: [...this.instances.values()] });
    const deflated = deflateRawSync(json, { level: 1 });
    const out = new Uint8Array(1 + deflated.byteLength);
    out[0] = SNAPSHOT_TAG;
    out.set(deflated, 1);
    return out;
  }

  /** The inverse of {@link snapshot}; also reads the plain JSON snapshots taken before deflate. */
  static restore(data: Uint8Array): SagaTable {
    const table = new SagaTable();
    if (data.byteLength === 0) return table;
    const json =
      data[0] === SNAPSHOT_TAG
        ? inflateRawSync(data.subarray(1), { maxOutputLength: MAX_SNAPSHOT_JSON_BYTES }).toString(
            'utf8',
          )
        : new TextDecoder().decode(data);
    const parsed = JSON.parse(json) as { instances: SagaInstance[] };
    for (const instance of parsed.instances) {
      table.instances.set(instance.id, instance);
      if (!TERMINAL_STATES.has(instance.state)) table.active.add(instance.id);
    }
    const finished = parsed.instances
      .filter((i) => i.finishedAt !== undefined)
      .sort((a, b) => (a.finishedAt as number) - (b.finishedAt as number));
    for (const instance of finished) table.noteFinished(instance);
    return table;
  }

  // -----------------------------------------------------------------------------------------

  private start(position: LogPosition, c: StartCommand): SagaApplyResult {
    if (this.instances.has(c.id)) return { applied: false, reason: 'duplicate' };
    const instance: SagaInstance = {
      id: c.id,
      saga: c.saga,
      input: c.input,
      state: 'Running',
      startedAt: c.at,
      cursor: 0,
      steps: c.steps.map((s) => ({
        name: s.name,
        compensable: s.compensable,
        action: { status: 'pending', attempts: 0 },
        compensation: { status: 'pending', attempts: 0 },
      })),
      log: [],
    };
    this.instances.set(c.id, instance);
    this.active.add(c.id);
    this.intend(instance, position, c.at);
    return { applied: true, instance };
  }

  /**
   * The instance of `c` when its current call is the one `c` names, in `status`, with `c.attempt`
   * being attempt number `attempts + ahead`; otherwise why the command does not apply.
   */
  private find(
    c: OutcomeCommand | RetryCommand,
    status: CallStatus,
    ahead: number,
  ): { instance: SagaInstance; call: CurrentCall } | SagaApplyResult {
    const instance = this.instances.get(c.id);
    if (instance === undefined) return { applied: false, reason: 'unknown-instance' };
    const call = currentCall(instance);
    const matches =
      call?.phase === c.phase &&
      call.step === c.step &&
      call.record.status === status &&
      call.record.attempts + ahead === c.attempt;
    return matches ? { instance, call } : { applied: false, reason: 'stale' };
  }

  private outcome(position: LogPosition, c: OutcomeCommand): SagaApplyResult {
    const found = this.find(c, 'in-flight', 0);
    if (!('call' in found)) return found;
    const { instance, call } = found;
    const record = call.record;
    const step = instance.steps[c.step] as StepRecord;
    const { outcome } = c;
    if (outcome.kind === 'error' && outcome.uncertain) record.maybeApplied = true;
    // Past the deadline an action is not retried (the instance compensates instead).
    const verdict =
      c.phase === 'action' && c.deadlineExceeded && c.verdict === 'retry' ? 'failed' : c.verdict;
    const base = {
      index: position.index,
      at: c.at,
      step: step.name,
      phase: c.phase,
      attempt: c.attempt,
    };
    const status = outcome.kind === 'response' ? { status: outcome.status } : {};
    if (verdict === 'succeeded') {
      record.status = 'succeeded';
      if (outcome.kind === 'response') {
        record.response =
          outcome.body === undefined
            ? { status: outcome.status }
            : { status: outcome.status, body: outcome.body };
      }
      this.log(instance, { ...base, ...status, event: 'succeeded' });
      if (c.phase === 'compensation') {
        this.compensateFrom(instance, c.step - 1, position, c.at);
      } else if (c.deadlineExceeded) {
        instance.error = 'saga deadline exceeded';
        this.compensateFrom(instance, c.step, position, c.at);
      } else if (c.step + 1 >= instance.steps.length) {
        this.finish(instance, 'Completed', c.at);
      } else {
        instance.cursor = c.step + 1;
        this.intend(instance, position, c.at);
      }
      return { applied: true, instance };
    }
    record.error = describeOutcome(outcome);
    if (verdict === 'retry') {
      record.status = 'awaiting-retry';
      this.log(instance, { ...base, ...status, event: 'retrying', error: record.error });
      return { applied: true, instance };
    }
    record.status = 'failed';
    this.log(instance, { ...base, ...status, event: 'failed', error: record.error });
    if (c.phase === 'compensation') {
      instance.error = `compensation of step ${step.name} failed: ${record.error}`;
      this.finish(instance, 'NeedsAttention', c.at);
    } else {
      instance.error = `step ${step.name} failed: ${record.error}`;
      this.compensateFrom(instance, c.step, position, c.at);
    }
    return { applied: true, instance };
  }

  private retry(position: LogPosition, c: RetryCommand): SagaApplyResult {
    const found = this.find(c, 'awaiting-retry', 1);
    if (!('call' in found)) return found;
    this.intend(found.instance, position, c.at);
    return { applied: true, instance: found.instance };
  }

  private timeout(position: LogPosition, c: TimeoutCommand): SagaApplyResult {
    const instance = this.instances.get(c.id);
    if (instance === undefined) return { applied: false, reason: 'unknown-instance' };
    const call = currentCall(instance);
    // Only between attempts: a call in flight may take effect, its outcome decides.
    if (call === undefined || call.phase !== 'action' || call.record.status !== 'awaiting-retry') {
      return { applied: false, reason: 'stale' };
    }
    const step = instance.steps[call.step] as StepRecord;
    call.record.status = 'failed';
    instance.error = 'saga deadline exceeded';
    this.log(instance, {
      index: position.index,
      at: c.at,
      step: step.name,
      phase: 'action',
      attempt: call.record.attempts,
      event: 'timeout',
      error: instance.error,
    });
    this.compensateFrom(instance, call.step, position, c.at);
    return { applied: true, instance };
  }

  /** Marks the current call in flight (its next attempt): the intent. */
  private intend(instance: SagaInstance, position: LogPosition, at: number): void {
    const call = currentCall(instance) as CurrentCall;
    call.record.status = 'in-flight';
    call.record.attempts++;
    this.log(instance, {
      index: position.index,
      at,
      step: (instance.steps[call.step] as StepRecord).name,
      phase: call.phase,
      attempt: call.record.attempts,
      event: 'intent',
    });
  }

  /**
   * Compensates, from step `from` downwards, the next step that took effect or may have; finishes
   * the instance when none is left (Compensated after any compensation, Failed when none ran).
   */
  private compensateFrom(
    instance: SagaInstance,
    from: number,
    position: LogPosition,
    at: number,
  ): void {
    for (let i = from; i >= 0; i--) {
      const step = instance.steps[i] as StepRecord;
      const tookEffect = step.action.status === 'succeeded' || step.action.maybeApplied === true;
      if (step.compensable && tookEffect && step.compensation.status === 'pending') {
        instance.state = 'Compensating';
        instance.cursor = i;
        this.intend(instance, position, at);
        return;
      }
    }
    const compensated = instance.steps.some((s) => s.compensation.status === 'succeeded');
    this.finish(instance, compensated ? 'Compensated' : 'Failed', at);
  }

  private finish(instance: SagaInstance, state: InstanceState, at: number): void {
    instance.state = state;
    instance.finishedAt = at;
    this.active.delete(instance.id);
    this.noteFinished(instance);
  }

  private noteFinished(instance: SagaInstance): void {
    this.finishedOrder.add(instance.id);
    this.finishedPerSaga.set(instance.saga, (this.finishedPerSaga.get(instance.saga) ?? 0) + 1);
  }

  private log(instance: SagaInstance, record: StepLogRecord): void {
    // Keep the first lines (how it began) and the latest (how it is going).
    if (instance.log.length >= MAX_LOG_RECORDS) instance.log.splice(MAX_LOG_RECORDS / 2, 1);
    instance.log.push(record);
  }
}
