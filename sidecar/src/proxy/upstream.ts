/**
 * The terminal handler: sends a `ProxyRequest` to its `Upstream` through our keep-alive pool
 * (`upstream-pool.ts`). The exchange object is at once the pool's handler, the `ProxyResponse`
 * and its streaming body, so a proxied request costs one such object and one promise.
 */
import { ClientAborted, UpstreamDown, type ProxyError } from './errors.js';
import type {
  Abortable,
  Handler,
  ProxyRequest,
  ProxyResponse,
  ResponseBodySource,
  ResponseSink,
} from './handler.js';
import type { ResponseHead } from './response-parser.js';
import { UpstreamPool, type PoolHandler } from './upstream-pool.js';

/** Connection settings for one upstream origin. Durations in milliseconds. */
export interface UpstreamOptions {
  /** Most connections kept to this origin (requests beyond wait in the pool's queue). */
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

/** One upstream origin (`host:port`) and its connection pool. */
export class Upstream {
  readonly pool: UpstreamPool;
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
    this.pool = new UpstreamPool(host, port, {
      connections: o.connections,
      connectTimeoutMs: o.connectTimeoutMs,
      headersTimeoutMs: o.headersTimeoutMs,
      bodyTimeoutMs: o.bodyTimeoutMs,
      keepAliveTimeoutMs: o.keepAliveTimeoutMs,
      maxHeaderSize: o.maxHeaderSize,
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

/** Response bytes buffered before the server attaches (then the connection is paused). */
const preAttachHighWater = 64 * 1024;
/** Bytes of a discarded response read to keep its connection; beyond, the connection is dropped. */
const discardLimit = 64 * 1024;

enum State {
  AwaitingHead,
  HeadReceived,
  Attached,
  Done,
}

/** One upstream attempt: the pool's handler, `ProxyResponse`, and `ResponseBodySource`. */
class UpstreamExchange implements PoolHandler, ProxyResponse, ResponseBodySource, Abortable {
  statusCode = 0;
  headers: readonly string[] = [];
  body: ResponseBodySource | null = null;
  readonly promise: Promise<ProxyResponse>;
  private resolve!: (response: ProxyResponse) => void;
  private reject!: (error: ProxyError) => void;
  private state = State.AwaitingHead;
  private abortConnection: ((reason: ProxyError) => void) | null = null;
  private resumeConnection: (() => void) | null = null;
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
    if (this.abortConnection !== null) this.abortConnection(reason);
    else this.failure ??= reason; // queued in the pool: onConnect aborts at once
  }

  onConnect(abort: (reason: ProxyError) => void): void {
    this.abortConnection = abort;
    if (this.failure !== null) abort(this.failure);
  }

  onHead(head: ResponseHead, resume: () => void): void {
    this.statusCode = head.statusCode;
    this.headers = head.headers;
    this.body = this;
    this.resumeConnection = resume;
    this.state = State.HeadReceived;
    this.resolve(this);
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
        this.abortConnection?.(new ClientAborted('discarded body too large'));
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

  onError(error: ProxyError): void {
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
      if (writable) this.resumeConnection?.();
      else this.waitForDrain(sink);
    }
  }

  discard(): void {
    this.pending = null;
    if (this.ended || this.failure !== null) return;
    this.discarding = true;
    this.discarded = this.pendingBytes;
    if (this.discarded > discardLimit)
      this.abortConnection?.(new ClientAborted('discarded body too large'));
    else this.resumeConnection?.();
  }

  private waitForDrain(sink: ResponseSink): void {
    if (sink.destroyed) return; // 'close' will abort us
    this.drainListener ??= () => this.resumeConnection?.();
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
  // Small bodies are sent with the head in one write: cheaper, and
  // an upstream that answers before reading the body (nginx `return`) cannot leave us mid-write.
  const limit = req.upstream.bufferBodyBytes;
  if (req.body === req.incoming && req.contentLength > 0 && req.contentLength <= limit) {
    // Usually the body came with the head: taken at once, no promise in between.
    if (!req.bufferBodyIfComplete(limit)) return req.bufferBody(limit).then(() => dispatch(req));
  }
  return dispatch(req);
};

function dispatch(req: ProxyRequest): Promise<ProxyResponse> {
  if (req.abortReason !== null) return Promise.reject(req.abortReason);
  const upstream = req.upstream;
  if (!upstream.available) return Promise.reject(new UpstreamDown('upstream marked down'));
  const exchange = new UpstreamExchange(req);
  // The request is the pool's `PoolRequest` as it stands (its body is final by now).
  upstream.pool.dispatch(req, exchange);
  return exchange.promise;
}
