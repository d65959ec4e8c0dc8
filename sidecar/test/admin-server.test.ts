/**
 * The admin API against a real server on 127.0.0.1:0, with a real TCP "app" for the
 * readiness check.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { request as httpRequest } from 'node:http';
import { createServer, type Server } from 'node:net';
import express from 'express';
import type { ValidationResult } from '@palisade/crds';
import {
  AdminHttpError,
  configLoadedCheck,
  createAdminServer,
  HealthChecks,
  tcpConnectCheck,
  validateBody,
  type AdminServer,
} from '../src/admin/index.js';
import { ConfigStore, validateConfigDocument } from '../src/config/index.js';
import { Metrics } from '../src/metrics/index.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startApp(): Promise<{ server: Server; port: number }> {
  const server = createServer((socket) => socket.end());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { server, port: (server.address() as { port: number }).port };
}

async function start(options: { appPort: number }) {
  const metrics = new Metrics({ processMetrics: false });
  const store = new ConfigStore({
    recorder: metrics.config,
    initial: validateConfigDocument({
      version: 'v1',
      app: { host: '127.0.0.1', port: options.appPort },
      redis: { url: 'redis://default:hunter2@redis.palisade:6379' },
    }),
  });
  const checks = new HealthChecks();
  checks.register({ name: 'config', check: configLoadedCheck(store) });
  checks.register({
    name: 'app',
    check: tcpConnectCheck({ target: () => store.config.app, timeoutMs: 500, cacheMs: 0 }),
  });
  const admin = createAdminServer({ store, metrics, checks, port: 0 });
  const address = await admin.listen();
  cleanups.push(() => admin.close());
  const base = `http://127.0.0.1:${address.port}`;
  return { store, metrics, checks, admin, base, port: address.port };
}

async function getJson(
  url: string,
  init?: RequestInit,
): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const response = await fetch(url, init);
  return {
    status: response.status,
    body: (await response.json()) as Record<string, unknown>,
    headers: response.headers,
  };
}

describe('admin API', () => {
  it('refuses to bind anywhere but loopback, with a clear error', () => {
    const store = new ConfigStore({
      initial: validateConfigDocument({ version: 'v', app: { host: 'a', port: 1 } }),
    });
    expect(() =>
      createAdminServer({
        store,
        metrics: new Metrics({ processMetrics: false }),
        checks: new HealthChecks(),
        host: '0.0.0.0',
      }),
    ).toThrow(
      expect.objectContaining({
        code: 'ADMIN_BIND_NOT_LOOPBACK',
        message: expect.stringContaining('loopback only'),
      }),
    );
  });

  it('listens on 127.0.0.1 and reports a taken port as ADMIN_LISTEN_FAILED', async () => {
    const app = await startApp();
    const { port } = await start({ appPort: app.port });
    const store = new ConfigStore({
      initial: validateConfigDocument({ version: 'v', app: { host: 'a', port: 1 } }),
    });
    const second = createAdminServer({
      store,
      metrics: new Metrics({ processMetrics: false }),
      checks: new HealthChecks(),
      port,
    });
    await expect(second.listen()).rejects.toMatchObject({ code: 'ADMIN_LISTEN_FAILED' });
  });

  it('answers /livez', async () => {
    const app = await startApp();
    const { base } = await start({ appPort: app.port });
    expect(await getJson(`${base}/livez`)).toMatchObject({ status: 200, body: { status: 'ok' } });
  });

  it('is ready while the app accepts connections, not ready once it stops', async () => {
    const app = await startApp();
    const { base } = await start({ appPort: app.port });
    expect(await getJson(`${base}/readyz`)).toMatchObject({
      status: 200,
      body: { status: 'ok', checks: { config: 'pass', app: 'pass' } },
    });
    await new Promise<void>((resolve) => app.server.close(() => resolve()));
    const notReady = await getJson(`${base}/readyz`);
    expect(notReady.status).toBe(503);
    expect(notReady.body.failing).toEqual([
      {
        name: 'app',
        error: expect.stringContaining(`connect to 127.0.0.1:${app.port} failed: ECONNREFUSED`),
      },
    ]);
  });

  it('waits for checks registered later (Raft joined) and bounds slow checks', async () => {
    const app = await startApp();
    const { base, checks } = await start({ appPort: app.port });
    let joined = false;
    checks.register({
      name: 'raft',
      check: () => {
        if (!joined) throw new Error('not joined: no leader known');
        return 'member of shop/orders';
      },
    });
    checks.register({
      name: 'stuck',
      readiness: false,
      timeoutMs: 50,
      check: () => new Promise<void>(() => undefined),
    });
    expect((await getJson(`${base}/readyz`)).body.failing).toEqual([
      { name: 'raft', error: 'not joined: no leader known' },
    ]);
    joined = true;
    expect((await getJson(`${base}/readyz`)).status).toBe(200); // `stuck` is not a readiness check
    const health = await getJson(`${base}/healthz`);
    expect(health.status).toBe(503);
    const byName = Object.fromEntries(
      (health.body.checks as { name: string }[]).map((c) => [c.name, c]),
    );
    expect(byName.stuck).toMatchObject({
      status: 'fail',
      error: 'timed out after 50 ms',
      readiness: false,
    });
    expect(byName.raft).toMatchObject({
      status: 'pass',
      detail: 'member of shop/orders',
      lastError: { message: 'not joined: no leader known' },
    });
  });

  it('details every check with timings and the config reload state on /healthz', async () => {
    const app = await startApp();
    const { base, store } = await start({ appPort: app.port });
    const healthy = await getJson(`${base}/healthz`);
    expect(healthy.status).toBe(200);
    expect(healthy.body.status).toBe('pass');
    expect(healthy.body.checks).toEqual([
      {
        name: 'config',
        status: 'pass',
        readiness: true,
        durationMs: expect.any(Number),
        detail: 'version v1 (generation 1)',
      },
      {
        name: 'app',
        status: 'pass',
        readiness: true,
        durationMs: expect.any(Number),
        detail: `connected to 127.0.0.1:${app.port}`,
      },
    ]);
    expect(healthy.body.config).toMatchObject({ version: 'v1', generation: 1, lastFailure: null });

    await store.apply({ version: 'v2', app: { host: '127.0.0.1', port: -1 } }, 'sidecar.yaml');
    const warned = await getJson(`${base}/healthz`);
    expect(warned.status).toBe(200);
    expect(warned.body.status).toBe('warn');
    expect(warned.body.config).toMatchObject({
      version: 'v1',
      lastFailure: {
        code: 'CONFIG_INVALID',
        keptVersion: 'v1',
        message: expect.stringContaining('app.port'),
      },
    });

    // Reverting the bad edit (content equal to what is in force) clears the warning.
    await store.apply({
      version: 'v1',
      app: { host: '127.0.0.1', port: app.port },
      redis: { url: 'redis://default:hunter2@redis.palisade:6379' },
    });
    const reverted = await getJson(`${base}/healthz`);
    expect(reverted.body.status).toBe('pass');
    expect(reverted.body.config).toMatchObject({ lastReload: { status: 'unchanged' } });
  });

  it('serves Prometheus text with its content type', async () => {
    const app = await startApp();
    const { base, metrics } = await start({ appPort: app.port });
    metrics.forRoute('inbound', 'orders').record(200, 0.001);
    const response = await fetch(`${base}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = await response.text();
    expect(text).toContain('palisade_config_info{version="v1"} 1');
    expect(text).toContain(
      'palisade_requests_total{direction="inbound",route="orders",code="200"} 1',
    );
  });

  it('serves the config in force with its version, secrets redacted', async () => {
    const app = await startApp();
    const { base } = await start({ appPort: app.port });
    const { status, body } = await getJson(`${base}/config`);
    expect(status).toBe(200);
    expect(body).toMatchObject({ version: 'v1', generation: 1 });
    const config = body.config as { redis: { url: string }; listeners: Record<string, unknown> };
    expect(config.redis.url).toBe('redis://default:[REDACTED]@redis.palisade:6379');
    expect(JSON.stringify(body)).not.toContain('hunter2');
    expect(config.listeners).toMatchObject({ adminHost: '127.0.0.1', admin: 15000 });
  });

  it('answers unknown paths and wrong methods with JSON codes', async () => {
    const app = await startApp();
    const { base } = await start({ appPort: app.port });
    expect(await getJson(`${base}/nope`)).toMatchObject({
      status: 404,
      body: { error: { code: 'NOT_FOUND' } },
    });
    const wrong = await getJson(`${base}/livez`, { method: 'POST' });
    expect(wrong).toMatchObject({ status: 405, body: { error: { code: 'METHOD_NOT_ALLOWED' } } });
    expect(wrong.headers.get('allow')).toBe('GET, HEAD');
  });

  it('refuses a non-loopback Host header (DNS rebinding)', async () => {
    const app = await startApp();
    const { port } = await start({ appPort: app.port });
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest(
        { host: '127.0.0.1', port, path: '/config', headers: { host: 'evil.example:15000' } },
        (res) => {
          let body = '';
          res.on('data', (chunk: Buffer) => (body += chunk.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      req.end();
    });
    expect(answer.status).toBe(403);
    expect(JSON.parse(answer.body)).toMatchObject({ error: { code: 'FORBIDDEN_HOST' } });
  });

  describe('mounted routers', () => {
    type Acquire = { holder: string; ttl: string };
    const validateAcquire = (value: unknown): ValidationResult<Acquire> => {
      const body = value as Partial<Acquire> | undefined;
      const errors = [];
      if (typeof body?.holder !== 'string')
        errors.push({ field: 'holder', message: 'Required value' });
      if (typeof body?.ttl !== 'string') errors.push({ field: 'ttl', message: 'Required value' });
      return errors.length === 0 ? { ok: true, value: body as Acquire } : { ok: false, errors };
    };

    async function withLeases(admin: AdminServer): Promise<void> {
      const router = express.Router();
      router.post('/:name/acquire', (req, res) => {
        const body = validateBody(req, validateAcquire);
        if (req.params.name === 'taken') throw new AdminHttpError(409, 'LEASE_HELD', 'held by b');
        res.json({ granted: true, holder: body.holder, name: req.params.name });
      });
      router.get('/boom', () => {
        throw new Error('bug');
      });
      admin.mount('/v1/leases', router);
    }

    const post = (url: string, body: string, contentType = 'application/json') =>
      getJson(url, { method: 'POST', body, headers: { 'content-type': contentType } });

    it('routes to a router mounted after listen, with validated JSON bodies', async () => {
      const app = await startApp();
      const { base, admin } = await start({ appPort: app.port });
      await withLeases(admin);
      expect(
        await post(`${base}/v1/leases/orders/acquire`, '{"holder":"a","ttl":"10s"}'),
      ).toMatchObject({
        status: 200,
        body: { granted: true, holder: 'a', name: 'orders' },
      });
      expect(await post(`${base}/v1/leases/orders/acquire`, '{"holder":1}')).toMatchObject({
        status: 400,
        body: {
          error: {
            code: 'INVALID_REQUEST',
            details: [
              { field: 'holder', message: 'Required value' },
              { field: 'ttl', message: 'Required value' },
            ],
          },
        },
      });
      expect(
        await post(`${base}/v1/leases/taken/acquire`, '{"holder":"a","ttl":"1s"}'),
      ).toMatchObject({
        status: 409,
        body: { error: { code: 'LEASE_HELD' } },
      });
    });

    it('maps malformed, oversized and non-JSON bodies and handler bugs to JSON errors', async () => {
      const app = await startApp();
      const { base, admin } = await start({ appPort: app.port });
      await withLeases(admin);
      const url = `${base}/v1/leases/orders/acquire`;
      expect(await post(url, '{"holder":')).toMatchObject({
        status: 400,
        body: { error: { code: 'INVALID_JSON' } },
      });
      expect(
        await post(url, JSON.stringify({ holder: 'x'.repeat(70 * 1024), ttl: '1s' })),
      ).toMatchObject({
        status: 413,
        body: { error: { code: 'BODY_TOO_LARGE' } },
      });
      expect(await post(url, 'holder=a', 'application/x-www-form-urlencoded')).toMatchObject({
        status: 415,
        body: { error: { code: 'UNSUPPORTED_MEDIA_TYPE' } },
      });
      expect(await getJson(`${base}/v1/leases/boom`)).toMatchObject({
        status: 500,
        body: { error: { code: 'INTERNAL' } },
      });
      expect(() => admin.mount('/metrics', express.Router())).toThrow('built-in path');
    });
  });
});
