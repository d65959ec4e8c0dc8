/**
 * What the inbound and outbound servers share: a hardened HTTP/1.1 server on `net` sockets
 * (`client-connection.ts` reads requests and writes answers), the per-request entry (scan the
 * head, route, run the stack, write the answer), tunnels, timeouts and graceful shutdown.
 * Subclasses only turn a parsed head into a `ProxyRequest` (`toProxyRequest`) and handle
 * `CONNECT`/upgrade tunnels.
 */
import net, { type AddressInfo, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { systemClock, type Clock } from '../core/clock.js';
import {
  ClientConnection,
  type ClientExchange,
  type ConnectionHost,
  type ConnectionLimits,
} from './client-connection.js';
import { asProxyError, errorResponse, rawErrorResponse } from './error-response.js';
import {
  BadRequest,
  BodyTooLarge,
  ClientAborted,
  ProxyError,
  UpstreamProtocolError,
} from './errors.js';
import type { ProxyRequest, ProxyResponse } from './handler.js';
import { RequestHeadScan } from './headers.js';
import type { Pipeline } from './pipeline.js';

/** Listener hardening and limits common to both directions. Durations in milliseconds. */
export interface ProxyServerOptions {
  /** Address to bind (inbound: all interfaces; outbound: loopback). */
  readonly host?: string;
  /** Port to bind; 0 picks a free one. */
  readonly port?: number;
  /** Largest request head (request line + headers) in bytes; beyond it the answer is 431. */
  readonly maxHeaderSize?: number;
  /** Time allowed for a client to send a complete request head (slowloris bound). */
  readonly headersTimeoutMs?: number;
  /** Time allowed for a client to send a complete request, body included. */
  readonly requestTimeoutMs?: number;
  /** How long an idle keep-alive client connection is kept. */
  readonly keepAliveTimeoutMs?: number;
  /** How often the three timeouts above are checked (their precision). */
  readonly timeoutCheckIntervalMs?: number;
  /** Largest request body in bytes; beyond it the answer is 413. */
  readonly maxBodyBytes?: number;
  /** Most simultaneous client connections; beyond it new ones are dropped. */
  readonly maxConnections?: number;
  /** Monotonic clock for request start times and durations. */
  readonly clock?: Clock;
}

/** Defaults for `ProxyServerOptions`. */
export const proxyServerDefaults = {
  host: '0.0.0.0',
  port: 0,
  maxHeaderSize: 16 * 1024,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 300_000,
  keepAliveTimeoutMs: 60_000,
  timeoutCheckIntervalMs: 1_000,
  maxBodyBytes: 16 * 1024 * 1024,
  maxConnections: 10_000,
} as const;

/** Base of `InboundServer` and `OutboundServer`. */
export abstract class ProxyServer implements ConnectionHost {
  /** The listening server (exposed for tests and the admin API). */
  readonly server: net.Server;
  readonly limits: ConnectionLimits;
  /** Whether `Connection: upgrade` requests are tunnelled; otherwise they are proxied as plain requests. */
  readonly acceptsUpgrade: boolean = false;
  draining = false;
  protected readonly clock: Clock;
  protected readonly maxBodyBytes: number;
  protected readonly scan = new RequestHeadScan();
  private readonly connections = new Set<ClientConnection>();
  private readonly tunnels = new Set<Duplex>();
  private readonly host: string;
  private readonly port: number;
  private readonly sweepIntervalMs: number;
  private sweeper: NodeJS.Timeout | null = null;

  constructor(
    /** The route table holder; `pipeline.setRoutes` swaps filters while serving. */
    readonly pipeline: Pipeline,
    options: ProxyServerOptions,
  ) {
    const o = { ...proxyServerDefaults, ...options };
    this.clock = options.clock ?? systemClock;
    this.maxBodyBytes = o.maxBodyBytes;
    this.host = o.host;
    this.port = o.port;
    this.sweepIntervalMs = o.timeoutCheckIntervalMs;
    this.limits = {
      maxHeaderSize: o.maxHeaderSize,
      maxBodyBytes: o.maxBodyBytes,
      headersTimeoutMs: o.headersTimeoutMs,
      requestTimeoutMs: o.requestTimeoutMs,
      keepAliveTimeoutMs: o.keepAliveTimeoutMs,
    };
    this.server = net.createServer({ noDelay: true }, (socket) => {
      if (this.draining) {
        socket.destroy();
        return;
      }
      this.connections.add(new ClientConnection(socket, this));
    });
    this.server.maxConnections = o.maxConnections;
  }

  /** Binds and resolves with the bound port. */
  async listen(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.port, this.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    // One sweep for every connection's timeouts instead of a timer per request.
    this.sweeper = setInterval(() => {
      const now = performance.now();
      for (const connection of this.connections) connection.checkTimeouts(now);
    }, this.sweepIntervalMs);
    this.sweeper.unref();
    return (this.server.address() as AddressInfo).port;
  }

  /** The bound port (after `listen`). */
  get boundPort(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /**
   * Graceful shutdown: stop accepting, close idle connections, let requests in flight finish
   * (their answers say `connection: close`), and after `deadlineMs` destroy whatever is left,
   * tunnels included. Then destroy the upstream pools.
   */
  async shutdown(deadlineMs: number): Promise<void> {
    this.draining = true;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const connection of this.connections) if (connection.isIdle) connection.destroy();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'deadline'>((resolve) => {
      timer = setTimeout(() => resolve('deadline'), deadlineMs);
    });
    const first = await Promise.race([closed, deadline]);
    clearTimeout(timer);
    if (first === 'deadline') {
      for (const connection of this.connections) connection.destroy(true);
      for (const tunnel of this.tunnels) tunnel.destroy();
      await closed;
    }
    for (const tunnel of this.tunnels) tunnel.destroy();
    if (this.sweeper !== null) clearInterval(this.sweeper);
    await this.closeUpstreams();
  }

  /**
   * Destroys the pools of this direction: called once every client connection is gone, so an
   * upstream exchange still open has nobody to answer.
   */
  protected abstract closeUpstreams(): Promise<void>;

  /** Builds the request for the stack, or the error to answer with. */
  protected abstract toProxyRequest(incoming: ClientExchange): ProxyRequest | ProxyError;

  /**
   * A `CONNECT` or accepted upgrade request; the socket is ours from here on. By default
   * refused (the inbound proxy relays no CONNECT).
   */
  protected onTunnel(_incoming: ClientExchange, socket: Socket, _head: Buffer): void {
    this.trackTunnel(socket);
    this.refuseRaw(socket, new BadRequest('CONNECT not accepted here'));
  }

  /** @internal `ConnectionHost`: see there. */
  handleTunnel(incoming: ClientExchange, socket: Socket, head: Buffer): void {
    this.onTunnel(incoming, socket, head);
  }

  /** @internal `ConnectionHost`: the connection closed or was handed over. */
  forget(connection: ClientConnection): void {
    this.connections.delete(connection);
  }

  /** @internal `ConnectionHost`: one request, head read. */
  handleRequest(incoming: ClientExchange): void {
    const req = this.toProxyRequest(incoming);
    if (req instanceof ProxyError) {
      this.writeLocal(
        incoming,
        errorResponse(req),
        !incoming.complete || req instanceof BodyTooLarge,
      );
      return;
    }
    incoming.onAbort = (reason) => req.abort(reason);
    let pending: Promise<ProxyResponse>;
    try {
      pending = this.pipeline.handle(req);
    } catch (error) {
      pending = Promise.reject(error);
    }
    pending.then(
      (response) => this.respond(req, incoming, response),
      (error: unknown) => this.fail(req, incoming, asProxyError(error)),
    );
  }

  private respond(req: ProxyRequest, res: ClientExchange, response: ProxyResponse): void {
    const body = response.body;
    if (body === null || typeof body === 'string' || Buffer.isBuffer(body)) {
      if (res.destroyed || res.headersSent) {
        req.finish(0, new ClientAborted('client closed the connection'), this.clock.now());
        return;
      }
      this.writeLocal(res, response, !res.complete && req.body === req.incoming);
      req.finish(response.statusCode, null, this.clock.now());
      return;
    }
    if (res.destroyed || res.headersSent) {
      body.discard();
      req.finish(0, new ClientAborted('client closed the connection'), this.clock.now());
      return;
    }
    // The upstream's Date is forwarded (no fresh one for proxied answers).
    if (!res.writeHead(response.statusCode, response.headers, false)) {
      body.discard();
      this.fail(req, res, new UpstreamProtocolError('upstream response head not relayable'));
      return;
    }
    body.pipeTo(res, (error) => {
      req.finish(error === null ? response.statusCode : 0, error, this.clock.now());
    });
  }

  private fail(req: ProxyRequest, res: ClientExchange, error: ProxyError): void {
    if (error instanceof ClientAborted || res.headersSent || res.destroyed) {
      res.destroy();
      req.finish(0, error, this.clock.now());
      return;
    }
    const response = errorResponse(error);
    this.writeLocal(res, response, !res.complete || error instanceof BodyTooLarge);
    req.finish(response.statusCode, error, this.clock.now());
  }

  /** Writes a whole local answer; closes the connection when the request body was not read. */
  private writeLocal(res: ClientExchange, response: ProxyResponse, close: boolean): void {
    if (close) res.keepAlive = false;
    const body = response.body as Buffer | string | null;
    const length =
      body === null ? 0 : typeof body === 'string' ? Buffer.byteLength(body) : body.length;
    if (
      !res.writeHead(
        response.statusCode,
        [...response.headers, 'content-length', String(length)],
        true,
      )
    ) {
      // A filter produced a header that cannot be written: a bare 500 instead.
      res.writeHead(500, ['content-length', '0'], true);
      res.end();
      return;
    }
    res.end(body ?? undefined);
  }

  /** Joins two sockets both ways; either side closing or failing tears down both. */
  protected tunnel(client: Duplex, upstream: Socket): void {
    this.tunnels.add(client);
    const teardown = (): void => {
      client.destroy();
      upstream.destroy();
      this.tunnels.delete(client);
    };
    client.on('error', teardown);
    upstream.on('error', teardown);
    client.on('close', teardown);
    upstream.on('close', teardown);
    upstream.pipe(client);
    client.pipe(upstream);
  }

  /** Answers a tunnel/upgrade request that failed before the tunnel existed, then closes. */
  protected refuseRaw(socket: Duplex, error: ProxyError): void {
    if (socket.writable) endWith(socket, rawErrorResponse(error));
    else socket.destroy();
  }

  /** Sockets handed over for `upgrade`/`CONNECT` are tracked here until they close. */
  protected trackTunnel(socket: Duplex): void {
    this.tunnels.add(socket);
    socket.once('close', () => this.tunnels.delete(socket));
  }
}

/** Writes `data`, half-closes, and destroys the socket once the data is flushed. */
function endWith(socket: Duplex, data: string): void {
  socket.end(data, () => socket.destroy());
}

/** Upgrade value when the request asks for one. */
export function upgradeValue(incoming: ClientExchange): string | null {
  const raw = incoming.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    if (name.length === 7 && name.toLowerCase() === 'upgrade')
      return (raw[i + 1] as string) || null;
  }
  return null;
}
