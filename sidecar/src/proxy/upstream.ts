/**
 * The terminal handler: sends a `ProxyRequest` to its `Upstream` through an undici `Pool`, using
 * `pool.dispatch` with a handler object (no `request()` wrapper, no response stream objects).
 * The exchange object is at once the undici handler, the `ProxyResponse` and its streaming body,
 * so a proxied request costs one such object and one promise.
 */
import { Pool, type Dispatcher } from 'undici';
import { ClientAborted, UpstreamDown, classifyUpstreamError, type ProxyError } from './errors.js';
import type {
  Abortable,
  Handler,
  ProxyRequest,
  ProxyResponse,
  ResponseBodySource,
  ResponseSink,
} from './handler.js';
import { responseHeaders } from './headers.js';

/** Connection settings for one upstream origin. Durations in milliseconds. */
export interface UpstreamOptions {
  /** Most connections kept to this origin (requests beyond wait in undici's queue). */
  readonly connections?: number;
  /** Time to establish a connection. */
  readonly connectTimeoutMs?: number;
  /** Time from sending the request to receiving the complete response head. */
  readonly headersTimeoutMs?: number;
  /** Longest gap between two body chunks of the response. */
  readonly bodyTimeoutMs?: number;
  /** How long an idle pooled connection is kept (shortened by the upstream's own hint). */
  readonly keepAliveTimeoutMs?: number;
  /** Largest response head accepted from the upstream, in bytes. */
  readonly maxHeaderSize?: number;
  /**
   * Request bodies of a known length up to this many bytes are read before dispatch and sent
   * with the head in one write; larger (and chunked) ones stream. 0 streams everything.
   */
  readonly bufferBodyBytes?: number;
}

/** Defaults used when an option is not given. */
export const upstreamDefaults: Required<UpstreamOptions> = {
  connections: 128,
  connectTimeoutMs: 5_000,
  headersTimeoutMs: 30_000,
  bodyTimeoutMs: 30_000,
  keepAliveTimeoutMs: 4_000,
  maxHeaderSize: 64 * 1024,
  bufferBodyBytes: 64 * 1024,
};

/** One upstream origin (`http://host:port`) and its connection pool. */
export class Upstream {
  readonly pool: Pool;
  /** False when health checks know the upstream is down: requests fail fast with 503. */
  available = true;
  /** `clock.now()` of the last dispatch (used for idle eviction of outbound pools). */
  lastUsed = 0;
  /** See `UpstreamOptions.bufferBodyBytes`. */
  readonly bufferBodyBytes: number;

  constructor(
    readonly host: string,
    readonly port: number,
    options: UpstreamOptions = {},
  ) {
    const o = { ...upstreamDefaults, ...options };
    this.bufferBodyBytes = o.bufferBodyBytes;
    const hostPart = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
    this.pool = new Pool(`http://${hostPart}:${port}`, {
      connections: o.connections,
      pipelining: 1,
      keepAliveTimeout: o.keepAliveTimeoutMs,
      keepAliveMaxTimeout: Math.max(o.keepAliveTimeoutMs, 1_000),
      headersTimeout: o.headersTimeoutMs,
      bodyTimeout: o.bodyTimeoutMs,
      maxHeaderSize: o.maxHeaderSize,
      strictContentLength: true,
      connect: { timeout: o.connectTimeoutMs, noDelay: true },
    });
  }

  /** Closes the pool after the requests in flight complete. */
  close(): Promise<void> {
    return this.pool.close();
  }

  /** Destroys every connection at once. */
  destroy(): Promise<void> {
    return this.pool.destroy();
  }
}

/** Response bytes buffered before the server attaches (then undici is paused). */
const preAttachHighWater = 64 * 1024;
/** Bytes of a discarded response read to keep its connection; beyond, the connection is dropped. */
const discardLimit = 64 * 1024;

enum State {
  AwaitingHead,
  HeadReceived,
  Attached,
  Done,
}

/**
 * One upstream attempt: undici handler (legacy `onHeaders` API, the one undici runs natively —
 * the newer controller API goes through a wrapper that also parses headers into an object),
 * `ProxyResponse`, and `ResponseBodySource`.
 */
class UpstreamExchange
  implements Dispatcher.DispatchHandler, ProxyResponse, ResponseBodySource, Abortable
{
  statusCode = 0;
  headers: readonly string[] = [];
  body: ResponseBodySource | null = null;
  readonly promise: Promise<ProxyResponse>;
  private resolve!: (response: ProxyResponse) => void;
  private reject!: (error: ProxyError) => void;
  private state = State.AwaitingHead;
  private abortUndici: ((err?: Error) => void) | null = null;
  private resumeUndici: (() => void) | null = null;
  private pending: Buffer[] | null = null;
  private pendingBytes = 0;
  private ended = false;
  private failure: ProxyError | null = null;
  private sink: ResponseSink | null = null;
  private done: ((error: ProxyError | null) => void) | null = null;
  private discarding = false;
  private discarded = 0;
  private drainListener: (() => void) | null = null;

  constructor(private readonly req: ProxyRequest) {
    this.promise = new Promise<ProxyResponse>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    req.inFlight = this;
  }

  abort(reason: ProxyError): void {
    if (this.abortUndici !== null) this.abortUndici(reason);
    else this.failure ??= reason; // not connected yet: onConnect aborts at once
  }

  onConnect(abort: (err?: Error) => void): void {
    this.abortUndici = abort;
    if (this.failure !== null) abort(this.failure);
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
    if (statusCode < 200) return true; // 1xx interim answers are not relayed
    this.statusCode = statusCode;
    this.headers = responseHeaders(rawHeaders);
    this.body = this;
    this.resumeUndici = resume;
    this.state = State.HeadReceived;
    this.resolve(this);
    return true;
  }

  onData(chunk: Buffer): boolean {
    const sink = this.sink;
    if (sink !== null) {
      if (sink.write(chunk)) return true;
      this.waitForDrain(sink);
      return false;
    }
    if (this.discarding) {
      this.discarded += chunk.length;
      if (this.discarded > discardLimit)
        this.abortUndici?.(new ClientAborted('discarded body too large'));
      return true;
    }
    if (this.pending === null) this.pending = [chunk];
    else this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    return this.pendingBytes < preAttachHighWater;
  }

  onComplete(): void {
    this.ended = true;
    if (this.sink !== null) {
      this.sink.end();
      this.finish(null);
    }
    this.req.inFlight = null;
  }

  onError(err: Error): void {
    const error = classifyUpstreamError(err);
    this.req.inFlight = null;
    if (this.state === State.AwaitingHead) {
      this.state = State.Done;
      this.reject(error);
      return;
    }
    if (this.sink !== null) {
      // Headers are already with the client: the only honest signal left is a broken connection.
      this.sink.destroy();
      this.finish(error);
      return;
    }
    this.failure = error;
  }

  pipeTo(sink: ResponseSink, done: (error: ProxyError | null) => void): void {
    this.sink = sink;
    this.done = done;
    this.state = State.Attached;
    const pending = this.pending;
    this.pending = null;
    if (this.failure !== null) {
      sink.destroy();
      this.finish(this.failure);
      return;
    }
    if (this.ended) {
      // Whole body already here (the common small-response case): one write with the head.
      if (pending === null) sink.end();
      else if (pending.length === 1) sink.end(pending[0]);
      else sink.end(Buffer.concat(pending, this.pendingBytes));
      this.finish(null);
      return;
    }
    let writable = true;
    if (pending !== null) for (const chunk of pending) writable = sink.write(chunk);
    if (this.pendingBytes >= preAttachHighWater) {
      if (writable) this.resumeUndici?.();
      else this.waitForDrain(sink);
    }
  }

  discard(): void {
    this.pending = null;
    if (this.ended || this.failure !== null) return;
    this.discarding = true;
    this.discarded = this.pendingBytes;
    if (this.discarded > discardLimit)
      this.abortUndici?.(new ClientAborted('discarded body too large'));
    else this.resumeUndici?.();
  }

  private waitForDrain(sink: ResponseSink): void {
    if (sink.destroyed) return; // 'close' will abort us
    this.drainListener ??= () => this.resumeUndici?.();
    sink.onDrain(this.drainListener);
  }

  private finish(error: ProxyError | null): void {
    if (this.state === State.Done) return;
    this.state = State.Done;
    const done = this.done;
    this.done = null;
    done?.(error);
  }
}

/**
 * The terminal handler of every stack: one upstream attempt for `req`. Rejects with a
 * `ProxyError` if no response head arrives; after that, failures surface through `pipeTo`.
 */
export const forwardToUpstream: Handler = (req) => {
  // Small bodies are sent with the head in one write (undici corks a Buffer body): cheaper, and
  // an upstream that answers before reading the body (nginx `return`) cannot leave us mid-write.
  const limit = req.upstream.bufferBodyBytes;
  if (req.body === req.incoming && req.contentLength > 0 && req.contentLength <= limit) {
    return req.bufferBody(limit).then(() => dispatch(req));
  }
  return dispatch(req);
};

function dispatch(req: ProxyRequest): Promise<ProxyResponse> {
  if (req.abortReason !== null) return Promise.reject(req.abortReason);
  const upstream = req.upstream;
  if (!upstream.available) return Promise.reject(new UpstreamDown('upstream marked down'));
  const exchange = new UpstreamExchange(req);
  upstream.pool.dispatch(
    {
      path: req.path,
      method: req.method as Dispatcher.HttpMethod,
      headers: req.headers,
      body: req.body as Dispatcher.DispatchOptions['body'],
    },
    exchange,
  );
  return exchange.promise;
}
