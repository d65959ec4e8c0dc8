import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { MAX_RESPONSE_BYTES, createHttpCaller } from './http-caller.js';
import type { RenderedRequest } from './decisions.js';

/** A real service: answers by path; records what it received. */
const received: { method?: string; headers: http.IncomingHttpHeaders; body: string }[] = [];
const server = http.createServer((req, res) => {
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (c: string) => (body += c));
  req.on('end', () => {
    received.push({ method: req.method, headers: req.headers, body });
    switch (req.url) {
      case '/json?x=1':
        res.writeHead(201, { 'content-type': 'application/json' }).end('{"id":"r-1"}');
        return;
      case '/text':
        res.writeHead(503, { 'content-type': 'text/plain' }).end('busy');
        return;
      case '/large':
        res.writeHead(200).end('x'.repeat(MAX_RESPONSE_BYTES + 1));
        return;
      case '/reset':
        req.socket.destroy();
        return;
      case '/silent':
        return; // never answers
      default:
        res.writeHead(204).end();
    }
  });
});
let base = '';
const caller = createHttpCaller();

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await caller.close();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const request = (path: string, extra: Partial<RenderedRequest> = {}): RenderedRequest => ({
  method: 'POST',
  url: `${base}${path}`,
  headers: { 'idempotency-key': 'i-1-reserve', 'content-type': 'application/json' },
  body: '{"items":[1]}',
  timeoutMs: 2000,
  ...extra,
});

describe('createHttpCaller', () => {
  it('sends method, path, query, headers and body; parses a JSON answer', async () => {
    expect(await caller.call(request('/json?x=1'))).toEqual({
      kind: 'response',
      status: 201,
      body: { id: 'r-1' },
    });
    const seen = received.at(-1);
    expect(seen?.method).toBe('POST');
    expect(seen?.headers['idempotency-key']).toBe('i-1-reserve');
    expect(seen?.body).toBe('{"items":[1]}');
  });

  it('keeps a non-JSON answer as text, and an empty one without a body', async () => {
    expect(await caller.call(request('/text'))).toEqual({
      kind: 'response',
      status: 503,
      body: 'busy',
    });
    expect(await caller.call(request('/empty', { method: 'DELETE', body: undefined }))).toEqual({
      kind: 'response',
      status: 204,
    });
  });

  it('drops a body larger than MAX_RESPONSE_BYTES but keeps the status', async () => {
    expect(await caller.call(request('/large'))).toEqual({ kind: 'response', status: 200 });
  });

  it('a timeout may have taken effect (uncertain); the next call on the agent still works', async () => {
    const started = performance.now();
    expect(await caller.call(request('/silent', { timeoutMs: 150 }))).toEqual({
      kind: 'error',
      uncertain: true,
      message: 'no answer within 150 ms',
    });
    expect(performance.now() - started).toBeGreaterThanOrEqual(140);
    expect(await caller.call(request('/empty'))).toEqual({ kind: 'response', status: 204 });
  });

  it('a reset after sending is uncertain; a refused connection is certain to have done nothing', async () => {
    const reset = await caller.call(request('/reset'));
    expect(reset).toMatchObject({ kind: 'error', uncertain: true });
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const refused = await caller.call(request('/', { url: `http://127.0.0.1:${port}/` }));
    expect(refused).toMatchObject({ kind: 'error', uncertain: false });
    expect(refused.kind === 'error' && refused.message).toMatch(/^ECONNREFUSED/);
    expect(await caller.call(request('/', { url: 'not a url' }))).toMatchObject({
      kind: 'error',
      uncertain: false,
    });
  });

  it('close waits for calls in flight, which still time out', async () => {
    const own = createHttpCaller();
    const pending = own.call(request('/silent', { timeoutMs: 200 }));
    await new Promise((resolve) => setImmediate(resolve));
    await own.close();
    expect(await pending).toEqual({
      kind: 'error',
      uncertain: true,
      message: 'no answer within 200 ms',
    });
  });
});
