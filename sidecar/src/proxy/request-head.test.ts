import { describe, expect, it } from '@jest/globals';
import { BadRequest, ProxyError, VersionNotSupported } from './errors.js';
import { parseRequestHead, partialHeadError, type RequestHead } from './request-head.js';

function parsed(text: string): RequestHead {
  const head = parseRequestHead(text);
  if (head instanceof ProxyError) throw new Error(`unexpected ${head.message}`);
  return head;
}

function refused(text: string): ProxyError {
  const head = parseRequestHead(text);
  if (!(head instanceof ProxyError)) throw new Error('expected a refusal');
  return head;
}

describe('parseRequestHead', () => {
  it('reads the request line and headers, trimming optional whitespace, keeping case', () => {
    const head = parsed(
      'POST /a?b=1 HTTP/1.1\r\nHost: x\r\nX-Thing:  v 1 \t\r\nContent-Length: 5\r\n\r\n',
    );
    expect(head).toEqual({
      method: 'POST',
      target: '/a?b=1',
      versionMinor: 1,
      rawHeaders: ['Host', 'x', 'X-Thing', 'v 1', 'Content-Length', '5'],
      bodyLength: 5,
      keepAlive: true,
      upgrade: false,
      expectContinue: false,
    });
  });

  it('derives keep-alive from the version and Connection tokens', () => {
    expect(parsed('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n').keepAlive).toBe(false);
    expect(parsed('GET / HTTP/1.0\r\n\r\n').keepAlive).toBe(false);
    expect(parsed('GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n').keepAlive).toBe(true);
    expect(parsed('GET / HTTP/1.1\r\nHost: x\r\nConnection: x-a, close\r\n\r\n').keepAlive).toBe(
      false,
    );
  });

  it('flags upgrades only with both Connection: upgrade and an Upgrade header', () => {
    const both = 'GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n';
    expect(parsed(both).upgrade).toBe(true);
    expect(parsed('GET / HTTP/1.1\r\nHost: x\r\nUpgrade: h2c\r\n\r\n').upgrade).toBe(false);
  });

  it('reads chunked framing and Expect: 100-continue', () => {
    const head = parsed(
      'PUT / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\nExpect: 100-continue\r\n\r\n',
    );
    expect(head.bodyLength).toBe(-1);
    expect(head.expectContinue).toBe(true);
  });

  it('reads HTTP/1.2 as 1.1 and refuses other major versions with 505', () => {
    expect(parsed('GET / HTTP/1.2\r\nHost: x\r\n\r\n').versionMinor).toBe(1);
    expect(refused('GET / HTTP/2.0\r\nHost: x\r\n\r\n')).toBeInstanceOf(VersionNotSupported);
    expect(refused('GET / HTTP/0.9\r\n\r\n')).toBeInstanceOf(VersionNotSupported);
  });

  it.each([
    [
      'CL with TE',
      'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n',
    ],
    [
      'two TE lines',
      'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n',
    ],
    ['TE on HTTP/1.0', 'POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n'],
    [
      'a coding other than chunked',
      'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n',
    ],
    [
      'two CL lines',
      'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n',
    ],
    ['a CL list', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1, 1\r\n\r\n'],
    ['a negative CL', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n'],
    [
      'a CL past 15 digits',
      'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1234567890123456\r\n\r\n',
    ],
    ['obs-fold', 'GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n 2\r\n\r\n'],
    ['space before the colon', 'GET / HTTP/1.1\r\nHost: x\r\nX-A : 1\r\n\r\n'],
    ['a NUL in a value', 'GET / HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n'],
    ['a vertical tab in a value', 'GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x0bb\r\n\r\n'],
    ['a bare LF', 'GET / HTTP/1.1\r\nHost: x\nX-A: 1\r\n\r\n'],
    ['a bare CR', 'GET / HTTP/1.1\r\nHost: x\rX-A: 1\r\n\r\n'],
    ['a space in the target', 'GET /a b HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['a non-token method', 'GE(T / HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['a method longer than 32', `${'A'.repeat(33)} / HTTP/1.1\r\nHost: x\r\n\r\n`],
    ['a missing target', 'GET  HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['a malformed version', 'GET / HTTP/1\r\nHost: x\r\n\r\n'],
    ['two Host lines', 'GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n'],
    ['HTTP/1.1 without Host', 'GET / HTTP/1.1\r\nX-A: 1\r\n\r\n'],
    ['an empty header name', 'GET / HTTP/1.1\r\nHost: x\r\n: v\r\n\r\n'],
  ])('refuses %s with 400', (_name, text) => {
    expect(refused(text)).toBeInstanceOf(BadRequest);
  });
});

describe('partialHeadError', () => {
  it('lets a plausible start through, a CR at the end included', () => {
    expect(partialHeadError('GET / HTTP/1.1\r\nHost: a\r', 0)).toBeNull();
    expect(partialHeadError('PO', 0)).toBeNull();
  });

  it('refuses garbage, bare LF, long and non-token methods before the head is complete', () => {
    expect(partialHeadError('\x16\x03\x01\x02', 0)).toBeInstanceOf(BadRequest);
    expect(partialHeadError('GET / HTTP/1.1\nHost: a', 0)).toBeInstanceOf(BadRequest);
    expect(partialHeadError('G{ET /', 0)).toBeInstanceOf(BadRequest);
    expect(partialHeadError('A'.repeat(33), 0)).toBeInstanceOf(BadRequest);
  });

  it('checks only what is new, yet sees a CRLF or bare LF split across calls', () => {
    // CR checked at the end of the first part, its LF arrives next: fine.
    expect(partialHeadError('GET / HTTP/1.1\r\nHost', 15)).toBeNull();
    // A bare LF right where the new bytes start.
    expect(partialHeadError('GET / HTTP/1.1\r\nHost: a\nX', 24)).toBeInstanceOf(BadRequest);
    // Old bytes are not re-checked (the method was validated before).
    expect(partialHeadError('GET / HTTP/1.1\r\nHost: a', 40)).toBeNull();
  });
});
