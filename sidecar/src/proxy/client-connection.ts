/**
 * The server side of the data path on a plain `net` socket: one `ClientConnection` per client
 * connection reads request heads (`request-head.ts`), bodies (by length or through
 * `chunked-decoder.ts`) and hands each request to the server as a `ClientExchange`, which is at
 * once the request's body (`IncomingRequest`) and the place its answer is written
 * (`ResponseSink`, heads from `response-head.ts`). It replaces `node:http`'s server, whose
 * streams and per-request objects cost more than the whole proxied request of nginx (0006).
 *
 * One request at a time per connection: bytes of a pipelined next request wait in the buffer
 * until the current answer is complete, so answers go out in order. Timeouts are checked by the
 * server's periodic sweep (`checkTimeouts`), not by a timer per request.
 */
import type { Socket } from 'node:net';
import { ChunkedDecoder } from './chunked-decoder.js';
import { rawErrorResponse } from './error-response.js';
import {
  BodyTooLarge,
  ClientAborted,
  HeadersTooLarge,
  ProxyError,
  RequestTimeout,
} from './errors.js';
import type { IncomingRequest, ResponseSink } from './handler.js';
import { parseRequestHead, partialHeadError, type RequestHead } from './request-head.js';
import {
  Framing,
  hasContentLength,
  httpDate,
  responseHasBody,
  responseHead,
} from './response-head.js';

/** Limits a connection enforces. Durations in milliseconds. */
export interface ConnectionLimits {
  readonly maxHeaderSize: number;
  readonly maxBodyBytes: number;
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
}

/** What a connection needs from its server. */
export interface ConnectionHost {
  readonly limits: ConnectionLimits;
  /** True once the server is shutting down: answers close their connection. */
  readonly draining: boolean;
  /** Whether `Connection: upgrade` requests become tunnels (else they are plain requests). */
  readonly acceptsUpgrade: boolean;
  /** A request whose head (and the body bytes that came with it) has been read. */
  handleRequest(exchange: ClientExchange): void;
  /** A `CONNECT` or accepted upgrade: the socket now belongs to the server; `rest` follows the head. */
  handleTunnel(exchange: ClientExchange, socket: Socket, rest: Buffer): void;
  /** The connection is gone (closed or handed over as a tunnel). */
  forget(connection: ClientConnection): void;
}

/** Request body bytes queued beyond this pause reading from the client. */
const bodyHighWater = 64 * 1024;
/** Pipelined bytes buffered while an answer is in progress beyond this pause reading. */
const pipelineHighWater = 64 * 1024;
/** Whole answers up to this size are copied into one buffer with their head. */
const singleWriteBytes = 16 * 1024;
const crlfcrlf = Buffer.from('\r\n\r\n', 'latin1');

enum Phase {
  /** Waiting for (the rest of) a request head. */
  Head,
  /** The current request's body is arriving. */
  Body,
  /** The current request was received whole; its answer is in progress. */
  Answer,
  /** Closed, or handed over as a tunnel. */
  Gone,
}

/** One request on a client connection: its head, its body, and its answer. */
export class ClientExchange implements IncomingRequest, ResponseSink, AsyncIterator<Buffer> {
  readonly method: string;
  /** The request target as sent. */
  readonly target: string;
  readonly versionMinor: number;
  /** The request's headers as received (flat list); emptied once the answer was written. */
  readonly rawHeaders: string[];
  /** 0 none, -1 chunked, else Content-Length. */
  readonly bodyLength: number;
  readonly remoteAddress: string;
  /** Called once if the client goes away or its body turns out invalid before the answer ended. */
  onAbort: ((reason: ProxyError) => void) | null = null;
  complete: boolean;
  /** True once a head was written (by the server or the connection itself). */
  headersSent = false;
  /** True once the answer was written whole. */
  finished = false;
  /** Whether the connection may carry another request after this one. */
  keepAlive: boolean;
  private readonly chunks: Buffer[] = [];
  private queuedBytes = 0;
  private bodyError: ProxyError | null = null;
  private resolveNext: ((result: IteratorResult<Buffer>) => void) | null = null;
  private rejectNext: ((error: ProxyError) => void) | null = null;
  private pendingHead: Buffer | null = null;
  private framing = Framing.AsIs;
  private bodyAllowed = true;

  constructor(
    private readonly connection: ClientConnection,
    head: RequestHead,
    remoteAddress: string,
  ) {
    this.method = head.method;
    this.target = head.target;
    this.versionMinor = head.versionMinor;
    this.rawHeaders = head.rawHeaders;
    this.bodyLength = head.bodyLength;
    this.keepAlive = head.keepAlive;
    this.complete = head.bodyLength === 0;
    this.remoteAddress = remoteAddress;
  }

  // ---- request body (IncomingRequest), fed by the connection ----

  [Symbol.asyncIterator](): AsyncIterator<Buffer> {
    return this;
  }

  next(): Promise<IteratorResult<Buffer>> {
    if (this.chunks.length > 0) {
      const chunk = this.chunks.shift() as Buffer;
      this.queuedBytes -= chunk.length;
      if (this.queuedBytes < bodyHighWater) this.connection.resumeReading();
      return Promise.resolve({ value: chunk, done: false });
    }
    if (this.bodyError !== null) return Promise.reject(this.bodyError);
    if (this.complete) return Promise.resolve({ value: undefined, done: true });
    this.connection.resumeReading();
    return new Promise((resolve, reject) => {
      this.resolveNext = resolve;
      this.rejectNext = reject;
    });
  }

  /** The consumer stopped early (e.g. the upstream attempt failed): queued data is dropped. */
  return(): Promise<IteratorResult<Buffer>> {
    this.chunks.length = 0;
    this.queuedBytes = 0;
    return Promise.resolve({ value: undefined, done: true });
  }

  readBody(length: number, maxBytes: number): Promise<Buffer> {
    const whole = this.takeBodyIfComplete(length);
    return whole === null ? this.collect(length, maxBytes) : Promise.resolve(whole);
  }

  /** The common case: the body came with the head and is queued whole. */
  takeBodyIfComplete(length: number): Buffer | null {
    if (!this.complete || this.bodyError !== null || this.queuedBytes !== length) return null;
    const whole =
      this.chunks.length === 1
        ? (this.chunks[0] as Buffer)
        : Buffer.concat(this.chunks, this.queuedBytes);
    this.chunks.length = 0;
    this.queuedBytes = 0;
    return whole;
  }

  private async collect(length: number, maxBytes: number): Promise<Buffer> {
    const whole = Buffer.allocUnsafe(length);
    let offset = 0;
    for (;;) {
      const result = await this.next();
      if (result.done === true) break;
      const chunk = result.value;
      if (offset + chunk.length > length || offset + chunk.length > maxBytes)
        throw new BodyTooLarge('request body larger than declared or allowed');
      chunk.copy(whole, offset);
      offset += chunk.length;
    }
    return offset === length ? whole : whole.subarray(0, offset);
  }

  /** @internal A piece of the body arrived. */
  pushBody(chunk: Buffer): void {
    const resolve = this.resolveNext;
    if (resolve !== null) {
      this.resolveNext = null;
      this.rejectNext = null;
      resolve({ value: chunk, done: false });
      return;
    }
    this.chunks.push(chunk);
    this.queuedBytes += chunk.length;
    if (this.queuedBytes >= bodyHighWater) this.connection.pauseReading();
  }

  /** @internal The whole body arrived. */
  endBody(): void {
    this.complete = true;
    const resolve = this.resolveNext;
    if (resolve !== null) {
      this.resolveNext = null;
      this.rejectNext = null;
      resolve({ value: undefined, done: true });
    }
  }

  /** @internal The body cannot be completed (invalid, too large, too slow, client gone). */
  failBody(error: ProxyError): void {
    if (this.bodyError !== null) return;
    this.bodyError = error;
    const reject = this.rejectNext;
    if (reject !== null) {
      this.resolveNext = null;
      this.rejectNext = null;
      reject(error);
    }
    const onAbort = this.onAbort;
    this.onAbort = null;
    onAbort?.(error);
  }

  // ---- the answer (ResponseSink) ----

  /**
   * Prepares the head; it is written with the first body bytes. `local` answers carry their
   * whole body with a Content-Length from the caller and get a fresh `Date`; proxied ones keep
   * the upstream's Date and are chunk-encoded when their length is unknown. False when a header
   * cannot be written.
   */
  writeHead(statusCode: number, headers: readonly string[], local: boolean): boolean {
    this.bodyAllowed = responseHasBody(this.method, statusCode);
    let framing = Framing.AsIs;
    if (this.bodyAllowed && !local && !hasContentLength(headers))
      framing = this.versionMinor === 1 ? Framing.Chunked : Framing.Close;
    if (framing === Framing.Close || this.connection.draining) this.keepAlive = false;
    const connection = !this.keepAlive ? 'close' : this.versionMinor === 0 ? 'keep-alive' : null;
    const head = responseHead(
      statusCode,
      headers,
      framing,
      connection,
      local ? httpDate(Date.now()) : null,
    );
    if (head === null) return false;
    this.framing = framing;
    this.pendingHead = head;
    this.headersSent = true;
    return true;
  }

  write(chunk: Buffer): boolean {
    const socket = this.connection.socket;
    if (!this.bodyAllowed || chunk.length === 0) return this.flushHead();
    if (this.framing === Framing.Chunked) {
      socket.cork();
      if (this.pendingHead !== null) socket.write(this.takeHead());
      socket.write(`${chunk.length.toString(16)}\r\n`, 'latin1');
      socket.write(chunk);
      const writable = socket.write('\r\n', 'latin1');
      socket.uncork();
      return writable;
    }
    if (this.pendingHead === null) return socket.write(chunk);
    socket.cork();
    socket.write(this.takeHead());
    const writable = socket.write(chunk);
    socket.uncork();
    return writable;
  }

  end(chunk?: Buffer | string): void {
    if (this.finished || this.connection.closed) return;
    const socket = this.connection.socket;
    if (
      this.pendingHead !== null &&
      this.framing === Framing.AsIs &&
      Buffer.isBuffer(chunk) &&
      chunk.length <= singleWriteBytes
    ) {
      // The common whole answer: head and body copied into one buffer, one plain write (cheaper
      // than a corked writev of two buffers).
      this.writeWhole(socket, this.bodyAllowed ? chunk : null);
    } else {
      this.writeLast(socket, chunk);
    }
    this.finished = true;
    this.connection.answerEnded(this);
  }

  private writeWhole(socket: Socket, body: Buffer | null): void {
    const head = this.takeHead();
    if (body === null || body.length === 0) {
      socket.write(head);
      return;
    }
    const out = Buffer.allocUnsafe(head.length + body.length);
    head.copy(out, 0);
    body.copy(out, head.length);
    socket.write(out);
  }

  private writeLast(socket: Socket, chunk: Buffer | string | undefined): void {
    socket.cork();
    if (this.pendingHead !== null) socket.write(this.takeHead());
    if (chunk !== undefined && chunk.length > 0 && this.bodyAllowed) {
      if (this.framing === Framing.Chunked) {
        const length = typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
        socket.write(`${length.toString(16)}\r\n`, 'latin1');
        socket.write(chunk);
        socket.write('\r\n0\r\n\r\n', 'latin1');
      } else socket.write(chunk);
    } else if (this.framing === Framing.Chunked && this.bodyAllowed) {
      socket.write('0\r\n\r\n', 'latin1');
    }
    socket.uncork();
  }

  destroy(): void {
    this.connection.destroy();
  }

  get destroyed(): boolean {
    return this.connection.closed;
  }

  onDrain(listener: () => void): void {
    this.connection.socket.once('drain', listener);
  }

  private flushHead(): boolean {
    if (this.pendingHead === null) return true;
    return this.connection.socket.write(this.takeHead());
  }

  private takeHead(): Buffer {
    const head = this.pendingHead as Buffer;
    this.pendingHead = null;
    return head;
  }
}

/** One client connection: reads requests, one at a time, and tracks its timeouts. */
export class ClientConnection {
  /** True once the socket is closed or handed over: nothing more is written. */
  closed = false;
  private phase = Phase.Head;
  /** Set between two requests: the timeout that applies is the keep-alive one. */
  private idle = false;
  /** `performance.now()` when the current head started (or the idle period began). */
  private phaseStart: number;
  private buffer: Buffer | null = null;
  /** Bytes at the start of `buffer` already searched and checked while a head is incomplete. */
  private headChecked = 0;
  private current: ClientExchange | null = null;
  private bodyRemaining = 0;
  private decoder: ChunkedDecoder | null = null;
  private paused = false;
  private parsing = false;
  private readonly remoteAddress: string;

  constructor(
    readonly socket: Socket,
    private readonly host: ConnectionHost,
  ) {
    this.phaseStart = performance.now();
    this.remoteAddress = socket.remoteAddress ?? '';
    socket.on('data', this.onData);
    // A client EOF is an abort, as for Node's and nginx's servers.
    socket.on('end', this.onEnd);
    socket.on('error', noop); // 'close' follows
    socket.on('close', this.onClose);
  }

  /** True once the server is shutting down (answers then close the connection). */
  get draining(): boolean {
    return this.host.draining;
  }

  /** True between requests (nothing of a next request received yet). */
  get isIdle(): boolean {
    return (
      this.phase === Phase.Head && (this.idle || this.buffer === null) && this.current === null
    );
  }

  /**
   * Closes at once; the request in flight, if any, is aborted through 'close'. A no-op once a
   * close is under way (a raw error answer must not be cut off before it is flushed), unless
   * `force` (shutdown past its deadline).
   */
  destroy(force = false): void {
    if (this.closed && !force) return;
    this.closed = true;
    this.socket.destroy();
  }

  /** @internal Backpressure from the request body's consumer. */
  pauseReading(): void {
    if (!this.paused && !this.closed) {
      this.paused = true;
      this.socket.pause();
    }
  }

  /** @internal The body's consumer wants more. */
  resumeReading(): void {
    if (this.paused && !this.closed && this.phase === Phase.Body) {
      this.paused = false;
      this.socket.resume();
    }
  }

  /** Applies the head, request and keep-alive timeouts (called by the server's sweep). */
  checkTimeouts(now: number): void {
    const limits = this.host.limits;
    const elapsed = now - this.phaseStart;
    if (this.phase === Phase.Head) {
      if (this.idle && this.buffer === null) {
        if (elapsed > limits.keepAliveTimeoutMs) this.destroy();
      } else if (elapsed > limits.headersTimeoutMs) {
        this.refuse(new RequestTimeout('request head not received in time'));
      }
    } else if (this.phase === Phase.Body && elapsed > limits.requestTimeoutMs) {
      this.bodyFailed(new RequestTimeout('request not received in time'));
    }
  }

  /** @internal The answer to `exchange` was written whole: on to the next request, or close. */
  answerEnded(exchange: ClientExchange): void {
    // The head's header list is spent. Emptied, it lets go of the head's strings at once: V8
    // pretenures the allocation sites of this path under load (allocates these arrays in the old
    // generation), and a dead old array still pointing at young strings keeps them alive through
    // every scavenge until the next mark-compact, promoting each request's head (0006, fourth
    // round: ~0.7 KB per request, and the mark-compacts it caused, gone).
    exchange.rawHeaders.length = 0;
    if (exchange !== this.current || this.closed) return;
    if (!exchange.keepAlive || !exchange.complete || this.host.draining) {
      this.closeAfterWrites();
      return;
    }
    this.current = null;
    this.phase = Phase.Head;
    this.idle = true;
    this.phaseStart = performance.now();
    if (this.paused) {
      this.paused = false;
      this.socket.resume();
    }
    if (this.buffer !== null) this.readHeads();
  }

  private readonly onData = (chunk: Buffer): void => {
    if (this.phase === Phase.Body) {
      const end = this.feedBody(chunk, 0);
      if (typeof end !== 'number') {
        this.bodyFailed(end);
        return;
      }
      if (end < chunk.length) this.append(chunk.subarray(end));
      return;
    }
    this.append(chunk);
    if (this.phase === Phase.Head) this.readHeads();
    else if (this.phase === Phase.Answer && (this.buffer as Buffer).length > pipelineHighWater) {
      this.pauseReading();
    }
  };

  private readonly onEnd = (): void => {
    this.destroy();
  };

  private readonly onClose = (): void => {
    this.closed = true;
    const exchange = this.current;
    this.phase = Phase.Gone;
    this.host.forget(this);
    if (exchange !== null && !exchange.finished) {
      exchange.failBody(new ClientAborted('client closed the connection'));
    }
  };

  private append(chunk: Buffer): void {
    this.buffer = this.buffer === null ? chunk : Buffer.concat([this.buffer, chunk]);
  }

  /** Reads heads from the buffer; re-entrant calls (an answer written synchronously) loop here. */
  private readHeads(): void {
    if (this.parsing) return;
    this.parsing = true;
    try {
      while (this.phase === Phase.Head && this.buffer !== null && !this.closed) {
        if (!this.readOneHead()) break;
      }
    } finally {
      this.parsing = false;
    }
  }

  /** Reads one head from the buffer; false when more bytes are needed (or it failed). */
  private readOneHead(): boolean {
    const buffer = this.buffer as Buffer;
    const limits = this.host.limits;
    const checked = this.headChecked;
    let start = 0;
    // RFC 9112 §2.2: empty lines before a request line are ignored.
    if (checked === 0) {
      while (start + 1 < buffer.length && buffer[start] === 0x0d && buffer[start + 1] === 0x0a)
        start += 2;
      if (start === buffer.length) {
        this.buffer = null;
        return false;
      }
    }
    if (this.idle) {
      this.idle = false;
      this.phaseStart = performance.now();
    }
    const end = buffer.indexOf(crlfcrlf, Math.max(start, checked - 3));
    if (end === -1) {
      if (buffer.length - start > limits.maxHeaderSize) {
        this.refuse(new HeadersTooLarge('request head too large'));
        return false;
      }
      const early = partialHeadError(buffer.toString('latin1', start), checked);
      if (early !== null) {
        this.refuse(early);
      } else {
        this.buffer = start === 0 ? buffer : buffer.subarray(start);
        this.headChecked = this.buffer.length;
      }
      return false;
    }
    this.headChecked = 0;
    const headEnd = end + 4;
    if (headEnd - start > limits.maxHeaderSize) {
      this.refuse(new HeadersTooLarge('request head too large'));
      return false;
    }
    const head = parseRequestHead(buffer.toString('latin1', start, headEnd));
    if (head instanceof ProxyError) {
      this.refuse(head);
      return false;
    }
    if (head.bodyLength > limits.maxBodyBytes) {
      this.refuse(new BodyTooLarge('declared body exceeds the limit'));
      return false;
    }
    const exchange = new ClientExchange(this, head, this.remoteAddress);
    this.buffer = null;
    if (head.method === 'CONNECT' || (head.upgrade && this.host.acceptsUpgrade)) {
      this.handOver(exchange, buffer.subarray(headEnd));
      return false;
    }
    this.current = exchange;
    let rest = headEnd;
    if (head.bodyLength === 0) {
      this.phase = Phase.Answer;
    } else {
      if (head.expectContinue) this.socket.write('HTTP/1.1 100 Continue\r\n\r\n', 'latin1');
      this.phase = Phase.Body;
      this.bodyRemaining = head.bodyLength;
      this.decoder = head.bodyLength === -1 ? new ChunkedDecoder() : null;
      if (rest < buffer.length) {
        const fed = this.feedBody(buffer, rest);
        if (typeof fed !== 'number') {
          // Invalid before the stack saw it: answered here, never proxied.
          this.refuse(fed);
          return false;
        }
        rest = fed;
      }
    }
    if (rest < buffer.length) this.buffer = buffer.subarray(rest);
    this.host.handleRequest(exchange);
    // A local answer may have been written synchronously: then the next head can be read.
    return (this.phase as Phase) === Phase.Head;
  }

  /** Feeds body bytes from `data[offset..]`; returns where the body ended, or its error. */
  private feedBody(data: Buffer, offset: number): number | ProxyError {
    const exchange = this.current as ClientExchange;
    const decoder = this.decoder;
    let end: number;
    if (decoder === null) {
      const n = Math.min(data.length - offset, this.bodyRemaining);
      if (n > 0) {
        exchange.pushBody(
          offset === 0 && n === data.length ? data : data.subarray(offset, offset + n),
        );
        this.bodyRemaining -= n;
      }
      end = offset + n;
      if (this.bodyRemaining > 0) return end;
    } else {
      const decoded = decoder.decode(data, offset, this.pushChunk);
      if (typeof decoded !== 'number') return decoded;
      if (decoder.total > this.host.limits.maxBodyBytes)
        return new BodyTooLarge('chunked body exceeds the limit');
      if (!decoder.done) return decoded;
      end = decoded;
      this.decoder = null;
    }
    this.phase = Phase.Answer;
    exchange.endBody();
    return end;
  }

  private readonly pushChunk = (data: Buffer): void => {
    (this.current as ClientExchange).pushBody(data);
  };

  /**
   * The body failed after the stack got the request (invalid chunk, over the limit, too slow):
   * the stack's body stream fails and its upstream attempt is aborted; the client gets this
   * error's answer unless the upstream's answer already started.
   */
  private bodyFailed(error: ProxyError): void {
    const exchange = this.current as ClientExchange;
    this.phase = Phase.Gone;
    if (exchange.headersSent) this.destroy();
    else this.refuse(error);
    exchange.failBody(error);
  }

  /** Answers `error` with a raw response and closes (the connection's framing is lost). */
  private refuse(error: ProxyError): void {
    this.phase = Phase.Gone;
    this.buffer = null;
    if (this.current !== null) this.current.headersSent = true;
    if (this.closed || !this.socket.writable) {
      this.destroy();
      return;
    }
    this.closed = true;
    const socket = this.socket;
    socket.off('data', this.onData);
    socket.end(rawErrorResponse(error), () => socket.destroy());
  }

  /** Ends the connection once what was written is flushed. */
  private closeAfterWrites(): void {
    this.closed = true;
    this.phase = Phase.Gone;
    const socket = this.socket;
    socket.off('data', this.onData);
    socket.end(() => socket.destroy());
  }

  /** Hands the socket to the server for a tunnel: this object lets go of it entirely. */
  private handOver(exchange: ClientExchange, rest: Buffer): void {
    const socket = this.socket;
    this.phase = Phase.Gone;
    socket.pause(); // nothing may be read until the tunnel pipes it
    socket.off('data', this.onData);
    socket.off('end', this.onEnd);
    socket.off('close', this.onClose);
    this.host.forget(this);
    this.host.handleTunnel(exchange, socket, rest);
  }
}

function noop(): void {}
