/**
 * The data path's vocabulary. A `Handler` turns a `ProxyRequest` into a `ProxyResponse`
 * (status, headers, streaming body); a `Filter` wraps a handler (`next => req => …`), exactly as
 * undici interceptors and linkerd2-proxy layers do. The terminal handler (`upstream.ts`) calls
 * the app or the destination; the server (`proxy-server.ts`) writes whatever comes back.
 *
 * What a filter can do with this API:
 * - refuse early: `return localResponse(429, ['retry-after', '1'])` or `throw new PolicyRefusal(…)`;
 * - delay: `await sleep(ms); return next(req)`;
 * - observe: `const res = await next(req)` gives the status as soon as the upstream answers;
 *   `req.onFinish(outcome => …)` gives the final status, error code and duration once the body
 *   has been delivered (or failed);
 * - retry idempotent calls: `if (await req.bufferBody(limit))` the body is replayable, then call
 *   `next(req)` again after `res.body.discard()`-ing the failed attempt;
 * - time out: `req.abort(new UpstreamTimeout(…))` from a timer (the timeout filter's one
 *   `DeadlineQueue` per route) aborts the attempt in flight, which then rejects with that error.
 */
import type { Readable } from 'node:stream';
import type { ProxyError } from './errors.js';
import type { Upstream } from './upstream.js';

export * from './errors.js';

/** Which stack a request runs through. */
export type Direction = 'inbound' | 'outbound';

/** What the route table resolved a request to; filters read it for labels and decisions. */
export interface RouteInfo {
  /** Stable route name (metrics label, span attribute). */
  readonly name: string;
}

/**
 * The request body as it will be sent upstream: nothing, a buffered (replayable) `Buffer`, or
 * the client's stream (sent as it arrives, consumable once).
 */
export type RequestBody = null | Buffer | Readable | AsyncIterable<Buffer>;

/**
 * The client's request body as the server receives it: iterable once (chunks as they arrive,
 * with backpressure on the client's connection), or read whole through `readBody`.
 */
export interface IncomingRequest extends AsyncIterable<Buffer> {
  /** True once the whole body has arrived from the client (always true without a body). */
  readonly complete: boolean;
  /**
   * Reads a body of known `length` into one buffer; rejects with `BodyTooLarge` beyond
   * `maxBytes` or `ClientAborted` if the client goes away.
   */
  readBody(length: number, maxBytes: number): Promise<Buffer>;
  /**
   * The whole body of known `length` if it has already arrived (taken: it is not iterated
   * again), else null and nothing is taken. Optional: lets the common small request skip the
   * promises of `readBody`.
   */
  takeBodyIfComplete?(length: number): Buffer | null;
}

/** Where a streamed response body goes: the client's connection, after the head. */
export interface ResponseSink {
  /** Writes a chunk; false when the connection's buffer is full (wait for `onDrain`). */
  write(chunk: Buffer): boolean;
  /** Writes the last chunk, if any, and ends the response. */
  end(chunk?: Buffer): void;
  /** Closes the client's connection at once (the response cannot be completed). */
  destroy(): void;
  /** True once the client's connection is gone. */
  readonly destroyed: boolean;
  /** Calls `listener` once when the connection can take more after `write` returned false. */
  onDrain(listener: () => void): void;
}

/**
 * A response body that streams from the upstream to the client. Exactly one of `pipeTo` or
 * `discard` is called, once.
 */
export interface ResponseBodySource {
  /** Streams into `sink` with backpressure; `done` is called once, with `null` on success. */
  pipeTo(sink: ResponseSink, done: (error: ProxyError | null) => void): void;
  /** Drops the body (e.g. a retried attempt) and releases or aborts its connection. */
  discard(): void;
}

/** What a handler answers. Headers are a flat `[name, value, …]` list (raw, case preserved). */
export interface ProxyResponse {
  readonly statusCode: number;
  readonly headers: readonly string[];
  /** A local answer carries its whole body; a proxied one streams it. */
  readonly body: ResponseBodySource | Buffer | string | null;
}

/** How an exchange ended, as seen by `onFinish` listeners. */
export interface ExchangeOutcome {
  /** Status sent to the client, 0 when none could be sent. */
  readonly statusCode: number;
  /** The failure, if any (the status was then derived from it, or the connection destroyed). */
  readonly error: ProxyError | null;
  /** Milliseconds from `req.startTime` to the end of the response body. */
  readonly durationMs: number;
}

/** Something in flight that `ProxyRequest.abort` can stop (the current upstream attempt). */
export interface Abortable {
  abort(reason: ProxyError): void;
}

/** A handler: the whole of the rest of the stack, from this point to the upstream. */
export type Handler = (req: ProxyRequest) => Promise<ProxyResponse>;

/** A filter wraps the rest of the stack; built once per route when config changes. */
export type Filter = (next: Handler) => Handler;

/** Builds a local (non-proxied) answer; `headers` is a flat `[name, value, …]` list. */
export function localResponse(
  statusCode: number,
  headers: readonly string[] = [],
  body: Buffer | string | null = null,
): ProxyResponse {
  return { statusCode, headers, body };
}

/** `response` with `extra` (a flat `[name, value, …]` list) appended to its headers. */
export function withHeaders(response: ProxyResponse, extra: readonly string[]): ProxyResponse {
  return {
    statusCode: response.statusCode,
    headers: response.headers.concat(extra),
    body: response.body,
  };
}

type FinishListener = (outcome: ExchangeOutcome) => void;

/**
 * One request in flight through a stack. Created by the server from the parsed head, before
 * routing; fields are public and few so that V8 keeps one shape for every instance.
 *
 * Ownership: `headers` and `body` belong to the stack (filters may change them before calling
 * `next`); `incoming` is the client's message and must not be read by filters except through
 * `bufferBody`.
 */
export class ProxyRequest {
  /** Route resolved by the pipeline before the first filter runs. */
  route: RouteInfo = unroutedRoute;
  /** Body to send upstream; starts as the client's stream (or null when there is none). */
  body: RequestBody;
  /** Where the terminal handler sends the request. */
  upstream: Upstream;
  /** The attempt in flight, set by the terminal handler. */
  inFlight: Abortable | null = null;
  /** Set once `abort` was called: later attempts fail at once with it. */
  abortReason: ProxyError | null = null;
  /**
   * Attributes of the request's span while it is recorded (set by the observe filter), else
   * null: filters write their decisions here (`palisade.rate_limit.decision`, …) only when it
   * is not null, so an untraced request pays nothing.
   */
  spanAttributes: Record<string, string | number | boolean> | null = null;
  private finishListeners: FinishListener[] | null = null;

  constructor(
    readonly direction: Direction,
    /** Request method as received (HTTP methods are case-sensitive). */
    readonly method: string,
    /** Origin-form target: path and query, always starting with `/` (or `*`). */
    readonly path: string,
    /** `host[:port]` the client addressed. */
    readonly authority: string,
    /**
     * Flat `[name, value, …]` list sent upstream: hop-by-hop headers already removed. Owned by
     * the request (a filter that replaces it passes a fresh array): `finish` empties it.
     */
    public headers: string[],
    /** Declared body length, or -1 when chunked, or 0 when there is no body. */
    readonly contentLength: number,
    /** Client address as seen on the socket. */
    readonly remoteAddress: string,
    /** `clock.now()` when the head was parsed (milliseconds, monotonic). */
    readonly startTime: number,
    /** The client's request body as received. */
    readonly incoming: IncomingRequest,
    upstream: Upstream,
    /** Largest body accepted, in bytes. */
    readonly maxBodyBytes: number,
  ) {
    this.upstream = upstream;
    this.body = contentLength === 0 ? null : incoming;
  }

  /** Calls `listener` once when the exchange has ended (response written, failed or aborted). */
  onFinish(listener: FinishListener): void {
    if (this.finishListeners === null) this.finishListeners = [listener];
    else this.finishListeners.push(listener);
  }

  /** Aborts the upstream attempt in flight (and any later one) with `reason`. */
  abort(reason: ProxyError): void {
    if (this.abortReason === null) this.abortReason = reason;
    const inFlight = this.inFlight;
    if (inFlight !== null) {
      this.inFlight = null;
      inFlight.abort(reason);
    }
  }

  /**
   * Makes the body replayable by reading it into memory, if it is at most `limit` bytes.
   * Resolves `true` when `body` is now `null` or a `Buffer`, `false` when the body is larger
   * than `limit` or of unknown length (it is then left streaming, untouched). Rejects with
   * `BodyTooLarge`/`ClientAborted` if the client sends too much or goes away.
   */
  /**
   * `bufferBody` without waiting: true when `body` is now `null` or a `Buffer` (it was, or the
   * whole body of at most `limit` bytes had already arrived), false when that needs `bufferBody`.
   */
  bufferBodyIfComplete(limit: number): boolean {
    const body = this.body;
    if (body === null || Buffer.isBuffer(body)) return true;
    if (body !== this.incoming || this.contentLength < 0 || this.contentLength > limit)
      return false;
    const whole = this.incoming.takeBodyIfComplete?.(this.contentLength) ?? null;
    if (whole === null) return false;
    this.body = whole;
    return true;
  }

  bufferBody(limit: number): Promise<boolean> {
    const body = this.body;
    if (body === null || Buffer.isBuffer(body)) return Promise.resolve(true);
    if (body !== this.incoming || this.contentLength < 0 || this.contentLength > limit) {
      return Promise.resolve(false);
    }
    return this.incoming.readBody(this.contentLength, this.maxBodyBytes).then((buffer) => {
      this.body = buffer;
      return true;
    });
  }

  /**
   * Runs the finish listeners; called once by the server. Empties `headers` first: they were
   * sent, and nothing reads them after the exchange (see `ClientConnection.answerEnded` for why
   * a spent header list is emptied rather than left to the GC).
   */
  finish(statusCode: number, error: ProxyError | null, now: number): void {
    this.headers.length = 0;
    const listeners = this.finishListeners;
    if (listeners === null) return;
    this.finishListeners = null;
    const outcome: ExchangeOutcome = { statusCode, error, durationMs: now - this.startTime };
    for (const listener of listeners) listener(outcome);
  }
}

const unroutedRoute: RouteInfo = Object.freeze({ name: '' });
