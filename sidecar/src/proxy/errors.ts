/**
 * The proxy's failures, one class per cause, each with a stable `code` (what metrics, logs and
 * tests match on) and the underlying `cause` when there is one. `error-response.ts` is the one
 * place that turns them into HTTP answers.
 */

/** Every error the data path raises or maps to. `code` never changes once released. */
export abstract class ProxyError extends Error {
  /** Stable machine-readable identifier, e.g. `UPSTREAM_TIMEOUT`. */
  abstract readonly code: string;

  constructor(message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
  }
}

/** The upstream refused or could not be reached (connect refused, DNS, unreachable): 502. */
export class UpstreamUnavailable extends ProxyError {
  readonly code = 'UPSTREAM_UNAVAILABLE';
}

/** The upstream is known to be down (health said so), so no connection was tried: 503. */
export class UpstreamDown extends ProxyError {
  readonly code = 'UPSTREAM_DOWN';
}

/** The upstream did not answer (connect, headers or body) in time: 504. */
export class UpstreamTimeout extends ProxyError {
  readonly code = 'UPSTREAM_TIMEOUT';
}

/** The upstream closed or reset the connection mid-exchange: 502 before headers, else the client connection is destroyed. */
export class UpstreamReset extends ProxyError {
  readonly code = 'UPSTREAM_RESET';
}

/** The upstream sent something that is not valid HTTP/1.1: 502. */
export class UpstreamProtocolError extends ProxyError {
  readonly code = 'UPSTREAM_PROTOCOL_ERROR';
}

/** The request body exceeds the configured limit: 413. */
export class BodyTooLarge extends ProxyError {
  readonly code = 'BODY_TOO_LARGE';
}

/** The request head exceeds the configured header size: 431. */
export class HeadersTooLarge extends ProxyError {
  readonly code = 'HEADERS_TOO_LARGE';
}

/** The request is malformed or ambiguous (e.g. framing that could smuggle a request): 400. */
export class BadRequest extends ProxyError {
  readonly code = 'BAD_REQUEST';
}

/** The request's HTTP major version is not 1: 505. */
export class VersionNotSupported extends ProxyError {
  readonly code = 'VERSION_NOT_SUPPORTED';
}

/** The client took too long to send its request head or body: 408. */
export class RequestTimeout extends ProxyError {
  readonly code = 'REQUEST_TIMEOUT';
}

/** The client went away before the exchange completed; nobody is left to answer. */
export class ClientAborted extends ProxyError {
  readonly code = 'CLIENT_ABORTED';
}

/** The outbound destination is not allowed by the destination policy: 403. */
export class DestinationDenied extends ProxyError {
  readonly code = 'DESTINATION_DENIED';
}

/** The proxy is shutting down and takes no new work: 503. */
export class ShuttingDown extends ProxyError {
  readonly code = 'SHUTTING_DOWN';
}

/**
 * A filter refused the request on purpose (rate limit 429, open breaker 503, injected abort):
 * the answer it wants is carried as is. Filters may also return `localResponse(...)` directly;
 * throwing is for refusals decided deep inside a helper.
 */
export class PolicyRefusal extends ProxyError {
  readonly code: string;

  constructor(
    code: string,
    readonly statusCode: number,
    /** Flat `[name, value, …]` list, as `ServerResponse.writeHead` takes it. */
    readonly headers: readonly string[] = [],
    message = `refused by policy (${code})`,
  ) {
    super(message);
    this.code = code;
  }
}

/** An error of unknown origin, wrapped so that it still has a code: 500. */
export class InternalProxyError extends ProxyError {
  readonly code = 'INTERNAL';
}

const upstreamUnavailableCodes = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'EADDRNOTAVAIL',
]);

/**
 * Maps a socket error (or anything a request body stream threw) to a `ProxyError`. `ProxyError`s
 * (ours, e.g. a body over the limit) come back unchanged.
 */
export function classifyUpstreamError(err: unknown): ProxyError {
  if (err instanceof ProxyError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  switch (code) {
    case 'ETIMEDOUT':
      return new UpstreamTimeout('upstream timed out', err);
    case 'ECONNRESET':
    case 'EPIPE':
      return new UpstreamReset('upstream connection closed', err);
    default:
      if (typeof code === 'string' && upstreamUnavailableCodes.has(code))
        return new UpstreamUnavailable('upstream unreachable', err);
      return new InternalProxyError('unexpected proxy error', err);
  }
}
