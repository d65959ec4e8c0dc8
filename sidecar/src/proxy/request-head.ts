/**
 * Parsing of an HTTP/1.1 request head (RFC 9112 §2–§6), pure: text in, a `RequestHead` or the
 * `ProxyError` to answer with out. Strict where a lenient reading could let two parties frame
 * the same bytes differently (request smuggling): bare LF, obs-fold, control characters, space
 * before the colon, several or conflicting Content-Length/Transfer-Encoding/Host lines,
 * Transfer-Encoding on HTTP/1.0 and codings other than plain `chunked` are all refused (the cases are in
 * `sidecar/test/corpus/`). The socket adapter (`client-connection.ts`) finds the end of the head
 * and enforces the size limit; this module only reads a complete head.
 */
import { BadRequest, VersionNotSupported, type ProxyError } from './errors.js';
import { HeaderKind, classifyHeader, equalsIgnoreCase } from './headers.js';

/** A parsed request head. */
export interface RequestHead {
  /** Method as sent (a token; methods are case-sensitive). */
  readonly method: string;
  /** Request target as sent (visible ASCII only). */
  readonly target: string;
  /** 0 for HTTP/1.0, 1 for HTTP/1.1 (and later 1.x, read as 1.1). */
  readonly versionMinor: number;
  /** Flat `[name, value, …]` list, case preserved, values without surrounding whitespace. */
  readonly rawHeaders: string[];
  /** Body framing: 0 none, -1 chunked, else the Content-Length. */
  readonly bodyLength: number;
  /** Whether the client wants the connection kept after this exchange. */
  readonly keepAlive: boolean;
  /** `Connection: upgrade` with an `Upgrade` header: the client asks for a protocol switch. */
  readonly upgrade: boolean;
  /** `Expect: 100-continue`: the client waits for an interim answer before the body. */
  readonly expectContinue: boolean;
}

/** tchar (RFC 9110 §5.6.2): the bytes allowed in methods and header names. */
const tchar = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~") tchar[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) tchar[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) tchar[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) tchar[c] = 1;

/**
 * A byte a head may never contain (controls other than HTAB, DEL), or a CR/LF that is not part
 * of a CRLF pair: one native scan of the whole head instead of a check per character.
 */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const forbiddenInHead = /[\0-\x08\x0b\x0c\x0e-\x1f\x7f]|\r(?!\n)|(?<!\r)\n/;
const forbiddenInHeadFrom = new RegExp(forbiddenInHead.source, 'g');
const contentLengthPattern = /^[0-9]{1,15}$/;
/** Longer methods are refused (the longest registered one, `UPDATEREDIRECTREF`, has 17). */
const maxMethodLength = 32;

/** True when `c` is a space or horizontal tab. */
function isOws(c: number): boolean {
  return c === 0x20 || c === 0x09;
}

/**
 * Parses a complete head: `text` is its bytes as latin1, from the request line through the
 * empty line (`\r\n\r\n` included), without leading empty lines.
 */
export function parseRequestHead(text: string): RequestHead | ProxyError {
  if (forbiddenInHead.test(text)) return new BadRequest('control character or bare CR/LF in head');
  const lineEnd = text.indexOf('\r\n');
  const sp1 = text.indexOf(' ');
  const sp2 = sp1 === -1 ? -1 : text.indexOf(' ', sp1 + 1);
  if (sp1 <= 0 || sp2 === -1 || sp2 > lineEnd || sp2 === sp1 + 1)
    return new BadRequest('malformed request line');
  if (sp1 > maxMethodLength) return new BadRequest('method too long');
  for (let i = 0; i < sp1; i++)
    if (tchar[text.charCodeAt(i)] !== 1) return new BadRequest('invalid method');
  for (let i = sp1 + 1; i < sp2; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x21 || c > 0x7e) return new BadRequest('invalid request target');
  }
  const versionMinor = parseVersion(text, sp2 + 1, lineEnd);
  if (typeof versionMinor !== 'number') return versionMinor;

  const rawHeaders: string[] = [];
  let hostCount = 0;
  let contentLengthCount = 0;
  let contentLength = 0;
  let transferEncoding: string | null = null;
  let transferEncodingCount = 0;
  let close = false;
  let keepAliveToken = false;
  let upgradeToken = false;
  let upgradeHeader = false;
  let expectContinue = false;
  let pos = lineEnd + 2;
  for (;;) {
    const end = text.indexOf('\r\n', pos);
    if (end === pos) break; // the empty line ends the head
    if (isOws(text.charCodeAt(pos))) return new BadRequest('obsolete line folding');
    let colon = pos;
    while (colon < end && tchar[text.charCodeAt(colon)] === 1) colon++;
    if (colon === pos || text.charCodeAt(colon) !== 0x3a /* : */)
      return new BadRequest('invalid header name');
    let valueStart = colon + 1;
    let valueEnd = end;
    while (valueStart < valueEnd && isOws(text.charCodeAt(valueStart))) valueStart++;
    while (valueEnd > valueStart && isOws(text.charCodeAt(valueEnd - 1))) valueEnd--;
    const name = text.slice(pos, colon);
    const value = text.slice(valueStart, valueEnd);
    rawHeaders.push(name, value);
    pos = end + 2;
    switch (classifyHeader(name)) {
      case HeaderKind.Host:
        hostCount++;
        break;
      case HeaderKind.ContentLength:
        contentLengthCount++;
        if (!contentLengthPattern.test(value)) return new BadRequest('invalid Content-Length');
        contentLength = Number(value);
        break;
      case HeaderKind.TransferEncoding:
        transferEncodingCount++;
        transferEncoding = value;
        break;
      case HeaderKind.Connection:
        if (equalsIgnoreCase(value, 'keep-alive')) keepAliveToken = true;
        else if (equalsIgnoreCase(value, 'close')) close = true;
        else {
          for (const part of value.split(',')) {
            const token = part.trim().toLowerCase();
            if (token === 'close') close = true;
            else if (token === 'keep-alive') keepAliveToken = true;
            else if (token === 'upgrade') upgradeToken = true;
          }
        }
        break;
      case HeaderKind.Expect:
        if (equalsIgnoreCase(value, '100-continue')) expectContinue = true;
        break;
      case HeaderKind.HopByHop:
        if (equalsIgnoreCase(name, 'upgrade') && value !== '') upgradeHeader = true;
        break;
      default:
        break;
    }
  }

  let bodyLength = contentLength;
  if (transferEncodingCount > 0) {
    if (contentLengthCount > 0) return new BadRequest('Content-Length with Transfer-Encoding');
    if (transferEncodingCount > 1) return new BadRequest('more than one Transfer-Encoding header');
    if (versionMinor === 0) return new BadRequest('Transfer-Encoding in an HTTP/1.0 request');
    if (!equalsIgnoreCase(transferEncoding as string, 'chunked'))
      return new BadRequest('Transfer-Encoding other than chunked');
    bodyLength = -1;
  } else if (contentLengthCount > 1) {
    return new BadRequest('more than one Content-Length header');
  }
  // RFC 9112 §3.2: exactly one Host in HTTP/1.1; never several (which one would the app see?).
  if (hostCount > 1) return new BadRequest('more than one Host header');
  if (versionMinor === 1 && hostCount === 0) return new BadRequest('HTTP/1.1 request without Host');
  return {
    method: text.slice(0, sp1),
    target: text.slice(sp1 + 1, sp2),
    versionMinor,
    rawHeaders,
    bodyLength,
    keepAlive: versionMinor === 1 ? !close : keepAliveToken && !close,
    upgrade: upgradeToken && upgradeHeader,
    expectContinue,
  };
}

/**
 * Checks a head that is not complete yet, so that garbage (a TLS hello, binary, bare LF line
 * endings) is refused at once instead of after the head timeout. `text` is what arrived so far,
 * as latin1; `from` is how much of it an earlier call already checked, so that a client sending
 * its head a byte at a time costs linear, not quadratic, work.
 */
export function partialHeadError(text: string, from: number): ProxyError | null {
  // A CR at the very end may be the first half of a CRLF still on its way.
  const settled = text.endsWith('\r') ? text.slice(0, -1) : text;
  // The lookbehind sees the bytes before `lastIndex`, so a CRLF split across calls is whole.
  forbiddenInHeadFrom.lastIndex = Math.max(0, from - 1);
  if (forbiddenInHeadFrom.test(settled))
    return new BadRequest('control character or bare CR/LF in head');
  if (from > maxMethodLength) return null; // the method was checked whole already
  const space = text.indexOf(' ');
  const methodEnd = space === -1 ? text.length : space;
  if (methodEnd > maxMethodLength) return new BadRequest('method too long');
  for (let i = 0; i < methodEnd; i++)
    if (tchar[text.charCodeAt(i)] !== 1) return new BadRequest('invalid method');
  return null;
}

/** `HTTP/1.x` → x clamped to 0/1; another major version → 505; anything else → 400. */
function parseVersion(text: string, start: number, end: number): number | ProxyError {
  if (end - start !== 8 || !text.startsWith('HTTP/', start) || text.charCodeAt(start + 6) !== 0x2e)
    return new BadRequest('malformed HTTP version');
  const major = text.charCodeAt(start + 5) - 0x30;
  const minor = text.charCodeAt(start + 7) - 0x30;
  if (major < 0 || major > 9 || minor < 0 || minor > 9)
    return new BadRequest('malformed HTTP version');
  if (major !== 1) return new VersionNotSupported('only HTTP/1.0 and HTTP/1.1 are relayed');
  return minor === 0 ? 0 : 1;
}
