import type { Cancel, Scheduler } from '../core/clock.js';
import { ExponentialBackoff, TokenBucket } from './rate-limiters.js';

/** Options of a `WorkQueue`. */
export interface WorkQueueOptions {
  scheduler: Scheduler;
  /** Per-key exponential backoff after failures (defaults: 5 ms base, 1000 s cap). */
  backoff?: { baseMs?: number; capMs?: number };
  /** Global token bucket applied to rate-limited re-adds (defaults: 10/s, burst 100). */
  rateLimit?: { perSecond?: number; burst?: number };
}

interface Waiting {
  at: number;
  cancel: Cancel;
}

/**
 * A de-duplicating work queue of string keys, with client-go's semantics:
 * - a key is queued at most once however often it is added (`dirty`);
 * - a key handed out by `get` is `processing` until `done`: adding it meanwhile only marks it
 *   dirty, and `done` re-queues it, so the same key is never processed twice at once;
 * - `addAfter` delays an add (the earliest pending delay wins); `addRateLimited` delays by the
 *   larger of the key's exponential backoff and the global token bucket; `forget` resets the
 *   backoff after a success;
 * - after `shutDown`, adds are ignored and delayed adds dropped, but keys already queued are
 *   still handed out (drain); `get` then resolves `undefined` once the queue is empty.
 */
export class WorkQueue {
  private readonly scheduler: Scheduler;
  private readonly backoff: ExponentialBackoff;
  private readonly bucket: TokenBucket;
  private readonly queue: string[] = [];
  private readonly dirty = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly waiting = new Map<string, Waiting>();
  private readonly getters: ((key: string | undefined) => void)[] = [];
  private idleWaiters: (() => void)[] = [];
  private shuttingDown = false;

  constructor(options: WorkQueueOptions) {
    this.scheduler = options.scheduler;
    this.backoff = new ExponentialBackoff(options.backoff?.baseMs, options.backoff?.capMs);
    this.bucket = new TokenBucket(
      options.scheduler,
      options.rateLimit?.perSecond,
      options.rateLimit?.burst,
    );
  }

  /** Queues `key` unless it is already queued (or processing: then it re-runs after `done`). */
  add(key: string): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.dirty.add(key);
    if (this.processing.has(key)) return;
    const getter = this.getters.shift();
    if (getter !== undefined) {
      this.dirty.delete(key);
      this.processing.add(key);
      getter(key);
    } else {
      this.queue.push(key);
    }
  }

  /** Adds `key` after `delayMs`; an earlier pending delay for the same key is kept. */
  addAfter(key: string, delayMs: number): void {
    if (this.shuttingDown) return;
    if (delayMs <= 0) {
      this.add(key);
      return;
    }
    const at = this.scheduler.now() + delayMs;
    const existing = this.waiting.get(key);
    if (existing !== undefined) {
      if (existing.at <= at) return;
      existing.cancel();
    }
    const cancel = this.scheduler.schedule(delayMs, () => {
      this.waiting.delete(key);
      this.add(key);
    });
    this.waiting.set(key, { at, cancel });
  }

  /** Adds `key` after its backoff (or the global rate limit, whichever is longer); returns the delay. */
  addRateLimited(key: string): number {
    const delay = Math.max(this.backoff.when(key), this.bucket.reserve());
    this.addAfter(key, delay);
    return delay;
  }

  /** Clears `key`'s failure count (after success or a terminal failure). */
  forget(key: string): void {
    this.backoff.forget(key);
  }

  /** Failures of `key` since it was last forgotten. */
  retries(key: string): number {
    return this.backoff.retries(key);
  }

  /**
   * The next key to process, marking it processing; waits while the queue is empty.
   * Resolves `undefined` once shut down and drained of queued keys.
   */
  get(): Promise<string | undefined> {
    const key = this.queue.shift();
    if (key !== undefined) {
      this.dirty.delete(key);
      this.processing.add(key);
      return Promise.resolve(key);
    }
    if (this.shuttingDown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.getters.push(resolve));
  }

  /** Marks `key` processed; if it was added meanwhile, queues it again. */
  done(key: string): void {
    this.processing.delete(key);
    if (this.dirty.has(key)) {
      this.dirty.delete(key);
      this.add(key);
    }
    this.notifyIdle();
  }

  /** Stops accepting keys and drops delayed ones; queued keys are still handed out. */
  shutDown(): void {
    this.shuttingDown = true;
    for (const w of this.waiting.values()) w.cancel();
    this.waiting.clear();
    if (this.queue.length === 0) for (const g of this.getters.splice(0)) g(undefined);
    this.notifyIdle();
  }

  /** Whether `shutDown` was called. */
  get isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  /** Keys queued and ready (not delayed, not processing). */
  get length(): number {
    return this.queue.length;
  }

  /** Keys handed out and not yet done. */
  get processingCount(): number {
    return this.processing.size;
  }

  /** Keys waiting for a delay to pass. */
  get delayedCount(): number {
    return this.waiting.size;
  }

  /** Whether `key` is being processed now. */
  isProcessing(key: string): boolean {
    return this.processing.has(key);
  }

  /** Resolves when nothing is queued or processing (delayed keys do not count). */
  whenIdle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private isIdle(): boolean {
    return this.queue.length === 0 && this.processing.size === 0;
  }

  private notifyIdle(): void {
    if (this.shuttingDown && this.queue.length === 0) {
      for (const g of this.getters.splice(0)) g(undefined);
    }
    if (!this.isIdle()) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}
