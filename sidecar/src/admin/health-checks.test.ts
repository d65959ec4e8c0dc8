import { describe, expect, it } from '@jest/globals';
import { createServer } from 'node:net';
import { tcpConnectCheck } from './checks.js';
import { HealthChecks } from './health-checks.js';

describe('HealthChecks', () => {
  it('shares one run between concurrent probes of a check', async () => {
    const checks = new HealthChecks();
    let runs = 0;
    let release: () => void = () => undefined;
    checks.register({
      name: 'slow',
      check: () => {
        runs++;
        return new Promise<void>((resolve) => (release = resolve));
      },
    });
    const a = checks.run('all');
    const b = checks.run('readiness');
    release();
    const [ra, rb] = await Promise.all([a, b]);
    expect(runs).toBe(1);
    expect(ra[0]).toBe(rb[0]);
    await checks.run('all');
    release();
    expect(runs).toBe(2);
  });

  it('measures durations with the injected clock and keeps the last error', async () => {
    let t = 0;
    const checks = new HealthChecks({ monotonicNow: () => t, now: () => 86_400_000 });
    let fail = true;
    checks.register({
      name: 'x',
      check: () => {
        t += 12.5;
        if (fail) throw new Error('down');
      },
    });
    expect(await checks.run('all')).toEqual([
      {
        name: 'x',
        status: 'fail',
        readiness: true,
        durationMs: 12.5,
        error: 'down',
        lastError: { message: 'down', at: '1970-01-02T00:00:00.000Z' },
      },
    ]);
    fail = false;
    expect((await checks.run('all'))[0]).toMatchObject({
      status: 'pass',
      lastError: { message: 'down' },
    });
  });

  it('refuses two checks with one name', () => {
    const checks = new HealthChecks();
    checks.register({ name: 'app', check: () => undefined });
    expect(() => checks.register({ name: 'app', check: () => undefined })).toThrow(
      'already registered',
    );
  });
});

describe('tcpConnectCheck', () => {
  it('caches its result for cacheMs, then connects again', async () => {
    let accepted = 0;
    const server = createServer((socket) => {
      accepted++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    let t = 0;
    const check = tcpConnectCheck({
      target: () => ({ host: '127.0.0.1', port }),
      cacheMs: 1000,
      now: () => t,
    });
    try {
      expect(await check()).toBe(`connected to 127.0.0.1:${port}`);
      t = 999;
      await check();
      const waitForAccepts = async (n: number) => {
        const deadline = Date.now() + 2000;
        while (accepted < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      };
      await waitForAccepts(1);
      expect(accepted).toBe(1);
      t = 1000;
      await check();
      await waitForAccepts(2);
      expect(accepted).toBe(2);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
