/**
 * The outbound forward proxy (port 15001, set as the app's `HTTP_PROXY`): absolute-form requests
 * (`GET http://host:port/path`) go through the stack to a pool per destination origin; `CONNECT`
 * opens an opaque tunnel (HTTPS passes through untouched). A destination policy may refuse both.
 */
import net, { type Socket } from 'node:net';
import type { ClientExchange } from './client-connection.js';
import type { Clock } from '../core/clock.js';
import { systemClock } from '../core/clock.js';
import {
  BadRequest,
  DestinationDenied,
  UpstreamTimeout,
  UpstreamUnavailable,
  type ProxyError,
} from './errors.js';
import { ProxyRequest } from './handler.js';
import { isValidHost } from './headers.js';
import { parseAbsoluteTarget, replaceHost } from './inbound-server.js';
import { Pipeline, compileRoutes } from './pipeline.js';
import { ProxyServer, type ProxyServerOptions } from './proxy-server.js';
import { Upstream, upstreamDefaults, type UpstreamOptions } from './upstream.js';

/** How the app reached the proxy for this destination. */
export type DestinationKind = 'http' | 'connect';

/** Allow/deny hook: return false to refuse the destination with 403. Called once per request/tunnel. */
export type DestinationPolicy = (host: string, port: number, kind: DestinationKind) => boolean;

/** Options of the outbound proxy. */
export interface OutboundServerOptions extends ProxyServerOptions {
  /** Connection settings for every destination pool. */
  readonly upstream?: UpstreamOptions;
  /** Most destination pools kept at once; the least recently used is closed beyond. */
  readonly maxOrigins?: number;
  /** A pool unused this long is closed (milliseconds). */
  readonly originIdleMs?: number;
  /** Destination allow/deny hook (default: allow all). */
  readonly destinationPolicy?: DestinationPolicy;
  /** Route table holder; defaults to a filterless default route. */
  readonly pipeline?: Pipeline;
}

/** Pools per destination origin, bounded in count and evicted when idle. */
export class OriginPools {
  private readonly pools = new Map<string, Upstream>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly options: UpstreamOptions,
    private readonly maxOrigins: number,
    private readonly idleMs: number,
    private readonly clock: Clock,
  ) {
    this.sweeper = setInterval(() => this.evictIdle(), Math.max(idleMs / 2, 10));
    this.sweeper.unref();
  }

  /** The pool for `host:port`, created on first use. */
  get(host: string, port: number): Upstream {
    const key = `${host}:${port}`;
    let upstream = this.pools.get(key);
    if (upstream === undefined) {
      if (this.pools.size >= this.maxOrigins) this.evictOldest();
      upstream = new Upstream(host.startsWith('[') ? host.slice(1, -1) : host, port, this.options);
      this.pools.set(key, upstream);
    }
    upstream.lastUsed = this.clock.now();
    return upstream;
  }

  /** Number of pools open (for tests and metrics). */
  get size(): number {
    return this.pools.size;
  }

  /** Closes pools idle for longer than the idle limit. */
  evictIdle(): void {
    const cutoff = this.clock.now() - this.idleMs;
    for (const [key, upstream] of this.pools) {
      if (upstream.lastUsed < cutoff) {
        this.pools.delete(key);
        void upstream.close();
      }
    }
  }

  private evictOldest(): void {
    let oldestKey: string | null = null;
    let oldest = Infinity;
    for (const [key, upstream] of this.pools) {
      if (upstream.lastUsed < oldest) {
        oldest = upstream.lastUsed;
        oldestKey = key;
      }
    }
    if (oldestKey !== null) {
      void this.pools.get(oldestKey)?.close();
      this.pools.delete(oldestKey);
    }
  }

  /** Destroys every pool (at shutdown, once no client is left to answer). */
  async close(): Promise<void> {
    clearInterval(this.sweeper);
    const all = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(all.map((upstream) => upstream.destroy()));
  }
}

/** Outbound forward proxy. */
export class OutboundServer extends ProxyServer {
  readonly origins: OriginPools;
  private readonly policy: DestinationPolicy;
  private readonly connectTimeoutMs: number;

  constructor(options: OutboundServerOptions) {
    super(options.pipeline ?? new Pipeline(compileRoutes('outbound', [])), {
      host: '127.0.0.1',
      ...options,
    });
    this.origins = new OriginPools(
      options.upstream ?? {},
      options.maxOrigins ?? 256,
      options.originIdleMs ?? 60_000,
      options.clock ?? systemClock,
    );
    this.policy = options.destinationPolicy ?? (() => true);
    this.connectTimeoutMs = options.upstream?.connectTimeoutMs ?? upstreamDefaults.connectTimeoutMs;
  }

  protected closeUpstreams(): Promise<void> {
    return this.origins.close();
  }

  protected toProxyRequest(incoming: ClientExchange): ProxyRequest | ProxyError {
    const target = parseAbsoluteTarget(incoming.target);
    if (target === null)
      return new BadRequest('a forward proxy needs an absolute http:// request target');
    const { host, port } = splitAuthority(target.authority, 80);
    if (port === null) return new BadRequest('invalid destination port');
    if (!this.policy(host, port, 'http'))
      return new DestinationDenied(`destination ${host}:${port} denied`);
    const scan = this.scan;
    scan.scan(incoming.rawHeaders, true);
    // RFC 9112 §3.2.2: the absolute-form's authority replaces Host.
    replaceHost(scan.headers, target.authority);
    return new ProxyRequest(
      'outbound',
      incoming.method,
      target.path,
      target.authority,
      scan.headers,
      incoming.bodyLength,
      incoming.remoteAddress,
      this.clock.now(),
      incoming,
      this.origins.get(host, port),
      this.maxBodyBytes,
    );
  }

  /** `CONNECT host:port`: an opaque tunnel, bytes untouched both ways. */
  protected override onTunnel(incoming: ClientExchange, socket: Socket, head: Buffer): void {
    this.trackTunnel(socket);
    const authority = incoming.target;
    const { host, port } = splitAuthority(authority, null);
    if (port === null || !isValidHost(authority) || this.draining) {
      this.refuseRaw(socket, new BadRequest('CONNECT needs host:port'));
      return;
    }
    if (!this.policy(host, port, 'connect')) {
      this.refuseRaw(socket, new DestinationDenied(`destination ${host}:${port} denied`));
      return;
    }
    const bareHost = host.startsWith('[') ? host.slice(1, -1) : host;
    const upstream = net.connect({
      host: bareHost,
      port,
      noDelay: true,
      timeout: this.connectTimeoutMs,
    });
    const onTimeout = (): void => {
      upstream.destroy();
      this.refuseRaw(socket, new UpstreamTimeout('CONNECT destination did not answer in time'));
    };
    const onError = (err: Error): void => {
      upstream.destroy();
      this.refuseRaw(socket, new UpstreamUnavailable('CONNECT destination unreachable', err));
    };
    upstream.once('timeout', onTimeout);
    upstream.once('error', onError);
    upstream.once('connect', () => {
      upstream.off('timeout', onTimeout);
      upstream.off('error', onError);
      upstream.setTimeout(0);
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      this.tunnel(socket, upstream);
    });
  }
}

/** Splits `host:port` (host may be `[v6]`); `port` is null when missing/invalid and no default. */
export function splitAuthority(
  authority: string,
  defaultPort: number | null,
): { host: string; port: number | null } {
  const colon = authority.lastIndexOf(':');
  const bracket = authority.lastIndexOf(']');
  if (colon === -1 || colon < bracket) return { host: authority, port: defaultPort };
  const portText = authority.slice(colon + 1);
  const port = /^[0-9]{1,5}$/.test(portText) ? Number(portText) : NaN;
  return { host: authority.slice(0, colon), port: port > 0 && port < 65536 ? port : null };
}
