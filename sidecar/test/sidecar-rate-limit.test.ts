/**
 * Rate limits through the real sidecar process: local token buckets per key, a global limit
 * shared by two sidecars through a real redis-server, and Redis outages (hung and killed) in
 * both failure modes, each answered within the configured decision budget.
 */
import { describe, expect, it } from '@jest/globals';
import { startRedisServer, type RedisServer } from './support/redis-server.js';
import { send, waitFor, type TestConfig } from './support/sidecar-process.js';
import { useSidecarHarness } from './support/sidecar-harness.js';

const { defer, echo, sidecar } = useSidecarHarness();

async function redisServer(): Promise<RedisServer> {
  const redis = await startRedisServer();
  defer(() => redis.stop());
  return redis;
}

describe('local rate limit', () => {
  it('refuses beyond the limit per header key with 429, Retry-After, RateLimit-Policy and RateLimit', async () => {
    const app = await echo();
    const sc = await sidecar({
      version: 'rl-1',
      app: { host: '127.0.0.1', port: app.port },
      rateLimits: [
        {
          policy: 'shop/checkout-limits',
          name: 'per-user-orders',
          match: { pathPrefix: '/api/orders', methods: ['POST'] },
          limit: { requests: 3, period: '1m' },
          key: { type: 'header', name: 'x-user-id' },
          scope: 'local',
        },
      ],
    });
    const order = (user?: string) =>
      send(sc.ports.inbound, {
        method: 'POST',
        path: '/api/orders',
        body: '{}',
        headers: user === undefined ? {} : { 'x-user-id': user },
      });

    // Admitted answers advertise the quota and what is left of it.
    for (let i = 0; i < 3; i++) {
      const admitted = await order('alice');
      expect(admitted.status).toBe(200);
      expect(admitted.headers['ratelimit-policy']).toBe('"per-user-orders";q=3;w=60');
      expect(admitted.headers['ratelimit']).toMatch(
        new RegExp(`^"per-user-orders";r=${2 - i};t=\\d+$`),
      );
    }
    const refused = await order('alice');
    expect(refused.status).toBe(429);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(Number(refused.headers['retry-after'])).toBeLessThanOrEqual(20);
    expect(refused.headers['ratelimit-policy']).toBe('"per-user-orders";q=3;w=60');
    expect(refused.headers['ratelimit']).toMatch(/^"per-user-orders";r=0;t=\d+$/);
    expect(refused.headers['x-palisade-error']).toBe('RATE_LIMITED');
    const requestsBefore = app.requests();
    expect((await order('alice')).status).toBe(429);
    expect(app.requests()).toBe(requestsBefore); // refused before the app

    // Another key has its own bucket; requests without the header share one bucket.
    for (let i = 0; i < 3; i++) expect((await order('bob')).status).toBe(200);
    expect((await order('bob')).status).toBe(429);
    for (let i = 0; i < 3; i++) expect((await order()).status).toBe(200);
    expect((await order()).status).toBe(429);

    // Outside the rule's match: not limited.
    expect(
      (
        await send(sc.ports.inbound, {
          method: 'GET',
          path: '/api/orders',
          headers: { 'x-user-id': 'alice' },
        })
      ).status,
    ).toBe(200);
    expect(
      (
        await send(sc.ports.inbound, {
          method: 'POST',
          path: '/api/ordersx',
          body: '{}',
          headers: { 'x-user-id': 'alice' },
        })
      ).status,
    ).toBe(200);

    expect(
      await sc.metric('palisade_rate_limited_total', {
        policy: 'shop/checkout-limits',
        rule: 'per-user-orders',
      }),
    ).toBe(4);
    expect(
      await sc.metric('palisade_requests_total', {
        direction: 'inbound',
        route: 'default',
        code: '429',
      }),
    ).toBe(4);
  });
});

function globalRule(
  name: string,
  path: string,
  failureMode: 'open' | 'closed',
  requests: number,
): Record<string, unknown> {
  return {
    policy: 'shop/global-limits',
    name,
    match: { pathPrefix: path },
    limit: { requests, period: '1m' },
    key: { type: 'global' },
    scope: 'global',
    failureMode,
  };
}

describe('global rate limit through Redis', () => {
  it('is shared by two sidecar processes', async () => {
    const app = await echo();
    const redis = await redisServer();
    const config: TestConfig = {
      version: 'global-1',
      app: { host: '127.0.0.1', port: app.port },
      redis: { url: redis.url, timeout: '500ms' },
      rateLimits: [globalRule('shared', '/', 'closed', 5)],
    };
    const [a, b] = await Promise.all([sidecar(config), sidecar(config)]);
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      statuses.push((await send(a.ports.inbound, { path: '/a' })).status);
      statuses.push((await send(b.ports.inbound, { path: '/b' })).status);
    }
    // 5 per minute across both sidecars: the first 5 pass, wherever they land, then all refused.
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429, 429, 429, 429, 429, 429]);
    const refusedA = (await a.metric('palisade_rate_limited_total', { rule: 'shared' })) ?? 0;
    const refusedB = (await b.metric('palisade_rate_limited_total', { rule: 'shared' })) ?? 0;
    expect(refusedA + refusedB).toBe(7);
    expect(refusedA).toBeGreaterThan(0);
    expect(refusedB).toBeGreaterThan(0);
    // Redis decided every one of them.
    expect((await a.metric('palisade_rate_limit_backend_errors_total')) ?? 0).toBe(0);
  });

  it('applies failureMode within the configured timeout when Redis hangs or dies, and recovers', async () => {
    const app = await echo();
    const redis = await redisServer();
    const timeoutMs = 150;
    const sc = await sidecar({
      version: 'global-outage',
      app: { host: '127.0.0.1', port: app.port },
      redis: { url: redis.url, timeout: `${timeoutMs}ms` },
      // Capacity 999: under the token-lease threshold (decision 0005), so every decision asks
      // Redis and the outage shows at once (a leased token, granted before it, may be spent for
      // up to 50 ms; redis-rate-limit.test.ts covers outages with leases).
      rateLimits: [
        globalRule('fail-open', '/open', 'open', 999),
        globalRule('fail-closed', '/closed', 'closed', 999),
      ],
    });
    const timed = async (path: string) => {
      const start = performance.now();
      const answer = await send(sc.ports.inbound, { path });
      return { status: answer.status, ms: performance.now() - start, answer };
    };
    expect((await timed('/open')).status).toBe(200);
    expect((await timed('/closed')).status).toBe(200);
    const redisCheck = async () => {
      const health = JSON.parse((await sc.admin('/healthz')).body) as {
        checks: { name: string; status: string; readiness: boolean; durationMs: number }[];
      };
      return health.checks.find((c) => c.name === 'rate-limit-redis');
    };
    expect(await redisCheck()).toMatchObject({ status: 'pass', readiness: false });

    // Hung Redis (SIGSTOP): the socket stays open and nothing answers; each decision waits out
    // the timeout, then failureMode decides.
    redis.pause();
    const figures: string[] = [];
    for (let i = 0; i < 3; i++) {
      const open = await timed('/open');
      const closed = await timed('/closed');
      expect(open.status).toBe(200);
      expect(closed.status).toBe(429);
      expect(closed.answer.headers['retry-after']).toBe('1');
      // The first decisions wait out the timeout; once the client gives up on the silent socket
      // (socketTimeout, 1 s) it reconnects and later decisions take failureMode at once.
      if (i === 0) expect(open.ms).toBeGreaterThanOrEqual(timeoutMs - 5);
      for (const r of [open, closed]) expect(r.ms).toBeLessThan(timeoutMs + 600);
      figures.push(`hung: open ${open.ms.toFixed(0)} ms, closed ${closed.ms.toFixed(0)} ms`);
    }
    redis.resume();
    await waitFor(
      'Redis to decide again',
      async () => (await timed('/closed')).status === 200,
      10_000,
      100,
    );

    // Killed Redis: the connection drops, decisions take failureMode at once.
    await redis.kill();
    for (let i = 0; i < 3; i++) {
      const open = await timed('/open');
      const closed = await timed('/closed');
      expect(open.status).toBe(200);
      expect(closed.status).toBe(429);
      for (const r of [open, closed]) expect(r.ms).toBeLessThan(timeoutMs + 600);
      figures.push(`killed: open ${open.ms.toFixed(0)} ms, closed ${closed.ms.toFixed(0)} ms`);
    }
    // /healthz names the missing Redis (readiness is unaffected: failureMode decides).
    expect(await redisCheck()).toMatchObject({ status: 'fail', readiness: false });
    expect((await sc.admin('/readyz')).status).toBe(200);
    expect(
      await sc.metric('palisade_rate_limit_backend_errors_total', { policy: 'shop/global-limits' }),
    ).toBeGreaterThanOrEqual(12);
    expect(
      sc.logs().some((l) => typeof l.msg === 'string' && l.msg.includes('failureMode applied')),
    ).toBe(true);

    // Redis back (empty, as after a crash): the sidecar reconnects and Redis decides again.
    await redis.restart();
    await waitFor(
      'the sidecar to reconnect to Redis',
      async () => (await timed('/closed')).status === 200,
      10_000,
      100,
    );
    console.log(
      `rate-limit outage decision times (timeout ${timeoutMs} ms):\n${figures.join('\n')}`,
    );
  });
});
