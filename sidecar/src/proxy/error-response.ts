/**
 * The one place where failures become HTTP answers (linkerd2-proxy's "rescue" layer). Bodies are
 * short JSON documents precomputed per code; the status and `x-palisade-error` header tell the
 * client (and tests) which failure it was.
 */
import {
  BadRequest,
  BodyTooLarge,
  ClientAborted,
  DestinationDenied,
  HeadersTooLarge,
  InternalProxyError,
  PolicyRefusal,
  ProxyError,
  RequestTimeout,
  ShuttingDown,
  UpstreamDown,
  UpstreamProtocolError,
  UpstreamReset,
  UpstreamTimeout,
  UpstreamUnavailable,
  VersionNotSupported,
} from './errors.js';
import type { ProxyResponse } from './handler.js';

/** Header naming the failure code on every answer the proxy makes up itself. */
export const errorCodeHeader = 'x-palisade-error';

const statusByCode = new Map<string, number>([
  [new UpstreamUnavailable('').code, 502],
  [new UpstreamReset('').code, 502],
  [new UpstreamProtocolError('').code, 502],
  [new UpstreamDown('').code, 503],
  [new ShuttingDown('').code, 503],
  [new UpstreamTimeout('').code, 504],
  [new BodyTooLarge('').code, 413],
  [new HeadersTooLarge('').code, 431],
  [new BadRequest('').code, 400],
  [new RequestTimeout('').code, 408],
  [new VersionNotSupported('').code, 505],
  [new DestinationDenied('').code, 403],
  [new ClientAborted('').code, 499],
  [new InternalProxyError('').code, 500],
]);

/** The HTTP status for an error (500 for anything unknown). */
export function statusFor(error: ProxyError): number {
  if (error instanceof PolicyRefusal) return error.statusCode;
  return statusByCode.get(error.code) ?? 500;
}

const cache = new Map<string, ProxyResponse>();

/** The answer for `error`. Same code → same (shared, frozen) response object. */
export function errorResponse(error: ProxyError): ProxyResponse {
  if (error instanceof PolicyRefusal) {
    const body = `{"error":"${error.code}"}`;
    return {
      statusCode: error.statusCode,
      headers: [...error.headers, 'content-type', 'application/json', errorCodeHeader, error.code],
      body,
    };
  }
  let response = cache.get(error.code);
  if (response === undefined) {
    const status = statusFor(error);
    response = Object.freeze({
      statusCode: status,
      headers: Object.freeze(['content-type', 'application/json', errorCodeHeader, error.code]),
      body: `{"error":"${error.code}","status":${status}}`,
    });
    cache.set(error.code, response);
  }
  return response;
}

/** Wraps anything thrown by a filter into a `ProxyError` (never swallowed: the cause is kept). */
export function asProxyError(error: unknown): ProxyError {
  return error instanceof ProxyError
    ? error
    : new InternalProxyError('unexpected error in the proxy stack', error);
}

/**
 * A complete raw HTTP/1.1 answer for errors found before Node built a request (parser errors,
 * header overflow, head timeout): written straight to the socket, then the socket is closed.
 */
export function rawErrorResponse(error: ProxyError): string {
  const status = statusFor(error);
  const body = `{"error":"${error.code}","status":${status}}`;
  return (
    `HTTP/1.1 ${status} ${reasonPhrases[status] ?? 'Error'}\r\n` +
    `content-type: application/json\r\n${errorCodeHeader}: ${error.code}\r\n` +
    `content-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`
  );
}

const reasonPhrases: Record<number, string> = {
  400: 'Bad Request',
  408: 'Request Timeout',
  413: 'Content Too Large',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
  505: 'HTTP Version Not Supported',
};
