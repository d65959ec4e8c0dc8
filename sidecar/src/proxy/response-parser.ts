/**
 * Parsing of an upstream's HTTP/1.1 response head, pure: the head's text in, status, headers (hop-by-hop
 * ones already dropped, ready for the client) and body framing out, or the `UpstreamProtocolError` that
 * makes the answer unrelayable (502). The socket adapter (`upstream-connection.ts`) finds the end of
 * the head and enforces its size limit.
 */
import { UpstreamProtocolError } from './errors.js';
import {
  HeaderKind,
  classifyHeader,
  connectionTokens,
  equalsIgnoreCase,
  removeNamed,
} from './headers.js';

/** How the body after a response head ends. */
export enum BodyFraming {
  /** No body (1xx, 204, 304, an answer to HEAD). */
  None,
  /** `Content-Length` bytes. */
  Length,
  /** `Transfer-Encoding: chunked`. */
  Chunked,
  /** Everything until the upstream closes the connection. */
  UntilClose,
}

/** A parsed upstream response head. */
export interface ResponseHead {
  readonly statusCode: number;
  /** Flat `[name, value, …]` for the client: hop-by-hop headers removed, case preserved. */
  readonly headers: string[];
  readonly framing: BodyFraming;
  /** The Content-Length when `framing` is `Length`. */
  readonly contentLength: number;
  /** Whether the connection may carry another request afterwards. */
  readonly keepAlive: boolean;
  /** The upstream's `Keep-Alive: timeout=N` hint in milliseconds, or -1. */
  readonly keepAliveHintMs: number;
}

const statusLine = /^HTTP\/1\.([01]) ([1-9][0-9]{2})(?: [^\r\n]*)?$/;
const contentLengthPattern = /^[0-9]{1,15}$/;
const keepAliveTimeout = /timeout=([0-9]{1,6})/i;

/** Parses a complete response head (`\r\n\r\n` included) read as latin1, answering `method`. */
export function parseResponseHead(
  text: string,
  method: string,
): ResponseHead | UpstreamProtocolError {
  const lineEnd = text.indexOf('\r\n');
  const status = statusLine.exec(text.slice(0, lineEnd));
  if (status === null) return new UpstreamProtocolError('invalid upstream status line');
  const minor = Number(status[1]);
  const statusCode = Number(status[2]);
  const headers: string[] = [];
  let drop: string[] | null = null;
  let contentLength = -1;
  let chunked = false;
  let transferEncoding = false;
  let close = minor === 0;
  let keepAliveHintMs = -1;
  let pos = lineEnd + 2;
  for (;;) {
    const end = text.indexOf('\r\n', pos);
    if (end === pos) break;
    const colon = text.indexOf(':', pos);
    if (colon <= pos || colon > end) return new UpstreamProtocolError('invalid upstream header');
    const name = text.slice(pos, colon);
    const value = text.slice(colon + 1, end).trim();
    pos = end + 2;
    switch (classifyHeader(name)) {
      case HeaderKind.ContentLength:
        if (
          !contentLengthPattern.test(value) ||
          (contentLength !== -1 && Number(value) !== contentLength)
        )
          return new UpstreamProtocolError('invalid upstream Content-Length');
        contentLength = Number(value);
        headers.push(name, value);
        break;
      case HeaderKind.TransferEncoding:
        transferEncoding = true;
        // The last coding decides whether the body is chunked (RFC 9112 §6.3).
        chunked = /(?:^|,)\s*chunked\s*$/i.test(value);
        break;
      case HeaderKind.Connection:
        if (equalsIgnoreCase(value, 'close')) close = true;
        else if (equalsIgnoreCase(value, 'keep-alive')) close = minor === 0 ? false : close;
        else {
          drop ??= [];
          if (/(?:^|,)\s*close\s*(?:,|$)/i.test(value)) close = true;
          connectionTokens(value, drop);
        }
        break;
      case HeaderKind.HopByHop:
        if (name.length === 10) {
          const hint = keepAliveTimeout.exec(value);
          if (hint !== null) keepAliveHintMs = Number(hint[1]) * 1000;
        }
        break;
      default:
        headers.push(name, value);
    }
  }
  if (drop !== null && drop.length > 0) removeNamed(headers, drop);
  let framing: BodyFraming;
  if (method === 'HEAD' || statusCode < 200 || statusCode === 204 || statusCode === 304) {
    framing = BodyFraming.None;
  } else if (transferEncoding) {
    // Transfer-Encoding overrides Content-Length; an unchunked coding runs until close.
    if (contentLength !== -1) {
      removeNamed(headers, ['content-length']);
      close = true;
    }
    framing = chunked ? BodyFraming.Chunked : BodyFraming.UntilClose;
  } else {
    framing = contentLength === -1 ? BodyFraming.UntilClose : BodyFraming.Length;
  }
  return {
    statusCode,
    headers,
    framing,
    contentLength: contentLength === -1 ? 0 : contentLength,
    keepAlive: !close && framing !== BodyFraming.UntilClose,
    keepAliveHintMs,
  };
}
