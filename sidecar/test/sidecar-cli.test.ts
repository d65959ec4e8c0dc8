/**
 * `palisade-sidecar` as a user runs it: arguments and exit codes, start-up logs, the admin API,
 * the proxies in both directions with no policy, and SIGTERM draining requests in flight.
 */
import { describe, expect, it } from '@jest/globals';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type EchoReply, type EchoServer } from './support/echo-server.js';
import { rawExchange } from './support/http-raw.js';
import { runSidecarCli, send, waitFor, type SidecarProcess } from './support/sidecar-process.js';
import { useSidecarHarness } from './support/sidecar-harness.js';

const { echo, sidecar: startSidecar } = useSidecarHarness();

function sidecar(app: EchoServer, extra: Record<string, unknown> = {}): Promise<SidecarProcess> {
  return startSidecar({ version: 'v1', app: { host: '127.0.0.1', port: app.port }, ...extra });
}

describe('command line', () => {
  it('prints help and exits 0', async () => {
    const run = await runSidecarCli(['--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Usage: palisade-sidecar --config <file>');
  });

  it('exits 2 with a clear message without --config or with an unknown argument', async () => {
    const none = await runSidecarCli([]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('--config <file> is required');
    const unknown = await runSidecarCli(['--config', 'x.yaml', '--frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown argument "--frobnicate"');
  });

  it('exits 1 naming the field when the config is invalid, and when it is missing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'palisade-cli-'));
    const path = join(dir, 'bad.yaml');
    writeFileSync(path, 'version: v1\napp: {host: 127.0.0.1, port: 70000}\n');
    const bad = await runSidecarCli(['--config', path]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('CONFIG_INVALID');
    expect(bad.stderr).toMatch(/app\.port|\/app\/port/);
    const missing = await runSidecarCli(['--config', join(dir, 'nope.yaml')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('CONFIG_READ_FAILED');
  });
});

describe('a running sidecar', () => {
  it('logs its listeners and config version, and answers /livez /readyz /healthz /metrics /config', async () => {
    const app = await echo();
    const sc = await sidecar(app);
    const started = await waitFor('the start-up log line', () =>
      sc.logs().find((l) => typeof l.msg === 'string' && l.msg.includes('started')),
    );
    expect(started).toMatchObject({
      version: 'v1',
      listeners: {
        inbound: `0.0.0.0:${sc.ports.inbound}`,
        outbound: `127.0.0.1:${sc.ports.outbound}`,
        admin: `127.0.0.1:${sc.ports.admin}`,
      },
    });

    expect((await sc.admin('/livez')).status).toBe(200);
    const ready = await sc.admin('/readyz');
    expect(ready.status).toBe(200);
    expect(JSON.parse(ready.body)).toMatchObject({
      status: 'ok',
      checks: { config: 'pass', app: 'pass' },
    });
    const health = JSON.parse((await sc.admin('/healthz')).body) as {
      status: string;
      checks: { name: string; status: string; durationMs: number }[];
      config: { version: string };
    };
    expect(health.status).toBe('pass');
    expect(health.config.version).toBe('v1');
    expect(health.checks.map((c) => c.name).sort()).toEqual([
      'app',
      'config',
      'rate-limit-redis',
      'shutdown',
    ]);
    for (const check of health.checks) expect(typeof check.durationMs).toBe('number');
    const config = JSON.parse((await sc.admin('/config')).body) as {
      version: string;
      config: { app: { port: number } };
    };
    expect(config.version).toBe('v1');
    expect(config.config.app.port).toBe(app.port);
    expect(await sc.metric('palisade_config_info', { version: 'v1' })).toBe(1);
  });

  it('proxies inbound to the app and outbound to absolute-URI destinations, counting both', async () => {
    const app = await echo();
    const sc = await sidecar(app);
    const inbound = await send(sc.ports.inbound, { path: '/orders/7?x=1' });
    expect(inbound.status).toBe(200);
    expect((JSON.parse(inbound.body) as EchoReply).path).toBe('/orders/7?x=1');
    const outbound = await send(sc.ports.outbound, {
      path: `http://127.0.0.1:${app.port}/payments`,
      headers: { host: `127.0.0.1:${app.port}` },
    });
    expect(outbound.status).toBe(200);
    expect((JSON.parse(outbound.body) as EchoReply).path).toBe('/payments');
    expect(
      await sc.metric('palisade_requests_total', {
        direction: 'inbound',
        route: 'default',
        code: '200',
      }),
    ).toBe(1);
    expect(
      await sc.metric('palisade_requests_total', {
        direction: 'outbound',
        route: 'default',
        code: '200',
      }),
    ).toBe(1);
  });

  it('drains requests in flight on SIGTERM, refuses new work, and exits 0', async () => {
    const app = await echo();
    const sc = await sidecar(app);
    const slow = [1, 2, 3].map(() =>
      send(sc.ports.inbound, { headers: { 'x-echo-delay': '700' } }),
    );
    await waitFor('the slow requests to reach the app', () => app.requests() >= 3);
    sc.kill('SIGTERM');
    // Readiness fails while draining, so that a load balancer stops sending.
    // The admin API stays up until the proxies have drained.
    await waitFor(
      'readiness to fail while draining',
      async () => (await sc.admin('/readyz')).status === 503,
      3000,
    );
    const answers = await Promise.all(slow);
    for (const answer of answers) expect(answer.status).toBe(200);
    const exit = await sc.exited;
    expect(exit.code).toBe(0);
    await expect(send(sc.ports.inbound, { timeoutMs: 2000 })).rejects.toThrow();
    expect(sc.logs().some((l) => l.msg === 'palisade-sidecar stopped')).toBe(true);
  });
  it('answers bad input with the right status and stays up', async () => {
    const app = await echo();
    const sc = await sidecar(app);
    const smuggle = await rawExchange(
      sc.ports.inbound,
      'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n',
    );
    expect(smuggle.status).toBe(400);
    const huge = await rawExchange(
      sc.ports.inbound,
      `GET / HTTP/1.1\r\nHost: a\r\nX-Big: ${'x'.repeat(20_000)}\r\nConnection: close\r\n\r\n`,
    );
    expect(huge.status).toBe(431);
    const notAProxyRequest = await send(sc.ports.outbound, { path: '/relative' });
    expect(notAProxyRequest.status).toBe(400);
    // The app goes down: 502 naming the cause, and readiness says so.
    await app.stop();
    const down = await send(sc.ports.inbound);
    expect(down.status).toBe(502);
    expect(down.headers['x-palisade-error']).toBe('UPSTREAM_UNAVAILABLE');
    await waitFor('readiness to report the app down', async () => {
      const ready = await sc.admin('/readyz');
      return (
        ready.status === 503 &&
        (JSON.parse(ready.body) as { checks: { app: string } }).checks.app === 'fail'
      );
    });
    expect((await sc.admin('/livez')).status).toBe(200);
  });
});
