/**
 * One list-then-watch of the namespace's config ConfigMaps, kept alive: list (the cache is
 * replaced), then watch from the list's resourceVersion with bookmarks; a watch that ends is
 * resumed from the last resourceVersion seen, 410 Gone (as an HTTP status or as an ERROR event)
 * relists at once, and any other failure retries after a capped exponential backoff with
 * jitter (reset by a successful list or a watch that delivered something). While the API server
 * is away the cache — and so the config in force — stays as it was.
 */
import type { Random } from '../core/random.js';
import { backoffDelay, type BackoffPolicy } from '../raft-transport/backoff.js';
import { ConfigMapCache } from './config-map-cache.js';
import type { ConfigMapView } from './select-config.js';

/** The two API calls the reflector makes (client-node adapter in `kube-client.ts`). */
export interface ConfigMapClient {
  /** A full, label-selected list of the namespace, with the list's resourceVersion. */
  list(): Promise<{ readonly items: readonly unknown[]; readonly resourceVersion: string }>;
  /**
   * Opens a watch from `resourceVersion`; `onEvent` gets each event, `onDone` is called once
   * when the stream ends (`null`) or fails. Rejects (or calls `onDone` with an error carrying
   * `statusCode`) when the server refuses it.
   */
  watch(
    resourceVersion: string,
    onEvent: (type: string, object: unknown) => void,
    onDone: (error: unknown) => void,
  ): Promise<{ abort(): void }>;
}

/** Options of `ConfigMapReflector`. */
export interface ConfigMapReflectorOptions {
  readonly client: ConfigMapClient;
  readonly random: Random;
  /** Retry delays after failures. Default 500 ms doubling to 30 s, equal jitter. */
  readonly backoff?: BackoffPolicy;
  /** Called after every change of the cached objects (first list included). */
  readonly onChange: (objects: Iterable<ConfigMapView>) => void;
  /** Called for every failure, with the delay before the next attempt. */
  readonly onError?: (error: unknown, retryInMs: number) => void;
  /** Called after each successful list (count of objects). */
  readonly onListed?: (objects: number) => void;
}

/** Default retry delays: client-go's reflector waits 800 ms doubling to 30 s. */
export const DEFAULT_REFLECTOR_BACKOFF: BackoffPolicy = { baseMs: 500, capMs: 30_000 };

/** Keeps the cache equal to the API server's state (see the module comment). */
export class ConfigMapReflector {
  private readonly cache = new ConfigMapCache();
  private readonly options: ConfigMapReflectorOptions;
  private running = false;
  private failures = 0;
  private synced = false;
  private readonly syncWaiters: (() => void)[] = [];
  private currentWatch: { abort(): void } | null = null;
  private wake: (() => void) | null = null;
  private loop: Promise<void> | null = null;

  constructor(options: ConfigMapReflectorOptions) {
    this.options = options;
  }

  /** Starts the loop (it runs until `stop`). */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** True once a full list is cached (stays true across relists and outages). */
  hasSynced(): boolean {
    return this.synced;
  }

  /** Resolves true at the first successful list, or false after `timeoutMs`. */
  whenSynced(timeoutMs: number): Promise<boolean> {
    if (this.synced) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.syncWaiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  /** The cached objects. */
  objects(): Iterable<ConfigMapView> {
    return this.cache.values();
  }

  /** Stops watching; resolves when the loop has ended. */
  async stop(): Promise<void> {
    this.running = false;
    this.currentWatch?.abort();
    this.wake?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    while (this.running) {
      try {
        if (this.cache.resourceVersion === null) await this.list();
        const delivered = await this.watchOnce(this.cache.resourceVersion as string);
        // A watch that ends without delivering anything (the server closing at once, again
        // and again) must not spin: count it as a failure.
        if (!delivered && this.running) await this.retryAfter(new Error('watch closed at once'));
      } catch (error) {
        if (!this.running) break;
        if (isGone(error)) {
          this.cache.expire();
          continue;
        }
        await this.retryAfter(error);
      }
    }
  }

  private async list(): Promise<void> {
    const { items, resourceVersion } = await this.options.client.list();
    if (!this.running) return;
    this.cache.replace(items, resourceVersion);
    this.failures = 0;
    this.options.onListed?.(this.cache.size);
    if (!this.synced) {
      this.synced = true;
      for (const waiter of this.syncWaiters.splice(0)) waiter();
    }
    this.options.onChange(this.cache.values());
  }

  /** One watch from `resourceVersion`; resolves when it ends (whether it delivered events). */
  private async watchOnce(resourceVersion: string): Promise<boolean> {
    let delivered = false;
    let failure: unknown = null;
    let ended!: () => void;
    const done = new Promise<void>((resolve) => (ended = resolve));
    const watch = await this.options.client.watch(
      resourceVersion,
      (type, object) => {
        if (failure !== null) return;
        const outcome = this.cache.apply(type, object);
        delivered = true;
        this.failures = 0;
        if (outcome.kind === 'changed') this.options.onChange(this.cache.values());
        else if (outcome.kind === 'expired' || outcome.kind === 'error') {
          failure = outcome.kind === 'expired' ? goneError() : new Error(outcome.message);
          this.currentWatch?.abort();
          ended();
        }
      },
      (error) => {
        if (failure === null && error !== null && error !== undefined) failure = error;
        ended();
      },
    );
    this.currentWatch = watch;
    if (!this.running) watch.abort();
    await done;
    this.currentWatch = null;
    if (failure !== null && this.running) throw failure;
    return delivered;
  }

  private async retryAfter(error: unknown): Promise<void> {
    const delay = backoffDelay(
      this.failures++,
      this.options.backoff ?? DEFAULT_REFLECTOR_BACKOFF,
      this.options.random,
    );
    this.options.onError?.(error, Math.round(delay));
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, delay);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.wake = null;
  }
}

/** Whether `error` is the API server's 410 Gone (the resume point is too old). */
function isGone(error: unknown): boolean {
  const e = error as { statusCode?: unknown; code?: unknown } | null;
  return e?.statusCode === 410 || e?.code === 410;
}

function goneError(): Error & { statusCode: number } {
  return Object.assign(new Error('410 Gone: resourceVersion too old'), { statusCode: 410 });
}
