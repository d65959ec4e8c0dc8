import { describe, expect, it } from '@jest/globals';
import {
  Framing,
  hasContentLength,
  httpDate,
  responseHasBody,
  responseHead,
} from './response-head.js';

/** The head as text, or null. */
function head(...args: Parameters<typeof responseHead>): string | null {
  return responseHead(...args)?.toString('latin1') ?? null;
}

describe('responseHead', () => {
  it('writes the status line, the headers as given, then framing and connection lines', () => {
    expect(
      head(200, ['Content-Type', 'text/plain', 'x-a', '1'], Framing.Chunked, 'close', null),
    ).toBe(
      'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nx-a: 1\r\n' +
        'transfer-encoding: chunked\r\nconnection: close\r\n\r\n',
    );
  });

  it('adds a Date only when asked (proxied answers keep the upstream one)', () => {
    const now = Date.UTC(2026, 11, 7, 3, 4, 5);
    expect(head(404, [], Framing.AsIs, null, httpDate(now))).toBe(
      'HTTP/1.1 404 Not Found\r\ndate: Mon, 07 Dec 2026 03:04:05 GMT\r\n\r\n',
    );
    expect(head(599, [], Framing.AsIs, 'keep-alive', null)).toBe(
      'HTTP/1.1 599 Unknown\r\nconnection: keep-alive\r\n\r\n',
    );
  });

  it('refuses headers that could split the head', () => {
    expect(head(200, ['x-a', 'v\r\nx-b: injected'], Framing.AsIs, null, null)).toBeNull();
    expect(head(200, ['x a', 'v'], Framing.AsIs, null, null)).toBeNull();
    expect(head(200, ['x-a', 'nul\0'], Framing.AsIs, null, null)).toBeNull();
    expect(head(200, ['', 'v'], Framing.AsIs, null, null)).toBeNull();
    expect(head(200, ['x-\u00e9', 'v'], Framing.AsIs, null, null)).toBeNull();
    expect(head(200, ['x-a', 'latin1 caf\u00e9'], Framing.AsIs, null, null)).toBe(
      'HTTP/1.1 200 OK\r\nx-a: latin1 caf\u00e9\r\n\r\n',
    );
  });
});

describe('framing helpers', () => {
  it('knows which answers have no body', () => {
    expect(responseHasBody('GET', 200)).toBe(true);
    expect(responseHasBody('HEAD', 200)).toBe(false);
    expect(responseHasBody('GET', 204)).toBe(false);
    expect(responseHasBody('GET', 304)).toBe(false);
  });

  it('finds Content-Length in any case', () => {
    expect(hasContentLength(['x', '1', 'CONTENT-LENGTH', '0'])).toBe(true);
    expect(hasContentLength(['content-type', 'x'])).toBe(false);
  });
});
