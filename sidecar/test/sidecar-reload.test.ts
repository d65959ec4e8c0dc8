/**
 * Hot reload of the real sidecar process: the config file is rewritten while a load loop runs
 * on keep-alive connections; new limits apply, no request fails, no connection is dropped, and
 * `/config` shows the new version. A broken file keeps the last good config in force and is
 * reported on `/healthz`, in a metric and in the log.
 */
import { describe, expect, it } from '@jest/globals';
import http from 'node:http';
import type { Socket } from 'node:net';
import { send, waitFor, type TestConfig } from './support/sidecar-process.js';
import { useSidecarHarness } from './support/sidecar-harness.js';

const { defer, echo, sidecar } = useSidecarHarness();

function limitedConfig(version: string, appPort: number, requests: number): TestConfig {
  return {
    version,
    app: { host: '127.0.0.1', port: appPort },
    rateLimits: [
      {
        policy: 'shop/limits',
        name: 'limited',
        match: { pathPrefix: '/limited' },
        limit: { requests, period: '1m' },
        key: { type: 'header', name: 'x-user-id' },
      },
    ],
    circuitBreakers: [
      {
        policy: 'shop/app',
        target: { direction: 'inbound' },
        trip: { consecutiveFailures: 1000 },
        openDuration: '1s',
      },
    ],
  };
}

/** Requests on `connections` keep-alive connections until stopped; every failure is recorded. */
function loadLoop(port: number, connections: number) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  const sockets = new Set<Socket>();
  const failures: string[] = [];
  let ok = 0;
  let running = true;
  const worker = async (id: number): Promise<void> => {
    while (running) {
      try {
        const answer = await new Promise<number>((resolve, reject) => {
          const req = http.request(
            {
              host: '127.0.0.1',
              port,
              path: `/load/${id}`,
              agent,
              headers: { 'x-user-id': `w${id}` },
            },
            (res) => {
              res.resume();
              res.on('end', () => resolve(res.statusCode ?? 0));
              res.on('error', reject);
            },
          );
          req.on('socket', (socket: Socket) => sockets.add(socket));
          req.on('error', reject);
          req.end();
        });
        if (answer === 200) ok++;
        else failures.push(`status ${answer}`);
      } catch (error) {
        failures.push(String(error));
      }
    }
  };
  const done = Promise.all(Array.from({ length: connections }, (_, i) => worker(i)));
  return {
    ok: () => ok,
    failures,
    sockets,
    stop: async () => {
      running = false;
      await done;
      agent.destroy();
    },
  };
}

describe('hot reload', () => {
  it('applies rewritten configs under load with zero failed requests and no dropped connection', async () => {
    const app = await echo();
    const sc = await sidecar(limitedConfig('v1', app.port, 1000));
    const limited = (user: string) =>
      send(sc.ports.inbound, { path: '/limited', headers: { 'x-user-id': user } });
    for (let i = 0; i < 3; i++) expect((await limited('alice')).status).toBe(200);

    const loop = loadLoop(sc.ports.inbound, 8);
    defer(() => loop.stop());
    await waitFor('the load loop to run', () => loop.ok() >= 50, 10_000);

    // v2: a much lower limit on /limited.
    await sc.writeConfig(limitedConfig('v2', app.port, 2));
    await waitFor(
      '/config to show v2',
      async () => JSON.parse((await sc.admin('/config')).body).version === 'v2',
    );
    expect((await limited('bob')).status).toBe(200);
    expect((await limited('bob')).status).toBe(200);
    const refused = await limited('bob');
    expect(refused.status).toBe(429);
    expect(refused.headers['ratelimit-policy']).toBe('"limited";q=2;w=60');

    // v3 and v4 in quick succession, still under load.
    const before = loop.ok();
    await sc.writeConfig(limitedConfig('v3', app.port, 5));
    await waitFor(
      '/config to show v3',
      async () => JSON.parse((await sc.admin('/config')).body).version === 'v3',
    );
    await sc.writeConfig(limitedConfig('v4', app.port, 3));
    await waitFor(
      '/config to show v4',
      async () => JSON.parse((await sc.admin('/config')).body).version === 'v4',
    );
    for (let i = 0; i < 3; i++) expect((await limited('carol')).status).toBe(200);
    expect((await limited('carol')).status).toBe(429);
    await waitFor('more load after the reloads', () => loop.ok() >= before + 100, 10_000);

    await loop.stop();
    expect(loop.failures).toEqual([]);
    // Keep-alive connections survived every swap: no more sockets than workers.
    expect(loop.sockets.size).toBeLessThanOrEqual(8);
    expect(await sc.metric('palisade_config_info', { version: 'v4' })).toBe(1);
    expect(await sc.metric('palisade_config_info', { version: 'v1' })).toBeUndefined();
    const config = JSON.parse((await sc.admin('/config')).body) as { generation: number };
    expect(config.generation).toBe(4);
    expect(
      sc
        .logs()
        .filter((l) => l.msg === 'config applied')
        .map((l) => l.version),
    ).toEqual(['v2', 'v3', 'v4']);
    console.log(
      `hot reload: ${loop.ok()} requests on 8 keep-alive connections across 3 reloads, 0 failed`,
    );
  });

  it('keeps the last good config when the new one is invalid, and reports it', async () => {
    const app = await echo();
    const sc = await sidecar(limitedConfig('good', app.port, 2));
    expect(await sc.metric('palisade_config_reload_errors_total')).toBe(0);

    // Schema-invalid: negative limit.
    const broken = sc.withListeners(limitedConfig('broken', app.port, 2));
    (broken.rateLimits as { limit: { requests: number } }[])[0]!.limit.requests = -1;
    await sc.writeRaw(JSON.stringify(broken));
    await waitFor(
      'the reload error metric',
      async () => (await sc.metric('palisade_config_reload_errors_total')) === 1,
    );
    const health = await sc.admin('/healthz');
    expect(health.status).toBe(200);
    const body = JSON.parse(health.body) as {
      status: string;
      config: {
        version: string;
        lastFailure: { code: string; message: string; keptVersion: string };
      };
    };
    expect(body.status).toBe('warn');
    expect(body.config.version).toBe('good');
    expect(body.config.lastFailure.code).toBe('CONFIG_INVALID');
    expect(body.config.lastFailure.keptVersion).toBe('good');
    expect(body.config.lastFailure.message).toMatch(/requests/);
    expect(JSON.parse((await sc.admin('/config')).body).version).toBe('good');
    // The good config's limit is still enforced.
    const limited = () =>
      send(sc.ports.inbound, { path: '/limited', headers: { 'x-user-id': 'dave' } });
    expect((await limited()).status).toBe(200);
    expect((await limited()).status).toBe(200);
    expect((await limited()).status).toBe(429);
    expect(
      sc
        .logs()
        .some(
          (l) =>
            l.level === 'error' &&
            typeof l.msg === 'string' &&
            l.msg.includes('config reload refused'),
        ),
    ).toBe(true);

    // Not YAML at all: refused the same way.
    await sc.writeRaw('version: [unclosed\n');
    await waitFor(
      'the second reload error',
      async () => (await sc.metric('palisade_config_reload_errors_total')) === 2,
    );
    expect(JSON.parse((await sc.admin('/healthz')).body).config.lastFailure.code).toBe(
      'CONFIG_PARSE_FAILED',
    );

    // Refused by the policy compiler (a global limit with no Redis): refused, nothing swapped.
    const noRedis = limitedConfig('no-redis', app.port, 2);
    (noRedis.rateLimits as { scope?: string }[])[0]!.scope = 'global';
    await sc.writeConfig(noRedis);
    await waitFor(
      'the third reload error',
      async () => (await sc.metric('palisade_config_reload_errors_total')) === 3,
    );
    const refusedByRoutes = JSON.parse((await sc.admin('/healthz')).body).config.lastFailure;
    expect(refusedByRoutes.code).toBe('CONFIG_APPLY_FAILED');
    expect(refusedByRoutes.message).toContain('no redis is configured');

    // A good config again: healthy, new version.
    await sc.writeConfig(limitedConfig('fixed', app.port, 2));
    await waitFor(
      '/config to show the fixed version',
      async () => JSON.parse((await sc.admin('/config')).body).version === 'fixed',
    );
    expect(JSON.parse((await sc.admin('/healthz')).body).status).toBe('pass');
  });
  it('carries an open breaker and a drained bucket over a reload that leaves them unchanged', async () => {
    const app = await echo();
    const config = (version: string, faults: unknown[]): TestConfig => ({
      version,
      app: { host: '127.0.0.1', port: app.port },
      rateLimits: [
        {
          policy: 'shop/limits',
          name: 'tight',
          match: { pathPrefix: '/tight' },
          limit: { requests: 1, period: '1m' },
          key: { type: 'global' },
        },
      ],
      circuitBreakers: [
        {
          policy: 'shop/app',
          target: { direction: 'inbound' },
          trip: { consecutiveFailures: 2 },
          openDuration: '30s',
        },
      ],
      faults,
    });
    const sc = await sidecar(config('keep-1', []));
    expect((await send(sc.ports.inbound, { path: '/tight' })).status).toBe(200);
    expect((await send(sc.ports.inbound, { path: '/tight' })).status).toBe(429);
    for (let i = 0; i < 2; i++)
      expect((await send(sc.ports.inbound, { headers: { 'x-echo-status': '500' } })).status).toBe(
        500,
      );
    expect((await send(sc.ports.inbound)).status).toBe(503);

    // Another section changes (a fault on an unrelated path): routes are recompiled.
    await sc.writeConfig(
      config('keep-2', [
        {
          experiment: 'shop/x',
          type: 'abort',
          httpStatus: 418,
          direction: 'inbound',
          match: { path: '/teapot' },
        },
      ]),
    );
    await waitFor(
      '/config to show keep-2',
      async () => JSON.parse((await sc.admin('/config')).body).version === 'keep-2',
    );
    expect((await send(sc.ports.inbound, { path: '/teapot' })).status).toBe(418); // new fault in force
    expect((await send(sc.ports.inbound)).status).toBe(503); // breaker still open
    expect(
      await sc.metric('palisade_circuit_breaker_state', { breaker: 'shop/app', target: 'inbound' }),
    ).toBe(1);

    // Changing the breaker's settings starts a fresh (closed) one; the unchanged bucket stays drained.
    const changed = config('keep-3', []);
    (changed.circuitBreakers as { openDuration: string }[])[0]!.openDuration = '20s';
    await sc.writeConfig(changed);
    await waitFor(
      '/config to show keep-3',
      async () => JSON.parse((await sc.admin('/config')).body).version === 'keep-3',
    );
    expect(
      await sc.metric('palisade_circuit_breaker_state', { breaker: 'shop/app', target: 'inbound' }),
    ).toBe(0);
    expect((await send(sc.ports.inbound)).status).toBe(200);
    expect((await send(sc.ports.inbound, { path: '/tight' })).status).toBe(429);
  });
});
