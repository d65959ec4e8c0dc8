/**
 * The Redis connections of global rate limits, one per distinct URL, shared by every rule that
 * uses it and kept across reloads (a reload that keeps the URL keeps the connection). Owned by
 * `main`, closed at shutdown.
 */
import type { Redis } from 'ioredis';
import { createRateLimitRedisClient } from '../filters/index.js';

/** Options of `RedisClients`. */
export interface RedisClientsOptions {
  /** Connection-level errors (e.g. Redis down), for a rate-limited log line. */
  readonly onConnectionError?: (url: string, error: Error) => void;
}

/** Redis clients by URL. */
export class RedisClients {
  private readonly clients = new Map<string, Redis>();

  constructor(private readonly options: RedisClientsOptions = {}) {}

  /** The client for `url`, connected lazily on first use (config time, never per request). */
  get(url: string): Redis {
    let client = this.clients.get(url);
    if (client === undefined) {
      client = createRateLimitRedisClient({
        url,
        onConnectionError: (error) => this.options.onConnectionError?.(url, error),
      });
      this.clients.set(url, client);
    }
    return client;
  }

  /** Closes clients whose URL is not in `inUse` (after a reload dropped them). */
  retain(inUse: ReadonlySet<string>): void {
    for (const [url, client] of this.clients) {
      if (!inUse.has(url)) {
        this.clients.delete(url);
        client.disconnect();
      }
    }
  }

  /**
   * Resolves once every client is connected, or after `timeoutMs` (whichever comes first), so
   * that the first requests after start-up are decided by Redis rather than by `failureMode`.
   */
  async waitReady(timeoutMs: number): Promise<void> {
    const pending = [...this.clients.values()].filter((client) => client.status !== 'ready');
    if (pending.length === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(
        pending.map(
          (client) => new Promise<void>((resolve) => client.once('ready', () => resolve())),
        ),
      ),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
        timer.unref();
      }),
    ]);
    clearTimeout(timer);
  }

  /**
   * Health check (`/healthz`, not readiness: `failureMode` decides while Redis is away): passes
   * with the connected URLs, fails naming those that are not connected and their state.
   */
  check(): string {
    if (this.clients.size === 0) return 'no global rate limit configured';
    const down = [...this.clients].filter(([, client]) => client.status !== 'ready');
    if (down.length > 0) {
      throw new Error(
        `${down.map(([url, client]) => `${redactUrl(url)} ${client.status}`).join(', ')}: global limits decided by failureMode`,
      );
    }
    return `connected to ${[...this.clients.keys()].map(redactUrl).join(', ')}`;
  }

  /** Closes every client. */
  async close(): Promise<void> {
    const all = [...this.clients.values()];
    this.clients.clear();
    await Promise.all(
      all.map((client) =>
        client.status === 'ready'
          ? client.quit().then(
              () => undefined,
              () => client.disconnect(),
            )
          : client.disconnect(),
      ),
    );
  }
}

/** A Redis URL without its password (health details are readable by anyone on loopback). */
function redactUrl(url: string): string {
  return url.replace(/\/\/([^@/]*)@/, '//***@');
}
