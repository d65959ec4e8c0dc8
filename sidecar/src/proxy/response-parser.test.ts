import { describe, expect, it } from '@jest/globals';
import { ProxyError, UpstreamProtocolError } from './errors.js';
import { BodyFraming, parseResponseHead, type ResponseHead } from './response-parser.js';

function parsed(text: string, method = 'GET'): ResponseHead {
  const head = parseResponseHead(text, method);
  if (head instanceof ProxyError) throw new Error(`unexpected ${head.message}`);
  return head;
}

describe('parseResponseHead', () => {
  it('reads status, headers for the client and a Content-Length body', () => {
    const head = parsed(
      'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 12\r\nDate: x\r\n\r\n',
    );
    expect(head).toEqual({
      statusCode: 200,
      headers: ['Content-Type', 'text/plain', 'Content-Length', '12', 'Date', 'x'],
      framing: BodyFraming.Length,
      contentLength: 12,
      keepAlive: true,
      keepAliveHintMs: -1,
    });
  });

  it('drops hop-by-hop headers and the names Connection lists; reads the keep-alive hint', () => {
    const head = parsed(
      'HTTP/1.1 200 OK\r\nConnection: keep-alive, X-Private\r\nKeep-Alive: timeout=5\r\n' +
        'X-Private: 1\r\nProxy-Authenticate: Basic\r\nTransfer-Encoding: chunked\r\nX-Keep: 2\r\n\r\n',
    );
    expect(head.headers).toEqual(['X-Keep', '2']);
    expect(head.framing).toBe(BodyFraming.Chunked);
    expect(head.keepAlive).toBe(true);
    expect(head.keepAliveHintMs).toBe(5000);
  });

  it('knows answers without a body, close-delimited ones, and when the connection ends', () => {
    expect(parsed('HTTP/1.1 204 No Content\r\n\r\n').framing).toBe(BodyFraming.None);
    expect(parsed('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n', 'HEAD').framing).toBe(
      BodyFraming.None,
    );
    expect(parsed('HTTP/1.1 100 Continue\r\n\r\n').statusCode).toBe(100);
    const untilClose = parsed('HTTP/1.0 200 OK\r\n\r\n');
    expect(untilClose.framing).toBe(BodyFraming.UntilClose);
    expect(untilClose.keepAlive).toBe(false);
    expect(
      parsed('HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n').keepAlive,
    ).toBe(false);
    expect(
      parsed('HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n').keepAlive,
    ).toBe(true);
  });

  it('takes a status line without reason, and trims header values as before', () => {
    const head = parsed('HTTP/1.1 404\r\nX-A: \t spaced \u00a0\r\nX-B:\r\nX-C:v\r\n\r\n');
    expect(head.statusCode).toBe(404);
    expect(head.headers).toEqual(['X-A', 'spaced', 'X-B', '', 'X-C', 'v']);
  });

  it('lets Transfer-Encoding win over Content-Length, and closes after such an answer', () => {
    const head = parsed(
      'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: gzip, chunked\r\n\r\n',
    );
    expect(head.framing).toBe(BodyFraming.Chunked);
    expect(head.headers).toEqual([]);
    expect(head.keepAlive).toBe(false);
  });

  it.each([
    ['a malformed status line', 'HTTP/1.1 2000 OK\r\n\r\n'],
    ['a status code starting with 0', 'HTTP/1.1 099 Odd\r\n\r\n'],
    ['a status line cut short', 'HTTP/1.1 20\r\n\r\n'],
    ['no space before the reason', 'HTTP/1.1 200OK\r\n\r\n'],
    ['a bare LF in the reason', 'HTTP/1.1 200 O\nK\r\n\r\n'],
    ['HTTP/1.2', 'HTTP/1.2 200 OK\r\n\r\n'],
    ['another version', 'HTTP/2 200 OK\r\n\r\n'],
    ['a header without colon', 'HTTP/1.1 200 OK\r\nX-A\r\n\r\n'],
    [
      'conflicting Content-Length',
      'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n',
    ],
    ['a non-numeric Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n'],
  ])('refuses %s (502)', (_name, text) => {
    expect(parseResponseHead(text, 'GET')).toBeInstanceOf(UpstreamProtocolError);
  });
});
