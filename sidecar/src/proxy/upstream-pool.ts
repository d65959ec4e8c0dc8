/**
 * The upstream side of the data path on plain `net` sockets: a keep-alive pool per origin, one
 * request at a time per connection (no pipelining: an upstream that answers out of turn cannot
 * mix answers up), the request head and a small body written as one buffer, the answer's head
 * parsed by `response-parser.ts` and its body delimited by length, chunks
 * (`chunked-decoder.ts`) or close. It replaces undici's `Pool`, whose dispatcher layers and
 * llhttp-in-wasm parser were the largest share of the proxy's own CPU after the server side
 * (0006). Timeouts (connect, head, body gap, idle) are checked by one sweep per pool.
 */
import net, { type Socket } from 'node:net';
import { hasIdempotencyKey, isIdempotent } from '../filters/retry.js';
import { ChunkedDecoder } from './chunked-decoder.js';
import {
  ClientAborted,
  ProxyError,
  UpstreamProtocolError,
  UpstreamReset,
  UpstreamTimeout,
  UpstreamUnavailable,
  classifyUpstreamError,
} from './errors.js';
import { requestBytes } from './head-bytes.js';
import { hasContentLength } from './response-head.js';
import { BodyFraming, parseResponseHead, type ResponseHead } from './response-parser.js';

/** Pool settings. Durations in milliseconds. */
export interface PoolOptions {
  readonly connections: number;
  readonly connectTimeoutMs: number;
  readonly headersTimeoutMs: number;
  readonly bodyTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
  readonly maxHeaderSize: number;
}

/** What a pool needs to know about a request it sends. */
export interface PoolRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: readonly string[];
  readonly body: null | Buffer | AsyncIterable<Buffer>;
}

/** The callbacks of one attempt (`UpstreamExchange` in `upstream.ts`). */
export interface PoolHandler {
  /** The attempt got a connection; `abort` ends it (and the connection) with `reason`. */
  onConnect(abort: (reason: ProxyError) => void): void;
  /** A final (non-1xx) head; `resume` restarts reading after `onData` returned false. */
  onHead(head: ResponseHead, resume: () => void): void;
  /** A piece of the body; false asks to stop reading until `resume`. */
  onData(chunk: Buffer): boolean;
  onComplete(): void;
  onError(error: ProxyError): void;
}

/** Whole request bodies up to this size are copied with their head into one write. */
const singleWriteBytes = 64 * 1024;
const crlfcrlf = Buffer.from('\r\n\r\n', 'latin1');

enum Phase {
  Connecting,
  Idle,
  AwaitingHead,
  Body,
  Closed,
}

/** A keep-alive pool of connections to one origin. */
export class UpstreamPool {
  private readonly idle: UpstreamConnection[] = [];
  private readonly queue: [PoolRequest, PoolHandler][] = [];
  private readonly all = new Set<UpstreamConnection>();
  private readonly sweeper: NodeJS.Timeout;
  /** Set by `close`: no new connections, queued requests refused. */
  closing = false;
  private drained: (() => void) | null = null;

  constructor(
    readonly host: string,
    readonly port: number,
    readonly options: PoolOptions,
  ) {
    const shortest = Math.min(
      options.connectTimeoutMs,
      options.headersTimeoutMs,
      options.bodyTimeoutMs,
      options.keepAliveTimeoutMs,
    );
    // A quarter of the shortest timeout: each fires at most 25% late, and the sweep stays rare.
    this.sweeper = setInterval(() => this.sweep(), Math.min(1_000, Math.max(10, shortest / 4)));
    this.sweeper.unref();
  }

  /** Sends `request` on an idle connection, a new one, or once one is free. */
  dispatch(request: PoolRequest, handler: PoolHandler): void {
    if (this.closing) {
      handler.onError(new UpstreamUnavailable('upstream pool closed'));
      return;
    }
    // Checked here, not only by the sweep: an upstream closes an idle connection on its own
    // timer, and a request must not race that close.
    const now = performance.now();
    let connection = this.idle.pop();
    while (connection !== undefined && !connection.usable(now)) {
      connection.destroy(null);
      connection = this.idle.pop();
    }
    if (connection !== undefined) {
      connection.send(request, handler);
      return;
    }
    if (this.all.size < this.options.connections) {
      connection = new UpstreamConnection(this);
      this.all.add(connection);
      connection.send(request, handler);
      return;
    }
    this.queue.push([request, handler]);
  }

  /** Closes the pool once the requests in flight are done. */
  close(): Promise<void> {
    this.closing = true;
    for (const connection of this.idle) connection.destroy(null);
    this.idle.length = 0;
    for (const [, handler] of this.queue.splice(0))
      handler.onError(new UpstreamUnavailable('upstream pool closed'));
    if (this.all.size === 0) {
      clearInterval(this.sweeper);
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.drained = () => {
        clearInterval(this.sweeper);
        resolve();
      };
    });
  }

  /** Destroys every connection at once. */
  destroy(): Promise<void> {
    const closed = this.close();
    for (const connection of [...this.all])
      connection.destroy(new UpstreamReset('upstream pool destroyed'));
    return closed;
  }

  /** @internal A connection finished its exchange and may be reused. */
  release(connection: UpstreamConnection): void {
    const next = this.queue.shift();
    if (next !== undefined) {
      connection.send(next[0], next[1]);
      return;
    }
    if (this.closing) {
      connection.destroy(null);
      return;
    }
    this.idle.push(connection);
  }

  /**
   * @internal A reused connection that the upstream closed before answering (`staleOnReuse`):
   * the request goes again at once, on an idle connection or a new one; never queued, since the
   * slot the stale connection frees is there for it.
   */
  resend(stale: UpstreamConnection, request: PoolRequest, handler: PoolHandler): void {
    this.all.delete(stale);
    this.dispatch(request, handler);
  }

  /** @internal A connection closed. */
  forget(connection: UpstreamConnection): void {
    this.all.delete(connection);
    const at = this.idle.indexOf(connection);
    if (at !== -1) this.idle.splice(at, 1);
    // A queued request gets the freed slot.
    const next = this.closing ? undefined : this.queue.shift();
    if (next !== undefined) this.dispatch(next[0], next[1]);
    if (this.closing && this.all.size === 0) {
      const drained = this.drained;
      this.drained = null;
      drained?.();
    }
  }

  private sweep(): void {
    const now = performance.now();
    for (const connection of this.all) connection.checkTimeouts(now);
  }
}

/** One connection to the upstream. */
class UpstreamConnection {
  closed = false;
  private readonly socket: Socket;
  private phase = Phase.Connecting;
  private since = performance.now();
  private keepAliveMs: number;
  private handler: PoolHandler | null = null;
  /** The request of the exchange in flight (set with `handler`). */
  private request: PoolRequest | null = null;
  /** Exchanges completed on this connection: more than 0 means a request now reuses it. */
  private served = 0;
  /** Whether any byte of the current exchange's answer came. */
  private heard = false;
  private buffer: Buffer | null = null;
  private bodyRemaining = 0;
  private decoder: ChunkedDecoder | null = null;
  private framing = BodyFraming.None;
  private reusable = false;
  private requestSent = false;
  private responseDone = false;
  private paused = false;
  private socketError: Error | null = null;

  constructor(private readonly pool: UpstreamPool) {
    this.keepAliveMs = pool.options.keepAliveTimeoutMs;
    this.socket = net.connect({ host: pool.host, port: pool.port, noDelay: true });
    this.socket.once('connect', () => {
      if (this.phase === Phase.Connecting) this.phase = Phase.AwaitingHead;
      this.since = performance.now();
    });
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('error', (err: Error) => {
      this.socketError ??= err;
    });
    this.socket.on('close', () => this.onClose());
  }

  /** Writes the request; the answer comes back through `handler`. */
  send(request: PoolRequest, handler: PoolHandler): void {
    this.handler = handler;
    this.request = request;
    this.heard = false;
    this.buffer = null;
    this.decoder = null;
    this.requestSent = false;
    this.responseDone = false;
    this.reusable = false;
    if (this.phase === Phase.Idle) {
      this.phase = Phase.AwaitingHead;
      this.since = performance.now();
    }
    handler.onConnect((reason) => this.destroy(reason));
    if (this.closed) return; // aborted at once
    const body = request.body;
    const headers = request.headers;
    if (body === null || Buffer.isBuffer(body)) {
      const length = body === null ? 0 : body.length;
      const lengthLine =
        (length > 0 || bodyExpected(request.method)) && !hasContentLength(headers)
          ? `content-length: ${length}\r\n`
          : '';
      // Head and a small body in one buffer: one write, one loopback segment.
      const together = length > 0 && length <= singleWriteBytes;
      this.socket.write(
        requestBytes(request.method, request.path, headers, lengthLine, together ? body : null),
      );
      if (length > singleWriteBytes) this.socket.write(body as Buffer);
      this.requestSent = true;
      return;
    }
    const declared = declaredLength(headers);
    const framingLine = declared === -1 ? 'transfer-encoding: chunked\r\n' : '';
    this.socket.write(requestBytes(request.method, request.path, headers, framingLine, null));
    void this.pump(body, declared, handler);
  }

  /** Streams a request body with backpressure; chunk-encoded when its length is unknown. */
  private async pump(
    body: AsyncIterable<Buffer>,
    declared: number,
    handler: PoolHandler,
  ): Promise<void> {
    let sent = 0;
    try {
      for await (const chunk of body) {
        if (this.handler !== handler || this.closed) return;
        if (chunk.length === 0) continue;
        sent += chunk.length;
        if (declared !== -1 && sent > declared)
          throw new ClientAborted('request body longer than its Content-Length');
        let writable: boolean;
        if (declared === -1) {
          this.socket.cork();
          this.socket.write(`${chunk.length.toString(16)}\r\n`, 'latin1');
          this.socket.write(chunk);
          writable = this.socket.write('\r\n', 'latin1');
          this.socket.uncork();
        } else {
          writable = this.socket.write(chunk);
        }
        if (!writable) await this.drain();
      }
      if (this.handler !== handler || this.closed) return;
      if (declared !== -1 && sent !== declared)
        throw new ClientAborted('request body shorter than its Content-Length');
      if (declared === -1) this.socket.write('0\r\n\r\n', 'latin1');
      this.requestSent = true;
    } catch (error) {
      if (this.handler === handler && !this.closed) this.destroy(classifyUpstreamError(error));
    }
  }

  private drain(): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        this.socket.off('drain', done);
        this.socket.off('close', done);
        resolve();
      };
      this.socket.on('drain', done);
      this.socket.on('close', done);
    });
  }

  /** Whether an idle connection may take a request at `now` (open, within its keep-alive time). */
  usable(now: number): boolean {
    return !this.closed && now - this.since < this.keepAliveMs;
  }

  /** Applies the connect, head, body-gap and idle timeouts (the pool's sweep). */
  checkTimeouts(now: number): void {
    const options = this.pool.options;
    const elapsed = now - this.since;
    switch (this.phase) {
      case Phase.Connecting:
        if (elapsed > options.connectTimeoutMs)
          this.destroy(new UpstreamTimeout('upstream connect timed out'));
        break;
      case Phase.AwaitingHead:
        if (elapsed > options.headersTimeoutMs)
          this.destroy(new UpstreamTimeout('upstream response head timed out'));
        break;
      case Phase.Body:
        if (!this.paused && elapsed > options.bodyTimeoutMs)
          this.destroy(new UpstreamTimeout('upstream response body timed out'));
        break;
      case Phase.Idle:
        if (elapsed > this.keepAliveMs) this.destroy(null);
        break;
      default:
        break;
    }
  }

  /** Closes the connection; the exchange in flight, if any, fails with `reason`. */
  destroy(reason: ProxyError | null): void {
    if (this.closed) return;
    this.closed = true;
    this.phase = Phase.Closed;
    this.socket.destroy();
    const handler = this.handler;
    this.handler = null;
    if (handler !== null && !this.responseDone)
      handler.onError(reason ?? new UpstreamReset('upstream connection closed'));
  }

  private readonly resume = (): void => {
    if (this.paused && !this.closed) {
      this.paused = false;
      this.since = performance.now();
      this.socket.resume();
    }
  };

  private onData(chunk: Buffer): void {
    this.heard = true;
    if (this.phase === Phase.Body) {
      this.since = performance.now();
      this.feedBody(chunk, 0);
      return;
    }
    if (this.phase !== Phase.AwaitingHead || this.handler === null) {
      // Bytes nobody asked for (an idle connection): the connection cannot be trusted.
      this.destroy(new UpstreamProtocolError('unexpected bytes from the upstream'));
      return;
    }
    this.buffer = this.buffer === null ? chunk : Buffer.concat([this.buffer, chunk]);
    this.readHead();
  }

  private readHead(): void {
    for (;;) {
      const buffer = this.buffer as Buffer;
      const end = buffer.indexOf(crlfcrlf);
      if (end === -1) {
        if (buffer.length > this.pool.options.maxHeaderSize)
          this.destroy(new UpstreamProtocolError('upstream response head too large'));
        return;
      }
      const head = parseResponseHead(
        buffer.toString('latin1', 0, end + 4),
        (this.request as PoolRequest).method,
      );
      if (head instanceof ProxyError) {
        this.destroy(head);
        return;
      }
      const rest = end + 4 < buffer.length ? buffer.subarray(end + 4) : null;
      if (head.statusCode < 200) {
        // Interim answers (100 Continue, 103 Early Hints) are not relayed; 101 was not asked for.
        if (head.statusCode === 101) {
          this.destroy(new UpstreamProtocolError('unrequested protocol switch'));
          return;
        }
        this.buffer = rest;
        if (rest === null) return;
        continue;
      }
      this.buffer = null;
      this.reusable = head.keepAlive;
      if (head.keepAliveHintMs > 0)
        this.keepAliveMs = Math.min(this.keepAliveMs, Math.max(head.keepAliveHintMs - 1_000, 0));
      this.framing = head.framing;
      this.phase = Phase.Body;
      this.since = performance.now();
      if (head.framing === BodyFraming.Length) this.bodyRemaining = head.contentLength;
      else if (head.framing === BodyFraming.Chunked) this.decoder = new ChunkedDecoder();
      (this.handler as PoolHandler).onHead(head, this.resume);
      if (this.closed) return;
      if (
        head.framing === BodyFraming.None ||
        (head.framing === BodyFraming.Length && head.contentLength === 0)
      ) {
        this.complete(rest !== null);
        return;
      }
      if (rest !== null) this.feedBody(rest, 0);
      return;
    }
  }

  private feedBody(data: Buffer, offset: number): void {
    const handler = this.handler;
    if (handler === null) return;
    let more = true;
    switch (this.framing) {
      case BodyFraming.Length: {
        const n = Math.min(data.length - offset, this.bodyRemaining);
        this.bodyRemaining -= n;
        if (n > 0)
          more = handler.onData(
            offset === 0 && n === data.length ? data : data.subarray(offset, offset + n),
          );
        if (this.bodyRemaining === 0) {
          this.complete(offset + n < data.length);
          return;
        }
        break;
      }
      case BodyFraming.Chunked: {
        const decoder = this.decoder as ChunkedDecoder;
        const end = decoder.decode(data, offset, (piece) => {
          if (!handler.onData(piece)) more = false;
        });
        if (end instanceof ProxyError) {
          this.destroy(new UpstreamProtocolError('invalid chunked upstream body', end));
          return;
        }
        if (decoder.done) {
          this.complete(end < data.length);
          return;
        }
        break;
      }
      default:
        more = handler.onData(offset === 0 ? data : data.subarray(offset));
    }
    if (!more && !this.closed && !this.paused) {
      this.paused = true;
      this.socket.pause();
    }
  }

  /** The answer is complete; `extra` = bytes followed it (the upstream broke the protocol). */
  private complete(extra: boolean): void {
    const handler = this.handler as PoolHandler;
    this.responseDone = true;
    if (extra) this.reusable = false;
    handler.onComplete();
    if (this.requestSent) {
      this.finish();
    } else {
      // The upstream answered before the streamed request body was sent whole: the rest is
      // not wanted, and the connection cannot carry another request.
      this.handler = null;
      this.destroy(null);
    }
  }

  /** Both directions are done: back to the pool, or closed. */
  private finish(): void {
    this.handler = null;
    this.request = null;
    if (!this.reusable || this.closed) {
      this.destroy(null);
      return;
    }
    this.phase = Phase.Idle;
    this.served++;
    this.since = performance.now();
    if (this.paused) {
      this.paused = false;
      this.socket.resume();
    }
    this.pool.release(this);
  }

  /**
   * Whether the upstream closed this connection unanswered in a way that makes sending the
   * request again right: the connection was reused (an upstream times idle connections out on
   * its own clock, and its close can cross our request on the wire: the race of every keep-alive
   * client), not a byte of the answer came, the pool is not closing, the request can be sent
   * again whole (no body, or one buffered with its head) and it is idempotent (RFC 9110 9.2.2:
   * a POST may have been applied; an `Idempotency-Key` makes any method so, as for the retry
   * policy). A fresh connection's failure is final, so the resends are bounded by the idle
   * connections. Go's HTTP transport and nginx (`proxy_next_upstream error`) do the same
   * instead of answering 502.
   */
  private staleOnReuse(): boolean {
    const request = this.request;
    return (
      request !== null &&
      this.served > 0 &&
      !this.heard &&
      this.requestSent &&
      !this.pool.closing &&
      (request.body === null || Buffer.isBuffer(request.body)) &&
      isIdempotent(request.method, hasIdempotencyKey(request.headers))
    );
  }

  private onClose(): void {
    const handler = this.handler;
    if (!this.closed && handler !== null && this.phase === Phase.Body) {
      if (this.framing === BodyFraming.UntilClose && this.socketError === null) {
        // A close-delimited body ends here.
        this.closed = true;
        this.phase = Phase.Closed;
        this.responseDone = true;
        this.handler = null;
        handler.onComplete();
        this.pool.forget(this);
        return;
      }
    }
    if (!this.closed && handler !== null && this.staleOnReuse()) {
      this.closed = true;
      this.phase = Phase.Closed;
      this.handler = null;
      this.pool.resend(this, this.request as PoolRequest, handler);
      return;
    }
    if (!this.closed) {
      const error = this.socketError;
      this.destroy(
        error === null
          ? new UpstreamReset('upstream closed the connection')
          : classifyUpstreamError(error),
      );
    }
    this.pool.forget(this);
  }
}

/** Methods whose requests carry a Content-Length even when empty (as undici and curl send). */
function bodyExpected(method: string): boolean {
  return method === 'POST' || method === 'PUT' || method === 'PATCH';
}

/** The Content-Length in a flat list, or -1 when there is none. */
function declaredLength(headers: readonly string[]): number {
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i] as string;
    if (name.length === 14 && name.toLowerCase() === 'content-length')
      return Number(headers[i + 1]);
  }
  return -1;
}
