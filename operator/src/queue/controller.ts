import type { Scheduler } from '../core/clock.js';
import { ReconcileTimeoutError, isTerminalError } from './errors.js';
import { WorkQueue, type WorkQueueOptions } from './work-queue.js';

/** What a reconcile asks of the queue after success. */
export interface ReconcileResult {
  /** Run this key again after this many ms (level-based polling, e.g. a chaos deadline). */
  requeueAfterMs?: number;
}

/**
 * Brings the world in line with the desired state for `key`. Must re-read state rather than
 * trust the event that queued it, must be idempotent, and must stop promptly when `signal`
 * aborts (its deadline passed or the controller stopped).
 */
export type Reconcile = (key: string, signal: AbortSignal) => Promise<ReconcileResult | void>;

/** How one reconcile ended, for metrics and logs. */
export type ReconcileOutcome =
  | { result: 'success'; requeueAfterMs?: number }
  | { result: 'error'; error: unknown; retryInMs: number }
  | { result: 'terminal'; error: unknown };

/** Options of a `Controller`. */
export interface ControllerOptions extends WorkQueueOptions {
  /** Name for logs and metrics (e.g. `ratelimitpolicy`). */
  name: string;
  reconcile: Reconcile;
  scheduler: Scheduler;
  /** Concurrent reconciles (of different keys). Default 1. */
  workers?: number;
  /** Deadline of one reconcile, ms; its signal aborts with ReconcileTimeoutError. Default 30 s. */
  reconcileTimeoutMs?: number;
  /** Called after every reconcile (metrics: duration and errors per controller). */
  onReconciled?: (key: string, outcome: ReconcileOutcome, durationMs: number) => void;
}

/**
 * Workers pulling keys from a `WorkQueue` and reconciling them: success forgets the key's
 * backoff (and honours `requeueAfterMs`), a retryable error re-adds it rate-limited, a
 * terminal error is reported and dropped. Every reconcile gets an AbortSignal that fires at
 * its deadline; the key stays "processing" until the reconcile settles, so even a reconcile
 * that ignores its signal is never run twice concurrently.
 */
export class Controller {
  readonly name: string;
  readonly queue: WorkQueue;
  private readonly options: ControllerOptions;
  private workers: Promise<void>[] = [];
  private readonly inFlight = new Set<AbortController>();

  constructor(options: ControllerOptions) {
    this.options = options;
    this.name = options.name;
    this.queue = new WorkQueue(options);
  }

  /** Starts the workers; idempotent. */
  start(): void {
    if (this.workers.length > 0) return;
    const count = Math.max(1, this.options.workers ?? 1);
    for (let i = 0; i < count; i++) this.workers.push(this.work());
  }

  /** Queues `key` for reconciliation. */
  enqueue(key: string): void {
    this.queue.add(key);
  }

  /**
   * Graceful stop: no new keys are accepted, queued and in-flight keys finish (each still
   * bounded by its deadline), then the workers exit. With `abortInFlight`, in-flight
   * reconciles are signalled to stop at once.
   */
  async shutDown(options: { abortInFlight?: boolean } = {}): Promise<void> {
    this.queue.shutDown();
    if (options.abortInFlight === true)
      for (const c of this.inFlight) c.abort(new Error('controller shutting down'));
    await Promise.all(this.workers);
  }

  private async work(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      try {
        await this.processOne(key);
      } finally {
        this.queue.done(key);
      }
    }
  }

  private async processOne(key: string): Promise<void> {
    const { scheduler, reconcile, onReconciled } = this.options;
    const timeoutMs = this.options.reconcileTimeoutMs ?? 30_000;
    const abort = new AbortController();
    this.inFlight.add(abort);
    const cancelDeadline = scheduler.schedule(timeoutMs, () =>
      abort.abort(new ReconcileTimeoutError(key, timeoutMs)),
    );
    const started = scheduler.now();
    let outcome: ReconcileOutcome;
    try {
      const result = await reconcile(key, abort.signal);
      this.queue.forget(key);
      const requeueAfterMs = result?.requeueAfterMs;
      if (requeueAfterMs !== undefined) this.queue.addAfter(key, requeueAfterMs);
      outcome =
        requeueAfterMs === undefined
          ? { result: 'success' }
          : { result: 'success', requeueAfterMs };
    } catch (caught) {
      // A reconcile that gave up because its deadline passed reports the timeout, whatever it threw.
      const error =
        abort.signal.aborted && abort.signal.reason instanceof ReconcileTimeoutError
          ? abort.signal.reason
          : caught;
      if (isTerminalError(error)) {
        this.queue.forget(key);
        outcome = { result: 'terminal', error };
      } else {
        outcome = { result: 'error', error, retryInMs: this.queue.addRateLimited(key) };
      }
    } finally {
      cancelDeadline();
      this.inFlight.delete(abort);
    }
    onReconciled?.(key, outcome, scheduler.now() - started);
  }
}
