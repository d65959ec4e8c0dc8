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

/**
 * The status code of a valid `HTTP/1.x NNN[ reason]` line (`text[0, lineEnd)`; x is 0 or 1, the
 * reason without CR or LF), or -1. Read char by char: a regex match allocates its captures and
 * the line's slice for every proxied answer.
 */
function statusCodeOf(text: string, lineEnd: number): number {
  if (lineEnd < 12 || !text.startsWith('HTTP/1.')) return -1;
  const minor = text.charCodeAt(7);
  if ((minor !== 0x30 && minor !== 0x31) || text.charCodeAt(8) !== 0x20) return -1;
  const hundreds = text.charCodeAt(9) - 0x30;
  const tens = text.charCodeAt(10) - 0x30;
  const units = text.charCodeAt(11) - 0x30;
  if (!(hundreds >= 1 && hundreds <= 9 && tens >= 0 && tens <= 9 && units >= 0 && units <= 9))
    return -1;
  if (lineEnd > 12) {
    if (text.charCodeAt(12) !== 0x20) return -1;
    for (let i = 13; i < lineEnd; i++) {
      const c = text.charCodeAt(i);
      if (c === 0x0d || c === 0x0a) return -1;
    }
  }
  return hundreds * 100 + tens * 10 + units;
}

/** What `String.prototype.trim` removes, among latin1 characters. */
function isTrimmed(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d) || c === 0xa0;
}
const contentLengthPattern = /^[0-9]{1,15}$/;
const keepAliveTimeout = /timeout=([0-9]{1,6})/i;

/** Parses a complete response head (`\r\n\r\n` included) read as latin1, answering `method`. */
export function parseResponseHead(
  text: string,
  method: string,
): ResponseHead | UpstreamProtocolError {
  const lineEnd = text.indexOf('\r\n');
  const statusCode = statusCodeOf(text, lineEnd);
  if (statusCode === -1) return new UpstreamProtocolError('invalid upstream status line');
  const minor = text.charCodeAt(7) - 0x30;
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
    let from = colon + 1;
    let to = end;
    while (from < to && isTrimmed(text.charCodeAt(from))) from++;
    while (to > from && isTrimmed(text.charCodeAt(to - 1))) to--;
    const value = text.slice(from, to);
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
