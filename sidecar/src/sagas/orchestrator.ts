/**
 * Runs saga instances on the Raft leader: the I/O shell around the table and the decisions.
 *
 *   committed intent (table: call in flight) ─► render ─► HTTP call (Idempotency-Key, traceparent)
 *        ▲                                                        │
 *        └──── apply: outcome recorded + next call intended ◄── propose outcome (verdict, deadline)
 *
 * The leader only calls what the table shows in flight after a committed entry, so every intent
 * is committed before its call; the outcome is committed after. A leader that loses its role
 * makes no new call: its proposals fail and the next leader takes over.
 *
 * On becoming leader it first commits a barrier (its table is then current), then resumes every
 * unfinished instance: a call in flight is re-issued with the same attempt number and key (its
 * outcome is unknown: the service's idempotency makes the repeat harmless), a call awaiting a
 * retry is retried. A sweep every `sweepMs` re-drives any instance nothing is working on (after
 * a proposal timed out, for example) and forgets finished instances past their retention.
 */
import type { Logger } from 'pino';
import type { Clock } from '../core/clock.js';
import type { Random } from '../core/random.js';
import type { Metrics } from '../metrics/index.js';
import type { CallReply } from '../raft-node/index.js';
import { NOOP_SPAN, type Span, type Tracing } from '../tracing/index.js';
import type { CallOutcome, SagaCommand } from './commands.js';
import type { CompiledCall, SagaDefinition } from './definition.js';
import { callOf, judge, nextWork, renderCall, retryDelayMs, type NextWork } from './decisions.js';
import type { StepCaller } from './http-caller.js';
import { RandomHexPool } from './random-hex.js';
import {
  TERMINAL_STATES,
  type SagaApplyResult,
  type SagaInstance,
  type SagaTable,
} from './saga-table.js';
import { TemplateError } from '@palisade/crds/runtime';

/** The answer to a proposal: applied (with the table's result), or why not (retryable). */
export type SagaProposal =
  { readonly ok: true; readonly result: SagaApplyResult } | Extract<CallReply, { ok: false }>;

/** What the orchestrator needs from the Raft node. */
export interface SagaLog {
  /** Leader only: appends `command`, resolves once it is applied here. */
  propose(command: SagaCommand): Promise<SagaProposal>;
  /** This node's role now. */
  leadership(): { readonly leader: boolean; readonly term: number };
}

/** Instances forgotten per `forget` entry at most. */
export const FORGET_BATCH = 1000;

/** Finished instances kept at most, whatever the retention (memory bound). */
export const MAX_FINISHED_INSTANCES = 50_000;

/** Options of {@link SagaOrchestrator}. */
export interface SagaOrchestratorOptions {
  readonly log: SagaLog;
  readonly table: () => SagaTable;
  /** The sagas in force (swapped on config reload). */
  readonly definitions: () => ReadonlyMap<string, SagaDefinition>;
  readonly caller: StepCaller;
  /** Wall clock, ms since the epoch (deadlines, durations, retention). */
  readonly wallClock: Clock;
  readonly random: Random;
  readonly tracing: () => Tracing;
  readonly metrics?: Metrics;
  readonly logger?: Logger;
  /** How often leadership is checked and idle instances re-driven. Default 200 ms. */
  readonly sweepMs?: number;
}

/** The leader-side runner of saga instances. */
export class SagaOrchestrator {
  /** Term whose barrier has applied: the table is current and instances may be driven. */
  private readyTerm = -1;
  private barrierTerm = -1;
  /** Instances with a call, a backoff or a proposal under way on this node. */
  private readonly busy = new Set<string>();
  private readonly retryTimers = new Map<string, NodeJS.Timeout>();
  private readonly spans = new Map<string, Span>();
  private sweeper: NodeJS.Timeout | undefined;
  private lastForget = 0;
  private stopped = false;
  private readonly spanIds = new RandomHexPool();

  constructor(private readonly options: SagaOrchestratorOptions) {}

  /** Starts the sweep. */
  start(): void {
    this.sweeper = setInterval(() => this.sweep(), this.options.sweepMs ?? 200);
    this.sweep();
  }

  /** Stops timers; calls in flight finish, their outcomes are proposed if still leader. */
  stop(): void {
    this.stopped = true;
    clearInterval(this.sweeper);
    this.loseLeadership();
  }

  /** Whether this node runs instances now (leader with a current table). */
  ready(): boolean {
    const { leader, term } = this.options.log.leadership();
    return leader && term === this.readyTerm && !this.stopped;
  }

  /** Drives an instance just started here (its start entry applied). */
  started(id: string): void {
    const instance = this.options.table().get(id);
    if (instance !== undefined && this.ready()) this.drive(instance);
  }

  // -------------------------------------------------------------------------------------------

  private sweep(): void {
    if (this.stopped) return;
    const { leader, term } = this.options.log.leadership();
    if (!leader) {
      if (this.readyTerm !== -1 || this.barrierTerm !== -1) this.loseLeadership();
      return;
    }
    if (term !== this.barrierTerm) {
      if (this.readyTerm !== -1) this.loseLeadership();
      this.barrierTerm = term;
      void this.options.log.propose({ op: 'barrier' }).then((answer) => {
        if (!answer.ok || this.options.log.leadership().term !== term) {
          if (this.barrierTerm === term) this.barrierTerm = -1; // ask again at the next sweep
          return;
        }
        this.readyTerm = term;
        const resumed = [...this.options.table().unfinished()];
        if (resumed.length > 0) {
          this.options.logger?.info(
            { term, instances: resumed.length },
            'resuming unfinished saga instances',
          );
        }
        for (const instance of resumed) this.drive(instance);
      });
      return;
    }
    if (this.readyTerm !== term) return;
    for (const instance of this.options.table().unfinished()) this.drive(instance);
    this.forgetExpired();
  }

  private loseLeadership(): void {
    this.readyTerm = -1;
    this.barrierTerm = -1;
    for (const timer of this.retryTimers.values()) clearTimeout(timer);
    for (const id of this.retryTimers.keys()) this.busy.delete(id);
    this.retryTimers.clear();
    for (const span of this.spans.values()) span.end();
    this.spans.clear();
  }

  private drive(instance: SagaInstance): void {
    if (this.busy.has(instance.id) || !this.ready()) return;
    const work = nextWork(instance);
    if (work === undefined) return;
    this.busy.add(instance.id);
    if (work.kind === 'call') {
      void this.call(instance, work).finally(() => this.release(instance.id));
      return;
    }
    const definition = this.options.definitions().get(instance.saga);
    const call = definition && callOf(definition, work.phase, work.step);
    const delay = call === undefined ? 0 : retryDelayMs(call, work.attempt, this.options.random);
    const remaining = this.deadline(instance, definition) - this.options.wallClock.now();
    const timeout = work.phase === 'action' && remaining < delay;
    const timer = setTimeout(
      () => {
        this.retryTimers.delete(instance.id);
        const at = this.now();
        const command: SagaCommand = timeout
          ? { op: 'timeout', id: instance.id, at }
          : {
              op: 'retry',
              id: instance.id,
              phase: work.phase,
              step: work.step,
              attempt: work.attempt,
              at,
            };
        if (!timeout) this.options.metrics?.sagaStepRetries.bind().inc();
        void this.propose(instance.id, command).finally(() => this.release(instance.id));
      },
      Math.max(0, timeout ? remaining : delay),
    );
    this.retryTimers.set(instance.id, timer);
  }

  /** Frees an instance and drives it on (the entry just applied may have intended the next call). */
  private release(id: string): void {
    this.busy.delete(id);
    const instance = this.options.table().get(id);
    if (instance !== undefined && !TERMINAL_STATES.has(instance.state)) this.drive(instance);
  }

  private async call(instance: SagaInstance, work: NextWork): Promise<void> {
    const definition = this.options.definitions().get(instance.saga);
    const step = instance.steps[work.step];
    const call = definition && callOf(definition, work.phase, work.step);
    let outcome: CallOutcome;
    let verdict: 'succeeded' | 'retry' | 'failed' = 'failed';
    if (
      definition === undefined ||
      call === undefined ||
      definition.steps[work.step]?.name !== step?.name
    ) {
      outcome = {
        kind: 'error',
        uncertain: false,
        message: `saga ${instance.saga} is not configured (or its steps changed) on the leader`,
      };
    } else {
      if (work.phase === 'compensation' && work.attempt === 1) {
        this.options.metrics?.sagaCompensations.bind().inc();
      }
      const attempt = await this.attempt(instance, work, call);
      outcome = attempt.outcome;
      // A value missing from a template stays missing: no retry.
      verdict = attempt.rendered ? judge(call, work.attempt, outcome) : 'failed';
    }
    const deadlineExceeded = this.options.wallClock.now() > this.deadline(instance, definition);
    await this.propose(instance.id, {
      op: 'outcome',
      id: instance.id,
      phase: work.phase,
      step: work.step,
      attempt: work.attempt,
      outcome,
      verdict,
      deadlineExceeded,
      at: this.now(),
    });
  }

  /** Renders and makes one attempt, inside a step span. */
  private async attempt(
    instance: SagaInstance,
    work: NextWork,
    call: CompiledCall,
  ): Promise<{ outcome: CallOutcome; rendered: boolean }> {
    let request;
    try {
      request = renderCall(call, instance, work.phase, work.step);
    } catch (error) {
      if (!(error instanceof TemplateError)) throw error;
      return {
        outcome: { kind: 'error', uncertain: false, message: error.message },
        rendered: false,
      };
    }
    const tracing = this.options.tracing();
    const stepName = instance.steps[work.step]?.name ?? '';
    const span = tracing.enabled
      ? tracing.startClientSpan(
          this.instanceSpan(instance, tracing),
          {
            'palisade.saga': instance.saga,
            'palisade.saga.instance': instance.id,
            'palisade.saga.step': stepName,
            'palisade.saga.phase': work.phase,
            'palisade.saga.attempt': work.attempt,
          },
          `saga ${work.phase} ${stepName}`,
        )
      : NOOP_SPAN;
    if (span === NOOP_SPAN) request.headers.traceparent = this.untracedParent(instance.id);
    else tracing.inject(span, request.headers);
    const outcome = await this.options.caller(request);
    tracing.finishSpan(
      span,
      outcome.kind === 'response' ? outcome.status : 0,
      outcome.kind === 'error' ? 'saga_call_error' : undefined,
    );
    return { outcome, rendered: true };
  }

  /** The instance's span on this leader: its trace id is the instance id. */
  private instanceSpan(instance: SagaInstance, tracing: Tracing): Span {
    let span = this.spans.get(instance.id);
    if (span === undefined) {
      span = tracing.startServerSpan(
        [`traceparent`, `00-${instance.id}-${instance.id.slice(0, 16)}-01`],
        { 'palisade.saga': instance.saga, 'palisade.saga.instance': instance.id },
        `saga ${instance.saga}`,
      );
      this.spans.set(instance.id, span);
    }
    return span;
  }

  /**
   * Tracing off still sends a `traceparent` (API.md): the instance's trace id, a fresh span id,
   * not sampled.
   */
  private untracedParent(id: string): string {
    return `00-${id}-${this.spanIds.next(8)}-00`;
  }

  private async propose(id: string, command: SagaCommand): Promise<void> {
    const answer = await this.options.log.propose(command);
    if (!answer.ok) {
      this.options.logger?.debug(
        { id, op: command.op, code: answer.code },
        'saga proposal not applied; the leader will resume it',
      );
      return;
    }
    const instance = answer.result.applied ? answer.result.instance : undefined;
    if (instance !== undefined && TERMINAL_STATES.has(instance.state)) this.finished(instance);
  }

  /** Metrics and span of an instance that just finished here. */
  private finished(instance: SagaInstance): void {
    const seconds = Math.max(
      0,
      ((instance.finishedAt ?? instance.startedAt) - instance.startedAt) / 1000,
    );
    this.options.metrics?.sagaExecutionDuration
      .bind(instance.saga, instance.state)
      .observe(seconds);
    const span = this.spans.get(instance.id);
    if (span !== undefined) {
      span.setAttribute('palisade.saga.state', instance.state);
      span.end();
      this.spans.delete(instance.id);
    }
  }

  private deadline(instance: SagaInstance, definition: SagaDefinition | undefined): number {
    return definition?.timeoutMs === undefined
      ? Infinity
      : instance.startedAt + definition.timeoutMs;
  }

  private now(): number {
    return Math.floor(this.options.wallClock.now());
  }

  /** Proposes `forget` for finished instances past their retention, at most once a second. */
  private forgetExpired(): void {
    const now = this.options.wallClock.now();
    if (now - this.lastForget < 1000) return;
    this.lastForget = now;
    const definitions = this.options.definitions();
    // At most FORGET_BATCH per entry: a large backlog goes over a few sweeps, in small entries.
    const ids = this.options
      .table()
      .expired(
        now,
        (saga) => definitions.get(saga)?.retentionMs ?? 0,
        MAX_FINISHED_INSTANCES,
        FORGET_BATCH,
      );
    if (ids.length > 0) void this.options.log.propose({ op: 'forget', ids });
  }
}
