import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import net from 'node:net';
import { Readable } from 'node:stream';
import v8 from 'node:v8';
import vm from 'node:vm';
import { Client, Pool } from 'undici';
import {
  InboundServer,
  Pipeline,
  compileRoutes,
  localResponse,
  PolicyRefusal,
  UpstreamTimeout,
  type Filter,
  type ExchangeOutcome,
} from '../src/proxy/index.js';
import { startEchoServer, type EchoReply, type EchoServer } from './support/echo-server.js';
import { openSocket, rawExchange, readHead, readUntilClose } from './support/http-raw.js';

const ok = 'GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n';

v8.setFlagsFromString('--expose-gc');
/** V8's `gc()`, from a fresh context (the flag set at run time applies to new contexts). */
const collectGarbage = vm.runInNewContext('gc') as () => void;

let echo: EchoServer;
let proxy: InboundServer;
let port: number;
const clients: Client[] = [];

function client(): Client {
  const c = new Client(`http://127.0.0.1:${port}`, { pipelining: 1 });
  clients.push(c);
  return c;
}

function headerValues(raw: readonly string[], name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2)
    if (raw[i]?.toLowerCase() === name) out.push(raw[i + 1] as string);
  return out;
}

beforeAll(async () => {
  echo = await startEchoServer();
  proxy = new InboundServer({
    host: '127.0.0.1',
    app: { host: '127.0.0.1', port: echo.port },
    maxBodyBytes: 512 * 1024 * 1024,
    maxHeaderSize: 8 * 1024,
    upstream: { headersTimeoutMs: 500 },
  });
  port = await proxy.listen();
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

afterAll(async () => {
  await proxy.shutdown(1_000);
  await echo.stop();
});

describe('inbound proxying', () => {
  test('forwards method, path, headers and body; reuses one upstream connection', async () => {
    const c = client();
    const before = echo.connections();
    for (let i = 0; i < 20; i++) {
      const res = await c.request({
        path: `/items/${i}?q=1`,
        method: 'POST',
        body: `payload-${i}`,
      });
      expect(res.statusCode).toBe(200);
      const reply = (await res.body.json()) as EchoReply;
      expect(reply.method).toBe('POST');
      expect(reply.path).toBe(`/items/${i}?q=1`);
      expect(reply.body).toBe(`payload-${i}`);
    }
    expect(echo.connections() - before).toBe(1);
  });

  test('strips hop-by-hop headers both ways and keeps end-to-end ones', async () => {
    const reply = await rawExchange(
      port,
      'GET /hop HTTP/1.1\r\nHost: a\r\nConnection: close, X-Drop-Me\r\nX-Drop-Me: 1\r\n' +
        'Keep-Alive: timeout=5\r\nProxy-Authorization: Basic Zm9v\r\nProxy-Connection: keep-alive\r\n' +
        'TE: trailers\r\nUpgrade: h2c\r\nX-Keep-Me: yes\r\n\r\n',
    );
    expect(reply.status).toBe(200);
    const [head, body] = reply.text.split('\r\n\r\n') as [string, string];
    const echoed = JSON.parse(body) as EchoReply;
    const names = echoed.rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
    for (const hop of [
      'x-drop-me',
      'keep-alive',
      'proxy-authorization',
      'proxy-connection',
      'te',
      'upgrade',
    ]) {
      expect(names).not.toContain(hop);
    }
    expect(headerValues(echoed.rawHeaders, 'x-keep-me')).toEqual(['yes']);
    // The echo server answers with `connection: keep-alive, x-echo-private` and Proxy-Authenticate.
    const responseNames = head
      .split('\r\n')
      .slice(1)
      .map((line) => line.split(':')[0]?.toLowerCase());
    expect(responseNames).not.toContain('x-echo-private');
    expect(responseNames).not.toContain('proxy-authenticate');
    expect(responseNames).toContain('content-type');
  });

  test('a small body sent after the head (separate segments) is collected and forwarded whole', async () => {
    const socket = await openSocket(port);
    const reply = readUntilClose(socket);
    await new Promise<void>((resolve) =>
      socket.write(
        'POST /late HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\nConnection: close\r\n\r\n',
        () => resolve(),
      ),
    );
    await new Promise<void>((resolve) => socket.write('hello', () => resolve()));
    socket.write(' world');
    const { status, text } = await reply;
    expect(status).toBe(200);
    expect(text).toContain('"body":"hello world"');
  });

  test('a head that arrives a byte at a time is read whole', async () => {
    const socket = await openSocket(port);
    const reply = readUntilClose(socket);
    const head = 'GET /bytes HTTP/1.1\r\nHost: a\r\nX-Slow: 1\r\nConnection: close\r\n\r\n';
    for (const byte of head) {
      await new Promise<void>((resolve) => socket.write(byte, () => resolve()));
      await new Promise((resolve) => setImmediate(resolve));
    }
    const { status, text } = await reply;
    expect(status).toBe(200);
    expect(text).toContain('"path":"/bytes"');
  });

  test('pipelined requests on one connection are answered in order, then the connection closes', async () => {
    const reply = await rawExchange(
      port,
      'GET /p1 HTTP/1.1\r\nHost: a\r\n\r\n' +
        'POST /p2 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc' +
        'GET /p3 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n',
    );
    const statuses = reply.text.match(/HTTP\/1\.1 \d{3}/g);
    expect(statuses).toEqual(['HTTP/1.1 200', 'HTTP/1.1 200', 'HTTP/1.1 200']);
    const paths = [...reply.text.matchAll(/"path":"([^"]*)"/g)].map((m) => m[1]);
    expect(paths).toEqual(['/p1', '/p2', '/p3']);
    expect(reply.text).toContain('"body":"abc"');
    expect(reply.ending).toBe('end');
  });

  test('a chunked body is streamed up; an answer of unknown length goes back chunked', async () => {
    const reply = await rawExchange(
      port,
      'POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nX-Echo-Pipe: 1\r\n' +
        'Expect: 100-continue\r\nConnection: close\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\n\r\n',
    );
    // Expect: 100-continue gets its interim answer first.
    expect(reply.text.startsWith('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 ')).toBe(true);
    const [head, body] = reply.text
      .slice(reply.text.indexOf('HTTP/1.1 200'))
      .split('\r\n\r\n', 2) as [string, string];
    expect(head.toLowerCase()).toContain('transfer-encoding: chunked');
    const decoded = (body + reply.text.split('\r\n\r\n').slice(3).join('\r\n\r\n'))
      .split('\r\n')
      .filter((_, i) => i % 2 === 1)
      .join('');
    expect(decoded).toBe('hello world');
  });

  test('HEAD answers carry the length but no body', async () => {
    const reply = await rawExchange(
      port,
      'HEAD /h HTTP/1.1\r\nHost: a\r\nX-Echo-Size: 5000\r\n\r\n' +
        'GET /after HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n',
    );
    const [first, second] = reply.text.split(/(?=HTTP\/1\.1 )/);
    expect(first).toMatch(/^HTTP\/1\.1 200 /);
    expect(first?.toLowerCase()).toContain('content-length: 5000');
    expect(first?.endsWith('\r\n\r\n')).toBe(true);
    expect(second).toContain('"path":"/after"');
  });

  test('adds X-Forwarded-For/-Proto/-Host and Forwarded, extending what a trusted hop sent', async () => {
    const res = await client().request({
      path: '/fwd',
      method: 'GET',
      headers: {
        host: 'shop.example:8080',
        'x-forwarded-for': '203.0.113.7',
        forwarded: 'for=203.0.113.7',
      },
    });
    const reply = (await res.body.json()) as EchoReply;
    expect(headerValues(reply.rawHeaders, 'x-forwarded-for')).toEqual(['203.0.113.7, 127.0.0.1']);
    expect(headerValues(reply.rawHeaders, 'x-forwarded-proto')).toEqual(['http']);
    expect(headerValues(reply.rawHeaders, 'x-forwarded-host')).toEqual(['shop.example:8080']);
    expect(headerValues(reply.rawHeaders, 'forwarded')).toEqual([
      'for=203.0.113.7, for=127.0.0.1;host="shop.example:8080";proto=http',
    ]);
    expect(headerValues(reply.rawHeaders, 'host')).toEqual(['shop.example:8080']);
  });

  test('streams a 256 MiB body through and back without buffering it', async () => {
    const total = 256 * 1024 * 1024;
    const piece = Buffer.alloc(256 * 1024, 0x62);
    let produced = 0;
    const source = new Readable({
      read() {
        if (produced >= total) this.push(null);
        else {
          produced += piece.length;
          this.push(piece);
        }
      },
    });
    const baseline = process.memoryUsage().rss;
    let peak = baseline;
    const res = await client().request({
      path: '/upload',
      method: 'POST',
      headers: { 'x-echo-pipe': '1', 'content-length': String(total) },
      body: source,
    });
    let received = 0;
    let nextCollection = 16 * 1024 * 1024;
    for await (const chunk of res.body) {
      received += (chunk as Buffer).length;
      // Buffers already relayed are garbage that V8 frees when it gets around to it (after up
      // to 64 MiB of external memory when little JS garbage is made): collect every 16 MiB so
      // that RSS measures what is held, not how lazy the collector was.
      if (received >= nextCollection) {
        nextCollection += 16 * 1024 * 1024;
        collectGarbage();
      }
      peak = Math.max(peak, process.memoryUsage().rss);
    }
    expect(received).toBe(total);
    // Client, proxy and upstream share this process: all three together stay far below the body
    // size. (A fresh process grows by up to ~80 MB here whatever the body size — heap, code,
    // allocator arenas — so the body must be well above that for the bound to mean something.)
    expect(peak - baseline).toBeLessThan(128 * 1024 * 1024);
  }, 30_000);

  test('a client that stops reading holds back the upstream instead of filling memory', async () => {
    const socket = await openSocket(port);
    const total = 256 * 1024 * 1024;
    socket.write(
      `GET /big HTTP/1.1\r\nhost: a\r\nx-echo-size: ${total}\r\nconnection: close\r\n\r\n`,
    );
    const head = await readHead(socket);
    expect(head).toMatch(/^HTTP\/1\.1 200 /);
    socket.pause();
    const sentBefore = echo.streamedBytes();
    const rssBefore = process.memoryUsage().rss;
    // Give an unbounded proxy the chance to pull the whole body: 300 ms at loopback speed is >1 GB.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(64 * 1024 * 1024);
    expect(echo.streamedBytes() - sentBefore).toBeLessThan(32 * 1024 * 1024);
    socket.destroy();
  });
});

describe('bad input gets a clear answer', () => {
  let strict: InboundServer;
  let strictPort: number;

  beforeAll(async () => {
    strict = new InboundServer({
      host: '127.0.0.1',
      app: { host: '127.0.0.1', port: echo.port },
      maxBodyBytes: 1024,
      maxHeaderSize: 4 * 1024,
      headersTimeoutMs: 300,
      requestTimeoutMs: 600,
      timeoutCheckIntervalMs: 50,
    });
    strictPort = await strict.listen();
  });

  afterAll(() => strict.shutdown(1_000));

  const cases: [string, number, string][] = [
    [
      'Content-Length with Transfer-Encoding',
      400,
      'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    ],
    [
      'duplicate differing Content-Length',
      400,
      'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!',
    ],
    [
      'duplicate equal Content-Length',
      400,
      'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello',
    ],
    [
      'two Transfer-Encoding lines (Node accepts it)',
      400,
      'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    ],
    [
      'Transfer-Encoding on HTTP/1.0 (Node accepts it)',
      400,
      'POST / HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    ],
    [
      'obfuscated Transfer-Encoding',
      400,
      'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n',
    ],
    [
      'space before the colon',
      400,
      'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n',
    ],
    [
      'two Host headers (Node accepts it)',
      400,
      'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n',
    ],
    ['no Host', 400, 'GET / HTTP/1.1\r\nConnection: close\r\n\r\n'],
    ['invalid Host', 400, 'GET / HTTP/1.1\r\nHost: a b/c\r\nConnection: close\r\n\r\n'],
    ['bare LF line endings', 400, 'GET / HTTP/1.1\nHost: a\nConnection: close\n\n'],
    [
      'declared body over the limit',
      413,
      'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5000\r\n\r\n',
    ],
    [
      'chunked body over the limit',
      413,
      `POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n800\r\n${'x'.repeat(2048)}\r\n0\r\n\r\n`,
    ],
    [
      'oversized headers',
      431,
      `GET / HTTP/1.1\r\nHost: a\r\nX-Big: ${'y'.repeat(8 * 1024)}\r\n\r\n`,
    ],
  ];

  test.each(cases)('%s → %i', async (_name, status, raw) => {
    const reply = await rawExchange(strictPort, raw);
    expect(reply.status).toBe(status);
    // The server is still fine afterwards.
    expect((await rawExchange(strictPort, ok)).status).toBe(200);
  });

  test('slowloris: clients that never finish their head are answered 408 and disconnected', async () => {
    const sockets = await Promise.all(Array.from({ length: 50 }, () => openSocket(strictPort)));
    const replies = sockets.map((socket) => readUntilClose(socket));
    for (const socket of sockets) socket.write('GET / HTTP/1.1\r\nHost: a\r\nX-Slow: ');
    for (const reply of await Promise.all(replies)) expect(reply.status).toBe(408);
    const open = await new Promise<number>((resolve, reject) =>
      strict.server.getConnections((err, n) => (err ? reject(err) : resolve(n))),
    );
    expect(open).toBe(0);
  });

  test('a body that trickles in past requestTimeout is cut off', async () => {
    const socket = await openSocket(strictPort);
    const reply = readUntilClose(socket);
    socket.write('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\nabc');
    const { status, ending } = await reply;
    // Either the 408 got out before the close, or the proxy already committed to the upstream and reset.
    expect(status === 408 || status === 502 || ending === 'reset' || status === null).toBe(true);
    expect((await rawExchange(strictPort, ok)).status).toBe(200);
  });
});

describe('upstream failures', () => {
  test('app down → 502, app known down → 503', async () => {
    const gone = await startEchoServer();
    await gone.stop();
    const down = new InboundServer({
      host: '127.0.0.1',
      app: { host: '127.0.0.1', port: gone.port },
    });
    const downPort = await down.listen();
    try {
      const refused = await rawExchange(downPort, ok);
      expect(refused.status).toBe(502);
      expect(refused.text).toContain('x-palisade-error: UPSTREAM_UNAVAILABLE');
      down.app.available = false;
      const known = await rawExchange(downPort, ok);
      expect(known.status).toBe(503);
      expect(known.text).toContain('UPSTREAM_DOWN');
    } finally {
      await down.shutdown(1_000);
    }
  });

  test('upstream slower than headersTimeout → 504', async () => {
    const reply = await rawExchange(
      port,
      'GET / HTTP/1.1\r\nHost: a\r\nX-Echo-Delay: 2000\r\nConnection: close\r\n\r\n',
    );
    expect(reply.status).toBe(504);
    expect(reply.text).toContain('UPSTREAM_TIMEOUT');
  });

  test('upstream reset mid-body → the client connection is destroyed, not left hanging', async () => {
    const res = await client().request({
      path: '/reset',
      method: 'GET',
      headers: { 'x-echo-reset': '100000' },
    });
    expect(res.statusCode).toBe(200);
    await expect(res.body.arrayBuffer()).rejects.toBeInstanceOf(Error);
    expect((await rawExchange(port, ok)).status).toBe(200);
  });

  test('upstream status codes pass through untouched', async () => {
    const res = await client().request({
      path: '/s',
      method: 'GET',
      headers: { 'x-echo-status': '503' },
    });
    expect(res.statusCode).toBe(503);
    expect(res.headers['x-palisade-error']).toBeUndefined();
    await res.body.dump();
  });
});

describe('upstream framing (raw upstream)', () => {
  test('1xx answers are skipped; a close-delimited body is relayed chunked; the next request gets a new connection', async () => {
    let accepted = 0;
    const raw = net.createServer((socket) => {
      accepted++;
      socket.once('data', () => {
        socket.end(
          'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n' +
            'HTTP/1.0 200 OK\r\nX-Upstream: raw\r\n\r\nuntil-close',
        );
      });
    });
    await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', resolve));
    const rawPort = (raw.address() as net.AddressInfo).port;
    const server = new InboundServer({
      host: '127.0.0.1',
      app: { host: '127.0.0.1', port: rawPort },
    });
    const serverPort = await server.listen();
    try {
      for (let i = 0; i < 2; i++) {
        const reply = await rawExchange(
          serverPort,
          'GET /raw HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n',
        );
        expect(reply.status).toBe(200);
        expect(reply.text).not.toContain(' 100 ');
        expect(reply.text).not.toContain(' 103 ');
        expect(reply.text.toLowerCase()).toContain('x-upstream: raw');
        expect(reply.text.toLowerCase()).toContain('transfer-encoding: chunked');
        expect(reply.text).toContain('\r\n\r\nb\r\nuntil-close\r\n0\r\n\r\n');
      }
      expect(accepted).toBe(2);
    } finally {
      await server.shutdown(1_000);
      await new Promise<void>((resolve) => raw.close(() => resolve()));
    }
  });

  test('a reused connection the upstream closes unanswered: an idempotent request goes again on a new one, a POST is a 502 unless it has an Idempotency-Key', async () => {
    // Answers the first request of each connection (keep-alive), then closes the connection on
    // the next one without a byte: what an upstream timing out an idle connection looks like
    // when its close crosses our request.
    let accepted = 0;
    const seen: string[] = [];
    const raw = net.createServer((socket) => {
      accepted++;
      let requests = 0;
      socket.on('data', (chunk: Buffer) => {
        seen.push(chunk.toString('latin1').split(' ', 1)[0] as string);
        if (++requests === 1) socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
        else socket.destroy();
      });
    });
    await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', resolve));
    const server = new InboundServer({
      host: '127.0.0.1',
      app: { host: '127.0.0.1', port: (raw.address() as net.AddressInfo).port },
    });
    const serverPort = await server.listen();
    const post = 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi';
    try {
      expect((await rawExchange(serverPort, ok)).status).toBe(200); // connection 1
      const again = await rawExchange(serverPort, ok); // reuses 1, closed → connection 2
      expect(again.status).toBe(200);
      expect(again.text).toMatch(/\r\n\r\nok$/);
      expect(accepted).toBe(2);
      const refused = await rawExchange(serverPort, post); // reuses 2, closed → not sent again
      expect(refused.status).toBe(502);
      expect(refused.text).toContain('UPSTREAM_RESET');
      expect(accepted).toBe(2);
      expect((await rawExchange(serverPort, ok)).status).toBe(200); // connection 3
      const keyed = post.replace('Host: a', 'Host: a\r\nIdempotency-Key: k1');
      expect((await rawExchange(serverPort, keyed)).status).toBe(200); // reuses 3 → connection 4
      expect(accepted).toBe(4);
      expect(seen).toEqual(['GET', 'GET', 'GET', 'POST', 'GET', 'POST', 'POST']);
    } finally {
      await server.shutdown(1_000);
      await new Promise<void>((resolve) => raw.close(() => resolve()));
    }
  });

  test('an upstream answer with an invalid head is a 502', async () => {
    const raw = net.createServer((socket) => {
      socket.once('data', () => socket.end('HTTP/1.1 2000 Nope\r\n\r\n'));
    });
    await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', resolve));
    const server = new InboundServer({
      host: '127.0.0.1',
      app: { host: '127.0.0.1', port: (raw.address() as net.AddressInfo).port },
    });
    const serverPort = await server.listen();
    try {
      const reply = await rawExchange(serverPort, ok);
      expect(reply.status).toBe(502);
      expect(reply.text).toContain('UPSTREAM_PROTOCOL');
    } finally {
      await server.shutdown(1_000);
      await new Promise<void>((resolve) => raw.close(() => resolve()));
    }
  });
});

describe('upgrades', () => {
  test('WebSocket upgrade is tunnelled to the app both ways', async () => {
    const socket = await openSocket(port);
    socket.write(
      'GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
        'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
    );
    const head = await readHead(socket);
    expect(head).toMatch(/^HTTP\/1\.1 101 /);
    expect(head).toContain('x-echo-forwarded-for: 127.0.0.1');
    const echoed = new Promise<string>((resolve) =>
      socket.once('data', (chunk: Buffer) => resolve(chunk.toString())),
    );
    socket.write('ping-frame');
    expect(await echoed).toBe('ping-frame');
    const closed = readUntilClose(socket);
    socket.end();
    await closed;
  });
});

describe('filters plug into the stack', () => {
  test('refuse early, observe outcomes, retry with a buffered body, swap under load', async () => {
    const outcomes: ExchangeOutcome[] = [];
    const observe: Filter = (next) => (req) => {
      req.onFinish((outcome) => outcomes.push(outcome));
      return next(req);
    };
    const refuse: Filter = (next) => (req) =>
      req.path.startsWith('/limited')
        ? Promise.resolve(localResponse(429, ['retry-after', '1'], 'slow down'))
        : next(req);
    const retryOnce: Filter = (next) => async (req) => {
      if (!(await req.bufferBody(4096))) return next(req);
      const first = await next(req);
      if (
        first.statusCode < 500 ||
        typeof first.body !== 'object' ||
        first.body === null ||
        Buffer.isBuffer(first.body)
      ) {
        return first;
      }
      first.body.discard();
      req.headers = req.headers.filter(
        (_, i, all) => all[i - (i % 2)]?.toLowerCase() !== 'x-echo-status',
      );
      return next(req);
    };
    const tag =
      (version: string): Filter =>
      (next) =>
      (req) => {
        req.headers.push('x-route-version', version);
        return next(req);
      };
    const pipeline = new Pipeline(
      compileRoutes('inbound', [
        { name: 'all', filters: { trace: observe, rateLimit: refuse, timeout: retryOnce } },
      ]),
    );
    const filtered = new InboundServer({
      host: '127.0.0.1',
      app: { host: '127.0.0.1', port: echo.port },
      pipeline,
    });
    const filteredPort = await filtered.listen();
    const c = new Pool(`http://127.0.0.1:${filteredPort}`, { connections: 16, pipelining: 1 });
    try {
      const limited = await c.request({ path: '/limited', method: 'GET' });
      expect(limited.statusCode).toBe(429);
      expect(limited.headers['retry-after']).toBe('1');
      expect(await limited.body.text()).toBe('slow down');

      const retried = await c.request({
        path: '/r',
        method: 'POST',
        body: 'again',
        headers: { 'x-echo-status': '503' },
      });
      expect(retried.statusCode).toBe(200);
      expect(((await retried.body.json()) as EchoReply).body).toBe('again');
      expect(outcomes.map((o) => o.statusCode)).toEqual([429, 200]);
      expect(outcomes.every((o) => o.error === null && o.durationMs >= 0)).toBe(true);

      // Swap route tables while 16 clients keep 1,600 requests in flight: nothing fails.
      const seen = new Set<string>();
      let failures = 0;
      let swaps = 0;
      const worker = async (): Promise<void> => {
        for (let i = 0; i < 100; i++) {
          const res = await c.request({ path: '/swap', method: 'GET' });
          if (res.statusCode !== 200) failures++;
          const reply = (await res.body.json()) as EchoReply;
          seen.add(headerValues(reply.rawHeaders, 'x-route-version')[0] ?? 'none');
          if (i % 10 === 0) {
            swaps++;
            pipeline.setRoutes(
              compileRoutes('inbound', [{ name: 'all', filters: { trace: tag(`v${swaps}`) } }]),
            );
          }
        }
      };
      await Promise.all(Array.from({ length: 16 }, worker));
      expect(failures).toBe(0);
      expect(seen.size).toBeGreaterThan(10);
    } finally {
      await c.close();
      await filtered.shutdown(1_000);
    }
  }, 30_000);
});

describe('filters: refusal by error, delay, timeout through abort', () => {
  test('a thrown PolicyRefusal keeps its status and headers; a timeout filter aborts the call → 504', async () => {
    const breakerOpen: Filter = (next) => (req) =>
      req.path === '/open'
        ? Promise.reject(new PolicyRefusal('CIRCUIT_OPEN', 503, ['x-palisade-circuit', 'open']))
        : next(req);
    const delay: Filter = (next) => (req) =>
      new Promise<void>((resolve) => setTimeout(resolve, 20)).then(() => next(req));
    const timeout: Filter = (next) => (req) => {
      const timer = setTimeout(() => req.abort(new UpstreamTimeout('route timeout 100ms')), 100);
      return next(req).finally(() => clearTimeout(timer));
    };
    const outcomes: ExchangeOutcome[] = [];
    const observe: Filter = (next) => (req) => {
      req.onFinish((outcome) => outcomes.push(outcome));
      return next(req);
    };
    const pipeline = new Pipeline(
      compileRoutes('inbound', [
        { name: 'r', filters: { trace: observe, fault: delay, breaker: breakerOpen, timeout } },
      ]),
    );
    const server = new InboundServer({
      host: '127.0.0.1',
      app: { host: '127.0.0.1', port: echo.port },
      pipeline,
    });
    const serverPort = await server.listen();
    try {
      const open = await rawExchange(
        serverPort,
        'GET /open HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n',
      );
      expect(open.status).toBe(503);
      expect(open.text).toContain('x-palisade-circuit: open');
      expect(open.text).toContain('x-palisade-error: CIRCUIT_OPEN');
      const slow = await rawExchange(
        serverPort,
        'GET /slow HTTP/1.1\r\nHost: a\r\nX-Echo-Delay: 1000\r\nConnection: close\r\n\r\n',
      );
      expect(slow.status).toBe(504);
      expect(slow.text).toContain('UPSTREAM_TIMEOUT');
      const fine = await rawExchange(serverPort, ok);
      expect(fine.status).toBe(200);
      expect(outcomes.map((o) => [o.statusCode, o.error?.code ?? null])).toEqual([
        [503, 'CIRCUIT_OPEN'],
        [504, 'UPSTREAM_TIMEOUT'],
        [200, null],
      ]);
      // The injected delay is part of every measured duration.
      expect(outcomes.every((o) => o.durationMs >= 19)).toBe(true); // timers may round down by <1 ms
    } finally {
      await server.shutdown(1_000);
    }
  });
});

describe('graceful shutdown', () => {
  test('a slow request in flight completes; new connections are refused', async () => {
    const upstream = await startEchoServer();
    const draining = new InboundServer({
      host: '127.0.0.1',
      app: { host: '127.0.0.1', port: upstream.port },
    });
    const drainingPort = await draining.listen();
    const socket = await openSocket(drainingPort);
    const reply = readUntilClose(socket);
    socket.write('GET /slow HTTP/1.1\r\nHost: a\r\nX-Echo-Delay: 300\r\n\r\n');
    // The request is in flight once the upstream has it.
    while (upstream.requests() === 0) await new Promise((resolve) => setImmediate(resolve));
    const shutdown = draining.shutdown(5_000);
    await expect(openSocket(drainingPort)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    const { status, text } = await reply;
    expect(status).toBe(200);
    expect(text.toLowerCase()).toContain('connection: close');
    await shutdown;
    await upstream.stop();
  });

  test('past the deadline, what is left is closed', async () => {
    const upstream = await startEchoServer();
    const draining = new InboundServer({
      host: '127.0.0.1',
      app: { host: '127.0.0.1', port: upstream.port },
    });
    const drainingPort = await draining.listen();
    const socket = await openSocket(drainingPort);
    const reply = readUntilClose(socket);
    socket.write('GET /slow HTTP/1.1\r\nHost: a\r\nX-Echo-Delay: 10000\r\n\r\n');
    while (upstream.requests() === 0) await new Promise((resolve) => setImmediate(resolve));
    await draining.shutdown(100);
    expect((await reply).status).toBeNull();
    await upstream.stop();
  });
});
