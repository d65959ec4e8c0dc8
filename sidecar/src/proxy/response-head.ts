/**
 * Writing of an HTTP/1.1 response head, pure: status, a flat header list and the framing the
 * connection chose, out as one buffer (copied with a small body into one write, see
 * `client-connection.ts`), written byte by byte without intermediate strings (`head-bytes.ts`).
 * Names that are not tokens and values that could split the head (CR, LF, NUL) are refused, so a
 * header a filter or an upstream produced can never inject a line.
 */
import { STATUS_CODES } from 'node:http';
import { headerLinesLength, putCheckedHeaderLines, putLatin1 } from './head-bytes.js';
import { equalsIgnoreCase } from './headers.js';

/** How the body after a head is delimited. */
export enum Framing {
  /** No body follows (HEAD, 1xx/204/304, or a Content-Length already in the headers). */
  AsIs,
  /** `transfer-encoding: chunked` is added and the body is chunk-encoded. */
  Chunked,
  /** The body ends when the connection closes (HTTP/1.0 client, unknown length). */
  Close,
}

/** Status lines by code, built on first use (an answer's status repeats). */
const statusLines: string[] = [];

function statusLine(statusCode: number): string {
  return (statusLines[statusCode] ??=
    `HTTP/1.1 ${statusCode} ${STATUS_CODES[statusCode] ?? 'Unknown'}\r\n`);
}

/** Whether a response to `method` with `statusCode` carries a body at all (RFC 9112 §6.3). */
export function responseHasBody(method: string, statusCode: number): boolean {
  return method !== 'HEAD' && statusCode >= 200 && statusCode !== 204 && statusCode !== 304;
}

/** Whether the flat list holds a Content-Length. */
export function hasContentLength(headers: readonly string[]): boolean {
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i] as string;
    if (name.length === 14 && equalsIgnoreCase(name, 'content-length')) return true;
  }
  return false;
}

/**
 * The head for `statusCode` and `headers` (flat `[name, value, …]`), plus the framing and
 * connection lines. Null when a header cannot be written (invalid name, CR/LF/NUL in a value).
 */
export function responseHead(
  statusCode: number,
  headers: readonly string[],
  framing: Framing,
  connection: 'close' | 'keep-alive' | null,
  date: string | null,
): Buffer | null {
  const status = statusLine(statusCode);
  const dateLine = date === null ? '' : `date: ${date}\r\n`;
  const framingLine = framing === Framing.Chunked ? 'transfer-encoding: chunked\r\n' : '';
  const connectionLine =
    connection === null
      ? ''
      : connection === 'close'
        ? 'connection: close\r\n'
        : 'connection: keep-alive\r\n';
  const out = Buffer.allocUnsafe(
    status.length +
      headerLinesLength(headers) +
      dateLine.length +
      framingLine.length +
      connectionLine.length +
      2,
  );
  let at = putCheckedHeaderLines(out, putLatin1(out, 0, status), headers);
  if (at === -1) return null;
  at = putLatin1(out, at, dateLine);
  at = putLatin1(out, at, framingLine);
  at = putLatin1(out, at, connectionLine);
  out[at++] = 0x0d;
  out[at] = 0x0a;
  return out;
}

let dateSecond = -1;
let dateText = '';

/** The `Date` value for answers the proxy makes itself, formatted at most once per second. */
export function httpDate(nowMs: number): string {
  const second = Math.floor(nowMs / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateText = new Date(second * 1000).toUTCString();
  }
  return dateText;
}
