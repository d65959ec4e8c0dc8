/**
 * What the inbound and outbound servers share: a hardened `node:http` server, the per-request
 * entry (scan the head, route, run the stack, write the answer), the mapping of parser errors to
 * raw answers, tunnels, and graceful shutdown. Subclasses only turn a parsed head into a
 * `ProxyRequest` (`toProxyRequest`) and handle `upgrade`/`CONNECT`.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { systemClock, type Clock } from '../core/clock.js';
import { asProxyError, errorResponse, rawErrorResponse, statusFor } from './error-response.js';
import {
  BadRequest,
  BodyTooLarge,
  ClientAborted,
  HeadersTooLarge,
  ProxyError,
  RequestTimeout,
  UpstreamProtocolError,
  VersionNotSupported,
} from './errors.js';
import type { ProxyRequest, ProxyResponse } from './handler.js';
import { RequestHeadScan, equalsIgnoreCase } from './headers.js';
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
  /** How often Node checks the two timeouts above (their precision). */
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
export abstract class ProxyServer {
  /** The listening server (exposed for tests and the admin API). */
  readonly server: http.Server;
  protected readonly clock: Clock;
  protected readonly maxBodyBytes: number;
  protected readonly scan = new RequestHeadScan();
  protected draining = false;
  private readonly tunnels = new Set<Duplex>();
  private readonly host: string;
  private readonly port: number;

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
    this.server = http.createServer({
      maxHeaderSize: o.maxHeaderSize,
      headersTimeout: o.headersTimeoutMs,
      requestTimeout: o.requestTimeoutMs,
      keepAliveTimeout: o.keepAliveTimeoutMs,
      connectionsCheckingInterval: o.timeoutCheckIntervalMs,
      insecureHTTPParser: false,
      joinDuplicateHeaders: false,
      requireHostHeader: true,
      noDelay: true,
    });
    this.server.maxConnections = o.maxConnections;
    this.server.maxRequestsPerSocket = 0; // unlimited: clients pool connections to us
    this.server.on('request', (incoming: IncomingMessage, res: ServerResponse) =>
      this.onRequest(incoming, res),
    );
    this.server.on('clientError', (err: Error & { code?: string }, socket: Duplex) =>
      this.onClientError(err, socket),
    );
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
    return (this.server.address() as AddressInfo).port;
  }

  /** The bound port (after `listen`). */
  get boundPort(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /**
   * Graceful shutdown: stop accepting, let requests in flight finish (their connections then
   * close), and after `deadlineMs` destroy whatever is left, tunnels included. Then close the
   * upstream pools.
   */
  async shutdown(deadlineMs: number): Promise<void> {
    this.draining = true;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'deadline'>((resolve) => {
      timer = setTimeout(() => resolve('deadline'), deadlineMs);
    });
    const first = await Promise.race([closed, deadline]);
    clearTimeout(timer);
    if (first === 'deadline') {
      this.server.closeAllConnections();
      for (const tunnel of this.tunnels) tunnel.destroy();
      await closed;
    }
    for (const tunnel of this.tunnels) tunnel.destroy();
    await this.closeUpstreams();
  }

  /** Closes the pools of this direction (after in-flight requests). */
  protected abstract closeUpstreams(): Promise<void>;

  /** Builds the request for the stack, or the error to answer with. */
  protected abstract toProxyRequest(incoming: IncomingMessage): ProxyRequest | ProxyError;

  /** Checks the framing headers found by `scan` (request smuggling defences Node lacks). */
  protected checkFraming(incoming: IncomingMessage): ProxyError | null {
    const scan = this.scan;
    if (incoming.httpVersionMajor !== 1)
      return new VersionNotSupported('only HTTP/1.0 and HTTP/1.1 are relayed');
    if (scan.transferEncodingCount > 0) {
      // Node rejects TE+CL and unknown codings, but accepts several TE lines and TE on HTTP/1.0.
      if (scan.contentLengthCount > 0)
        return new BadRequest('Content-Length with Transfer-Encoding');
      if (scan.transferEncodingCount > 1)
        return new BadRequest('more than one Transfer-Encoding header');
      if (incoming.httpVersionMinor === 0)
        return new BadRequest('Transfer-Encoding in an HTTP/1.0 request');
      // Node emits the request before it rejects an unknown coding; only plain chunked is relayable.
      if (!equalsIgnoreCase((scan.transferEncoding as string).trim(), 'chunked')) {
        return new BadRequest('Transfer-Encoding other than chunked');
      }
    } else if (scan.contentLengthCount > 1) {
      return new BadRequest('more than one Content-Length header');
    }
    if (scan.contentLength > this.maxBodyBytes)
      return new BodyTooLarge('declared body exceeds the limit');
    return null;
  }

  /** Declared body length for the `ProxyRequest`: -1 chunked, 0 none, else Content-Length. */
  protected bodyLength(): number {
    const scan = this.scan;
    if (scan.transferEncodingCount > 0) return -1;
    return scan.contentLengthCount > 0 ? scan.contentLength : 0;
  }

  /** Limits a chunked body: the stack sees a stream that fails with `BodyTooLarge`. */
  protected limitChunkedBody(req: ProxyRequest): void {
    if (req.contentLength === -1) req.body = limitBody(req.incoming, this.maxBodyBytes);
  }

  private onRequest(incoming: IncomingMessage, res: ServerResponse): void {
    const req = this.toProxyRequest(incoming);
    if (req instanceof ProxyError) {
      this.writeLocal(res, errorResponse(req), !incoming.complete || req instanceof BodyTooLarge);
      return;
    }
    res.once('close', () => {
      if (!res.writableFinished) req.abort(new ClientAborted('client closed the connection'));
    });
    let pending: Promise<ProxyResponse>;
    try {
      pending = this.pipeline.handle(req);
    } catch (error) {
      pending = Promise.reject(error);
    }
    pending.then(
      (response) => this.respond(req, res, response),
      (error: unknown) => this.fail(req, res, asProxyError(error)),
    );
  }

  private respond(req: ProxyRequest, res: ServerResponse, response: ProxyResponse): void {
    const body = response.body;
    if (this.draining) res.shouldKeepAlive = false;
    if (body === null || typeof body === 'string' || Buffer.isBuffer(body)) {
      this.writeLocal(res, response, !req.incoming.complete && req.body === req.incoming);
      req.finish(response.statusCode, null, this.clock.now());
      return;
    }
    if (res.destroyed) {
      body.discard();
      req.finish(0, new ClientAborted('client closed the connection'), this.clock.now());
      return;
    }
    res.sendDate = false; // the upstream's Date is forwarded
    try {
      res.writeHead(response.statusCode, response.headers as string[]);
    } catch (error) {
      // Node refused a header that undici's parser let through: the answer is not relayable.
      body.discard();
      res.sendDate = true;
      this.fail(req, res, new UpstreamProtocolError('upstream response head not relayable', error));
      return;
    }
    body.pipeTo(res, (error) => {
      req.finish(error === null ? response.statusCode : 0, error, this.clock.now());
    });
  }

  private fail(req: ProxyRequest, res: ServerResponse, error: ProxyError): void {
    if (error instanceof ClientAborted || res.headersSent || res.destroyed) {
      res.destroy();
      req.finish(0, error, this.clock.now());
      return;
    }
    const response = errorResponse(error);
    this.writeLocal(res, response, !req.incoming.complete || error instanceof BodyTooLarge);
    req.finish(response.statusCode, error, this.clock.now());
  }

  /** Writes a whole local answer; closes the connection when the request body was not read. */
  private writeLocal(res: ServerResponse, response: ProxyResponse, close: boolean): void {
    if (close || this.draining) res.shouldKeepAlive = false;
    const body = response.body as Buffer | string | null;
    const headers = response.headers as string[];
    res.writeHead(
      response.statusCode,
      body === null
        ? headers
        : [
            ...headers,
            'content-length',
            String(typeof body === 'string' ? Buffer.byteLength(body) : body.length),
          ],
    );
    res.end(body ?? undefined);
  }

  private onClientError(err: Error & { code?: string }, socket: Duplex): void {
    const code = err.code;
    // As Node's default handler: answer unless a response already started on this socket (the
    // parser can fail in a body after the request was emitted: the stack then sees the body
    // stream fail and stops, and the client gets this answer instead).
    const current = (socket as Duplex & { _httpMessage?: ServerResponse | null })._httpMessage;
    if (
      code === 'ECONNRESET' ||
      code === 'EPIPE' ||
      !socket.writable ||
      (current != null && current.headersSent)
    ) {
      socket.destroy();
      return;
    }
    let error: ProxyError;
    if (code === 'HPE_HEADER_OVERFLOW') error = new HeadersTooLarge('request head too large', err);
    else if (code === 'ERR_HTTP_REQUEST_TIMEOUT')
      error = new RequestTimeout('request not received in time', err);
    else error = new BadRequest('malformed request', err);
    endWith(socket, rawErrorResponse(error));
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

  /** Sockets handed over by `upgrade`/`CONNECT` are not tracked by Node; we are. */
  protected trackTunnel(socket: Duplex): void {
    this.tunnels.add(socket);
    socket.once('close', () => this.tunnels.delete(socket));
  }

  /** The status an error maps to (exposed for subclasses' raw answers). */
  protected statusFor(error: ProxyError): number {
    return statusFor(error);
  }
}

/** Writes `data`, half-closes, and destroys the socket once the data is flushed. */
function endWith(socket: Duplex, data: string): void {
  socket.end(data, () => socket.destroy());
}

/** Streams `source`, failing with `BodyTooLarge` once more than `maxBytes` went through. */
async function* limitBody(source: AsyncIterable<Buffer>, maxBytes: number): AsyncGenerator<Buffer> {
  let total = 0;
  for await (const chunk of source) {
    total += chunk.length;
    if (total > maxBytes) throw new BodyTooLarge('chunked body exceeds the limit');
    yield chunk;
  }
}

/** Upgrade value when the request asks for one (slow path only). */
export function upgradeValue(incoming: IncomingMessage): string | null {
  const value = incoming.headers.upgrade;
  return typeof value === 'string' && value !== '' ? value : null;
}
