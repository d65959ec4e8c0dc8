import type { Cancel, Scheduler } from '../core/clock.js';
import { ExponentialBackoff } from '../queue/rate-limiters.js';
import type { ObjectLike } from './object-key.js';

/**
 * The part of @kubernetes/client-node's `ListWatch` (list-then-watch, relist on 410 Gone)
 * this wrapper uses. On an error other than 410 the ListWatch stops and reports it; restarting
 * it (with backoff) is this wrapper's job.
 */
export interface ListWatchPort<T> {
  on(verb: 'add' | 'update' | 'delete', callback: (object: T) => void): void;
  on(verb: 'error', callback: (error?: unknown) => void): void;
  get(name: string, namespace?: string): T | undefined;
  list(namespace?: string): ReadonlyArray<T>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** An informer event; `resync` re-announces every cached object periodically. */
export interface InformerEvent<T> {
  type: 'add' | 'update' | 'delete' | 'resync';
  object: T;
}

/** Options of a `ResourceInformer`. */
export interface ResourceInformerOptions<T> {
  /** For logs and errors, e.g. `pods`. */
  name: string;
  /**
   * Creates the underlying ListWatch with a list function; the wrapper passes `list` wrapped
   * so that it knows when the first full list has landed.
   */
  createListWatch: (list: <L>(inner: () => Promise<L>) => Promise<L>) => ListWatchPort<T>;
  scheduler: Scheduler;
  /** Restart backoff after errors (defaults: 800 ms doubling to 30 s, like client-go's reflector). */
  backoff?: { baseMs?: number; capMs?: number };
  /** Re-announce every cached object this often (0: never). Default 0. */
  resyncMs?: number;
  /** Told about every error before the restart is scheduled. */
  onError?: (error: unknown, restartInMs: number) => void;
}

/**
 * A list-then-watch cache of one resource that keeps itself alive: errors restart the
 * ListWatch after a capped exponential backoff (reset by each successful list), `hasSynced`
 * turns true once the first full list is in the cache, and every change is passed to the
 * handlers (which typically enqueue `objectKey(object)`).
 */
export class ResourceInformer<T extends ObjectLike> {
  readonly name: string;
  private readonly options: ResourceInformerOptions<T>;
  private readonly listWatch: ListWatchPort<T>;
  private readonly backoff: ExponentialBackoff;
  private readonly handlers: ((event: InformerEvent<T>) => void)[] = [];
  private readonly syncWaiters: (() => void)[] = [];
  private listedThisAttempt = false;
  private synced = false;
  private running = false;
  private starting = false;
  private cancelRestart: Cancel | undefined;
  private cancelResync: Cancel | undefined;

  constructor(options: ResourceInformerOptions<T>) {
    this.options = options;
    this.name = options.name;
    this.backoff = new ExponentialBackoff(
      options.backoff?.baseMs ?? 800,
      options.backoff?.capMs ?? 30_000,
    );
    this.listWatch = options.createListWatch(async (inner) => {
      const result = await inner();
      this.listedThisAttempt = true;
      this.backoff.forget('restart');
      return result;
    });
    for (const verb of ['add', 'update', 'delete'] as const) {
      this.listWatch.on(verb, (object) => this.emit({ type: verb, object }));
    }
    this.listWatch.on('error', (error) => this.handleError(error));
  }

  /** Registers a change handler. */
  onEvent(handler: (event: InformerEvent<T>) => void): void {
    this.handlers.push(handler);
  }

  /** Starts listing and watching; resolves after the first attempt (synced or not). */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.scheduleResync();
    await this.attempt();
  }

  /** Stops watching and any pending restart. */
  async stop(): Promise<void> {
    this.running = false;
    this.cancelRestart?.();
    this.cancelResync?.();
    await this.listWatch.stop();
  }

  /** True once a full list has been cached (stays true across later relists). */
  hasSynced(): boolean {
    return this.synced;
  }

  /** Resolves when `hasSynced()` becomes true. */
  whenSynced(): Promise<void> {
    if (this.synced) return Promise.resolve();
    return new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  /** The cached object, if any. */
  get(name: string, namespace?: string): T | undefined {
    return this.listWatch.get(name, namespace);
  }

  /** Cached objects of `namespace`, or all. */
  list(namespace?: string): readonly T[] {
    return this.listWatch.list(namespace);
  }

  private async attempt(): Promise<void> {
    if (!this.running || this.starting) return;
    this.starting = true;
    this.listedThisAttempt = false;
    try {
      await this.listWatch.start();
    } catch (error) {
      this.handleError(error);
    } finally {
      this.starting = false;
    }
    // ListWatch.start resolves once the listed objects are cached and the watch is open.
    if (this.listedThisAttempt && !this.synced) {
      this.synced = true;
      for (const w of this.syncWaiters.splice(0)) w();
    }
  }

  private handleError(error: unknown): void {
    if (!this.running) return;
    const delay = this.backoff.when('restart');
    this.options.onError?.(error, delay);
    this.cancelRestart?.();
    this.cancelRestart = this.options.scheduler.schedule(delay, () => {
      this.cancelRestart = undefined;
      void this.attempt();
    });
  }

  private scheduleResync(): void {
    const every = this.options.resyncMs ?? 0;
    if (every <= 0) return;
    this.cancelResync = this.options.scheduler.schedule(every, () => {
      if (!this.running) return;
      if (this.synced) for (const object of this.list()) this.emit({ type: 'resync', object });
      this.scheduleResync();
    });
  }

  private emit(event: InformerEvent<T>): void {
    for (const h of this.handlers) h(event);
  }
}

/** Readiness of several informers: ready only when every one has synced. */
export class InformerSet {
  constructor(
    private readonly informers: readonly { hasSynced(): boolean; whenSynced(): Promise<void> }[],
  ) {}

  /** Whether every informer has completed its first full list. */
  allSynced(): boolean {
    return this.informers.every((i) => i.hasSynced());
  }

  /** Resolves once every informer has synced. */
  async whenSynced(): Promise<void> {
    await Promise.all(this.informers.map((i) => i.whenSynced()));
  }
}
