/**
 * Fault injection through the real sidecar process: aborts and latency for a percentage of
 * matching requests, by direction. The sidecar runs with `--seed` so a failing run replays;
 * assertions are statistical bounds (±4.5 standard deviations of the binomial) that hold for
 * any seed.
 */
import { describe, expect, it } from '@jest/globals';
import http from 'node:http';
import {
  send,
  type HttpAnswer,
  type SidecarProcess,
  type TestConfig,
} from './support/sidecar-process.js';
import { useSidecarHarness } from './support/sidecar-harness.js';

const SEED = 20261123;

const { defer, echo, sidecar: startSidecar } = useSidecarHarness();

function sidecar(config: TestConfig): Promise<SidecarProcess> {
  return startSidecar(config, ['--seed', String(SEED)]);
}

/** Bounds of a binomial count (n, p) at ±4.5 σ: a correct sampler fails this ~1 in 150,000 runs. */
function bounds(n: number, p: number): [number, number] {
  const sd = Math.sqrt(n * p * (1 - p));
  return [n * p - 4.5 * sd, n * p + 4.5 * sd];
}

/** Sends `n` requests over `concurrency` keep-alive connections; returns answers and durations. */
async function load(
  port: number,
  n: number,
  concurrency: number,
  path: string,
): Promise<{ answer: HttpAnswer; ms: number }[]> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  defer(async () => agent.destroy());
  const results: { answer: HttpAnswer; ms: number }[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        next++;
        const start = performance.now();
        const answer = await send(port, { path, agent });
        results.push({ answer, ms: performance.now() - start });
      }
    }),
  );
  return results;
}

describe('fault injection', () => {
  it('aborts the configured share of matching inbound requests and nothing else', async () => {
    const app = await echo();
    const sc = await sidecar({
      version: 'faults-abort',
      app: { host: '127.0.0.1', port: app.port },
      faults: [
        {
          experiment: 'shop/abort-drill',
          type: 'abort',
          httpStatus: 503,
          percentage: 30,
          direction: 'inbound',
          match: { pathPrefix: '/faulty' },
        },
      ],
    });
    const results = await load(sc.ports.inbound, 400, 8, '/faulty/x');
    const aborted = results.filter((r) => r.answer.status === 503);
    const passed = results.filter((r) => r.answer.status === 200);
    expect(aborted.length + passed.length).toBe(400);
    const [low, high] = bounds(400, 0.3);
    expect(aborted.length).toBeGreaterThan(low);
    expect(aborted.length).toBeLessThan(high);
    for (const r of aborted) {
      expect(r.answer.headers['x-palisade-fault']).toBe('abort; experiment=shop/abort-drill');
      expect(r.answer.headers['x-palisade-error']).toBe('FAULT_INJECTED');
    }
    expect(app.requests()).toBe(passed.length); // aborted requests never reached the app
    expect(
      await sc.metric('palisade_faults_injected_total', {
        experiment: 'shop/abort-drill',
        type: 'abort',
      }),
    ).toBe(aborted.length);

    // Outside the match, and in the other direction: untouched.
    const outside = await load(sc.ports.inbound, 40, 4, '/healthy');
    expect(outside.every((r) => r.answer.status === 200)).toBe(true);
    const outbound = await send(sc.ports.outbound, {
      path: `http://127.0.0.1:${app.port}/faulty/y`,
      headers: { host: `127.0.0.1:${app.port}` },
    });
    expect(outbound.status).toBe(200);
    console.log(
      `abort 30%: ${aborted.length}/400 aborted (bounds ${low.toFixed(0)}–${high.toFixed(0)}, seed ${SEED})`,
    );
  });

  it('delays the configured share of requests by the configured latency', async () => {
    const app = await echo();
    const delayMs = 300;
    const sc = await sidecar({
      version: 'faults-latency',
      app: { host: '127.0.0.1', port: app.port },
      faults: [
        {
          experiment: 'shop/latency-drill',
          type: 'latency',
          delay: `${delayMs}ms`,
          percentage: 25,
          direction: 'inbound',
        },
      ],
    });
    const results = await load(sc.ports.inbound, 400, 16, '/slow-maybe');
    expect(results.every((r) => r.answer.status === 200)).toBe(true);
    const injected =
      (await sc.metric('palisade_faults_injected_total', {
        experiment: 'shop/latency-drill',
        type: 'latency',
      })) ?? 0;
    const [low, high] = bounds(400, 0.25);
    expect(injected).toBeGreaterThan(low);
    expect(injected).toBeLessThan(high);
    // Every delayed request took at least the delay (load only adds time, so this is exact)…
    const slow = results.filter((r) => r.ms >= delayMs - 2).length;
    expect(slow).toBeGreaterThanOrEqual(injected);
    // …and most of the others did not: the delay is not applied across the board. (The
    // allowance is for a heavily shared machine, where queueing alone can take that long.)
    expect(slow - injected).toBeLessThan((400 - injected) / 4);
    const fast = results
      .filter((r) => r.ms < delayMs - 2)
      .map((r) => r.ms)
      .sort((a, b) => a - b);
    console.log(
      `latency 25% × ${delayMs} ms: ${injected}/400 injected (bounds ${low.toFixed(0)}–${high.toFixed(0)}), ` +
        `${slow} took ≥ ${delayMs - 2} ms, others p50 ${fast[Math.floor(fast.length / 2)]?.toFixed(1)} ms`,
    );
  });

  it('injects outbound faults on outbound calls only', async () => {
    const app = await echo();
    const sc = await sidecar({
      version: 'faults-outbound',
      app: { host: '127.0.0.1', port: app.port },
      faults: [
        {
          experiment: 'shop/deps-down',
          type: 'abort',
          httpStatus: 502,
          percentage: 100,
          direction: 'outbound',
          match: { pathPrefix: '/deps' },
        },
      ],
    });
    const outbound = await send(sc.ports.outbound, {
      path: `http://127.0.0.1:${app.port}/deps/payments`,
      headers: { host: `127.0.0.1:${app.port}` },
    });
    expect(outbound.status).toBe(502);
    expect(outbound.headers['x-palisade-fault']).toBe('abort; experiment=shop/deps-down');
    expect((await send(sc.ports.inbound, { path: '/deps/payments' })).status).toBe(200);
    expect(app.requests()).toBe(1);
  });
});
