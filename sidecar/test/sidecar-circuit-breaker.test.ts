/**
 * Circuit breakers, request timeouts, outbound proxying to a breaker keyed by destination host,
 * and retries of idempotent outbound calls, through the real sidecar process.
 */
import { describe, expect, it } from '@jest/globals';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { send, waitFor, type SidecarProcess } from './support/sidecar-process.js';
import { useSidecarHarness } from './support/sidecar-harness.js';

const { defer, echo, sidecar } = useSidecarHarness();

/**
 * A destination on 127.0.0.2 (another host than the echo server's 127.0.0.1): `/fail-N/…`
 * answers 503 to the first N requests of that path then 200; `/slow-once/…` answers its first
 * request after 1 s, later ones at once. Counts requests per path.
 */
async function flakyDestination(): Promise<{ port: number; hits: Map<string, number> }> {
  const hits = new Map<string, number>();
  const server = http.createServer((req, res) => {
    const path = req.url ?? '/';
    const n = (hits.get(path) ?? 0) + 1;
    hits.set(path, n);
    req.resume();
    req.on('end', () => {
      const fail = /^\/fail-(\d+)\//.exec(path);
      const status = fail !== null && n <= Number(fail[1]) ? 503 : 200;
      const delay = path.startsWith('/slow-once/') && n === 1 ? 1000 : 0;
      setTimeout(
        () => res.writeHead(status, { 'content-type': 'text/plain' }).end(`attempt ${n}`),
        delay,
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.2', resolve));
  defer(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return { port: (server.address() as AddressInfo).port, hits };
}

const state = (sc: SidecarProcess, breaker: string, target: string) =>
  sc.metric('palisade_circuit_breaker_state', { breaker, target });

describe('inbound circuit breaker', () => {
  it('trips on consecutive failures, fails fast with 503, goes half-open after openDuration and closes after successful probes', async () => {
    const app = await echo();
    const sc = await sidecar({
      version: 'cb-1',
      app: { host: '127.0.0.1', port: app.port },
      circuitBreakers: [
        {
          policy: 'shop/app-breaker',
          target: { direction: 'inbound' },
          trip: { consecutiveFailures: 3 },
          failureOn: { statuses: ['5xx'] },
          openDuration: '300ms',
          halfOpen: { maxRequests: 1, successesToClose: 2 },
        },
      ],
    });
    const failing = () => send(sc.ports.inbound, { headers: { 'x-echo-status': '500' } });
    expect(await state(sc, 'shop/app-breaker', 'inbound')).toBe(0);
    for (let i = 0; i < 3; i++) expect((await failing()).status).toBe(500);
    const tripped = performance.now();
    const seen = app.requests();
    const fast = await send(sc.ports.inbound);
    expect(fast.status).toBe(503);
    expect(fast.headers['x-palisade-circuit']).toBe('open');
    expect(fast.headers['x-palisade-error']).toBe('CIRCUIT_OPEN');
    expect(Number(fast.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(app.requests()).toBe(seen); // the app was spared
    expect(await state(sc, 'shop/app-breaker', 'inbound')).toBe(1);

    // Half-open once openDuration has passed, without any request arriving.
    await waitFor(
      'half-open (gauge 2)',
      async () => (await state(sc, 'shop/app-breaker', 'inbound')) === 2,
      5000,
    );
    expect(performance.now() - tripped).toBeGreaterThanOrEqual(290);
    // Probes: the first success keeps it half-open (2 needed), the second closes it.
    expect((await send(sc.ports.inbound)).status).toBe(200);
    expect(await state(sc, 'shop/app-breaker', 'inbound')).toBe(2);
    expect((await send(sc.ports.inbound)).status).toBe(200);
    expect(await state(sc, 'shop/app-breaker', 'inbound')).toBe(0);
    expect(app.requests()).toBe(seen + 2);

    // A failed probe opens it again.
    for (let i = 0; i < 3; i++) expect((await failing()).status).toBe(500);
    expect(await state(sc, 'shop/app-breaker', 'inbound')).toBe(1);
    await waitFor(
      'half-open again',
      async () => (await state(sc, 'shop/app-breaker', 'inbound')) === 2,
      5000,
    );
    expect((await failing()).status).toBe(500);
    expect(await state(sc, 'shop/app-breaker', 'inbound')).toBe(1);
    expect((await send(sc.ports.inbound)).status).toBe(503);
    expect(
      sc
        .logs()
        .some((l) => l.msg === 'circuit breaker state changed' && l.reason === 'probe-failed'),
    ).toBe(true);
  });

  it('answers 504 when requestTimeout expires, and counts timeouts as failures', async () => {
    const app = await echo();
    const sc = await sidecar({
      version: 'cb-timeout',
      app: { host: '127.0.0.1', port: app.port },
      circuitBreakers: [
        {
          policy: 'shop/slow-app',
          target: { direction: 'inbound' },
          trip: { consecutiveFailures: 2 },
          requestTimeout: '200ms',
          openDuration: '30s',
        },
      ],
    });
    for (let i = 0; i < 2; i++) {
      const start = performance.now();
      const slow = await send(sc.ports.inbound, { headers: { 'x-echo-delay': '3000' } });
      const elapsed = performance.now() - start;
      expect(slow.status).toBe(504);
      expect(slow.headers['x-palisade-error']).toBe('UPSTREAM_TIMEOUT');
      expect(elapsed).toBeGreaterThanOrEqual(190);
      expect(elapsed).toBeLessThan(1500);
    }
    // Two timeouts in a row tripped it: even a fast request now fails fast.
    const fast = await send(sc.ports.inbound);
    expect(fast.status).toBe(503);
    expect(fast.headers['x-palisade-circuit']).toBe('open');
    expect(await state(sc, 'shop/slow-app', 'inbound')).toBe(1);
  });
});

describe('failure-ratio breaker', () => {
  it('trips when failures reach the ratio over the window once minimumRequests results are in', async () => {
    const app = await echo();
    const sc = await sidecar({
      version: 'cb-ratio',
      app: { host: '127.0.0.1', port: app.port },
      circuitBreakers: [
        {
          policy: 'shop/ratio',
          target: { direction: 'inbound' },
          trip: { failureRatio: 0.5, minimumRequests: 10, window: '30s' },
          openDuration: '30s',
        },
      ],
    });
    // Alternating success and failure: never two failures in a row, 50% failures.
    for (let i = 0; i < 9; i++) {
      const status = i % 2 === 0 ? '500' : '200';
      const answer = await send(sc.ports.inbound, { headers: { 'x-echo-status': status } });
      expect(answer.status).toBe(Number(status));
    }
    // 9 results, 5 failures: below minimumRequests, still closed.
    expect(await state(sc, 'shop/ratio', 'inbound')).toBe(0);
    expect((await send(sc.ports.inbound)).status).toBe(200);
    // 10 results, 5 failures, but the ratio is judged when a failure is reported…
    expect(await state(sc, 'shop/ratio', 'inbound')).toBe(0);
    // …so the next failure (6 of 11 ≥ 0.5) opens it.
    expect((await send(sc.ports.inbound, { headers: { 'x-echo-status': '500' } })).status).toBe(
      500,
    );
    expect(await state(sc, 'shop/ratio', 'inbound')).toBe(1);
    const fast = await send(sc.ports.inbound);
    expect(fast.status).toBe(503);
    expect(fast.headers['x-palisade-circuit']).toBe('open');
  });
});

describe('outbound forward proxy', () => {
  it('trips the breaker of the destination host only', async () => {
    const app = await echo();
    const other = await flakyDestination();
    const sc = await sidecar({
      version: 'cb-outbound',
      app: { host: '127.0.0.1', port: app.port },
      circuitBreakers: [
        {
          policy: 'shop/payments',
          target: { direction: 'outbound', host: '127.0.0.1' },
          trip: { consecutiveFailures: 2 },
          failureOn: { statuses: ['5xx'], connectionErrors: true },
          openDuration: '30s',
        },
      ],
    });
    const viaProxy = (authority: string, path: string, headers: Record<string, string> = {}) =>
      send(sc.ports.outbound, {
        path: `http://${authority}${path}`,
        headers: { host: authority, ...headers },
      });
    const payments = `127.0.0.1:${app.port}`;
    expect((await viaProxy(payments, '/charge')).status).toBe(200);
    expect((await viaProxy(payments, '/charge', { 'x-echo-status': '503' })).status).toBe(503);
    expect((await viaProxy(payments, '/charge', { 'x-echo-status': '502' })).status).toBe(502);
    const seen = app.requests();
    const fast = await viaProxy(payments, '/charge');
    expect(fast.status).toBe(503);
    expect(fast.headers['x-palisade-circuit']).toBe('open');
    expect(app.requests()).toBe(seen);
    expect(await state(sc, 'shop/payments', '127.0.0.1')).toBe(1);

    // Another destination host is not behind that breaker.
    const elsewhere = await viaProxy(`127.0.0.2:${other.port}`, '/inventory/1');
    expect(elsewhere.status).toBe(200);
    expect(elsewhere.headers['x-palisade-circuit']).toBeUndefined();
    // Inbound traffic to the app is not affected either.
    expect((await send(sc.ports.inbound)).status).toBe(200);
    // Requests are counted on the host's route.
    expect(
      await sc.metric('palisade_requests_total', {
        direction: 'outbound',
        route: '127.0.0.1',
        code: '503',
      }),
    ).toBe(2);
    expect(
      await sc.metric('palisade_requests_total', {
        direction: 'outbound',
        route: 'default',
        code: '200',
      }),
    ).toBe(1);
  });

  it('retries idempotent calls with backoff, not others, and gives each attempt its own deadline', async () => {
    const app = await echo();
    const dest = await flakyDestination();
    const authority = `127.0.0.2:${dest.port}`;
    const sc = await sidecar({
      version: 'retries',
      app: { host: '127.0.0.1', port: app.port },
      retries: { attempts: 3, backoff: '10ms', budgetPercent: 100 },
      circuitBreakers: [
        {
          policy: 'shop/inventory',
          target: { direction: 'outbound', host: '127.0.0.2' },
          trip: { consecutiveFailures: 50 },
          requestTimeout: '300ms',
          openDuration: '30s',
        },
      ],
    });
    const call = (method: string, path: string, headers: Record<string, string> = {}) =>
      send(sc.ports.outbound, {
        method,
        path: `http://${authority}${path}`,
        headers: { host: authority, ...headers },
        body: method === 'GET' ? undefined : '{"sku":1}',
      });

    const get = await call('GET', '/fail-2/a');
    expect(get.status).toBe(200);
    expect(get.body).toBe('attempt 3');
    expect(dest.hits.get('/fail-2/a')).toBe(3);

    const put = await call('PUT', '/fail-1/b');
    expect(put.status).toBe(200);
    expect(dest.hits.get('/fail-1/b')).toBe(2);

    // POST is not idempotent: sent once, its failure returned as is.
    const post = await call('POST', '/fail-1/c');
    expect(post.status).toBe(503);
    expect(dest.hits.get('/fail-1/c')).toBe(1);
    // …unless it carries an Idempotency-Key.
    const keyed = await call('POST', '/fail-1/d', { 'idempotency-key': 'order-7-charge' });
    expect(keyed.status).toBe(200);
    expect(dest.hits.get('/fail-1/d')).toBe(2);

    // At most `attempts` attempts.
    const exhausted = await call('GET', '/fail-9/e');
    expect(exhausted.status).toBe(503);
    expect(dest.hits.get('/fail-9/e')).toBe(3);

    // A first attempt that outlives requestTimeout is aborted and retried on a fresh deadline.
    const start = performance.now();
    const slowOnce = await call('GET', '/slow-once/f');
    expect(slowOnce.status).toBe(200);
    expect(slowOnce.body).toBe('attempt 2');
    expect(performance.now() - start).toBeLessThan(1000);

    expect(await sc.metric('palisade_retries_total', { route: '127.0.0.2' })).toBe(
      2 + 1 + 1 + 2 + 1,
    );
  });
});
