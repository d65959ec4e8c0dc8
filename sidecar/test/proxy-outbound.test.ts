import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import http from 'node:http';
import { ManualClock } from '../src/core/clock.js';
import { OutboundServer, OriginPools } from '../src/proxy/index.js';
import { startEchoServer, type EchoReply, type EchoServer } from './support/echo-server.js';
import { openSocket, rawExchange, readHead, readUntilClose } from './support/http-raw.js';

let echoA: EchoServer;
let echoB: EchoServer;
let proxy: OutboundServer;
let port: number;
const denied = new Set<number>();

/** GET/POST through the proxy the way an `HTTP_PROXY` client does: absolute-form target. */
function viaProxy(
  agent: http.Agent,
  target: string,
  options: { method?: string; headers?: http.OutgoingHttpHeaders; body?: string } = {},
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method: options.method ?? 'GET',
        path: target,
        headers: options.headers,
        agent,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

beforeAll(async () => {
  echoA = await startEchoServer();
  echoB = await startEchoServer();
  proxy = new OutboundServer({
    destinationPolicy: (_host, destinationPort) => !denied.has(destinationPort),
    maxBodyBytes: 1024,
  });
  port = await proxy.listen();
});

afterAll(async () => {
  await proxy.shutdown(1_000);
  await echoA.stop();
  await echoB.stop();
});

describe('outbound forward proxy', () => {
  test('absolute-form requests reach their origin; Host is the target; pools are per origin and reused', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const beforeA = echoA.connections();
    const beforeB = echoB.connections();
    for (let i = 0; i < 10; i++) {
      const a = await viaProxy(agent, `http://127.0.0.1:${echoA.port}/a/${i}?x=1`, {
        method: 'POST',
        body: `body-${i}`,
        headers: {
          host: 'ignored.example',
          'proxy-authorization': 'Basic Zm9v',
          'proxy-connection': 'keep-alive',
        },
      });
      expect(a.status).toBe(200);
      const reply = JSON.parse(a.body) as EchoReply;
      expect(reply.path).toBe(`/a/${i}?x=1`);
      expect(reply.body).toBe(`body-${i}`);
      const names = reply.rawHeaders.filter((_, j) => j % 2 === 0).map((n) => n.toLowerCase());
      expect(names).not.toContain('proxy-authorization');
      expect(names).not.toContain('proxy-connection');
      expect(names).not.toContain('x-forwarded-for'); // egress carries the app's own call, unchanged
      expect(reply.rawHeaders[names.indexOf('host') * 2 + 1]).toBe(`127.0.0.1:${echoA.port}`);
      const b = await viaProxy(agent, `http://127.0.0.1:${echoB.port}/b`);
      expect(b.status).toBe(200);
    }
    expect(echoA.connections() - beforeA).toBe(1);
    expect(echoB.connections() - beforeB).toBe(1);
    expect(proxy.origins.size).toBeGreaterThanOrEqual(2);
    agent.destroy();
  });

  test('origin-form requests are refused: this port is a forward proxy', async () => {
    const reply = await rawExchange(
      port,
      'GET /local HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n',
    );
    expect(reply.status).toBe(400);
  });

  test('a denied destination gets 403, for plain requests and CONNECT alike', async () => {
    denied.add(echoB.port);
    try {
      const plain = await rawExchange(
        port,
        `GET http://127.0.0.1:${echoB.port}/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
      );
      expect(plain.status).toBe(403);
      const tunnel = await rawExchange(
        port,
        `CONNECT 127.0.0.1:${echoB.port} HTTP/1.1\r\nHost: x\r\n\r\n`,
      );
      expect(tunnel.status).toBe(403);
    } finally {
      denied.delete(echoB.port);
    }
  });

  test('CONNECT opens an opaque tunnel; bytes pass untouched both ways', async () => {
    const socket = await openSocket(port);
    socket.write(
      `CONNECT 127.0.0.1:${echoA.port} HTTP/1.1\r\nHost: 127.0.0.1:${echoA.port}\r\n\r\n`,
    );
    expect(await readHead(socket)).toMatch(/^HTTP\/1\.1 200 /);
    // Speak HTTP to the origin through the tunnel; the proxy does not parse it.
    const reply = readUntilClose(socket);
    socket.write('GET /through-tunnel HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n');
    const { status, text } = await reply;
    expect(status).toBe(200);
    expect(text).toContain('"path":"/through-tunnel"');
  });

  test('CONNECT to a closed port → 502; bad CONNECT target → 400', async () => {
    const gone = await startEchoServer();
    await gone.stop();
    expect(
      (await rawExchange(port, `CONNECT 127.0.0.1:${gone.port} HTTP/1.1\r\nHost: x\r\n\r\n`))
        .status,
    ).toBe(502);
    expect((await rawExchange(port, 'CONNECT nowhere HTTP/1.1\r\nHost: x\r\n\r\n')).status).toBe(
      400,
    );
  });

  test('destination down → 502; the same hardening as inbound (smuggling, body limit)', async () => {
    const gone = await startEchoServer();
    await gone.stop();
    const down = await rawExchange(
      port,
      `GET http://127.0.0.1:${gone.port}/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
    );
    expect(down.status).toBe(502);
    const smuggle = await rawExchange(
      port,
      `POST http://127.0.0.1:${echoA.port}/ HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
    );
    expect(smuggle.status).toBe(400);
    const large = await rawExchange(
      port,
      `POST http://127.0.0.1:${echoA.port}/ HTTP/1.1\r\nHost: x\r\nContent-Length: 4096\r\n\r\n`,
    );
    expect(large.status).toBe(413);
  });
});

describe('origin pools', () => {
  test('bounded in count and closed when idle', async () => {
    const clock = new ManualClock(1_000);
    const pools = new OriginPools({}, 2, 10_000, clock);
    try {
      pools.get('127.0.0.1', 1001);
      clock.advance(1);
      pools.get('127.0.0.1', 1002);
      clock.advance(1);
      pools.get('127.0.0.1', 1003); // evicts the least recently used (1001)
      expect(pools.size).toBe(2);
      clock.advance(5_000);
      pools.get('127.0.0.1', 1003);
      clock.advance(6_000);
      pools.evictIdle(); // 1002 idle 11 s, 1003 idle 6 s
      expect(pools.size).toBe(1);
    } finally {
      await pools.close();
    }
  });
});
