/**
 * bench:ratelimit — the global rate limit with real processes: three palisade-sidecar binaries
 * sharing one limit through one redis-server (Debian's package).
 *
 * 1. Accuracy: each sidecar is offered the whole limit (3× overload together) for
 *    BENCH_RL_SECONDS; admitted requests are counted per 1 s window (by the time the client sent
 *    them) and over the run, against the limit.
 * 2. Outage: Redis is killed (SIGKILL) mid-run while requests keep coming on a fail-open and a
 *    fail-closed rule; every request's answer and time are recorded against the rules' timeout.
 *
 * Writes bench/results/ratelimit-<date>.{json,md}. Wall-clock figures are upper bounds on a
 * shared machine.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {
  freePort,
  startRedis,
  startSidecarBinary,
  stop,
  waitForPort,
  writeSidecarConfig,
} from './bench-processes.js';
import { writeResults } from './bench-results.js';

const seconds = Number(process.env.BENCH_RL_SECONDS ?? 10);
/**
 * The shared limit: 2 requests per 10 ms = 200 req/s with a capacity of 2 — as many as one
 * sidecar's tick of load brings at once, and 0.1% of what a 10 s run admits.
 */
const limit = { requests: 2, period: '10ms' };
const limitPerSecond = 200;
const outageTimeoutMs = 50;
const sidecarCount = 3;
const anyCore = os.cpus().length > 1 ? '0-1' : '0';

interface Answer {
  readonly sidecar: number;
  readonly path: string;
  /** ms since the run started, when sent. */
  readonly sentMs: number;
  readonly latencyMs: number;
  /** 0: no answer (connection error). */
  readonly status: number;
}

/** Sends one request and resolves with its answer (never rejects). */
function send(agent: http.Agent, port: number, urlPath: string): Promise<number> {
  return new Promise((resolve) => {
    const req = http.request(
      { host: '127.0.0.1', port, path: urlPath, agent, method: 'GET' },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', () => resolve(0));
      },
    );
    req.on('error', () => resolve(0));
    req.end();
  });
}

/**
 * Offers `perSecond` requests per second on each path to each port for `durationMs`, in ticks of
 * 10 ms (so a tick's requests arrive together, as real bursts do). Calls `at(ms)` hooks.
 */
async function offer(
  ports: readonly number[],
  paths: readonly string[],
  perSecond: number,
  durationMs: number,
  hooks: { atMs: number; run: () => void }[] = [],
): Promise<Answer[]> {
  const agents = ports.map(() => new http.Agent({ keepAlive: true, maxSockets: 16 }));
  const answers: Promise<Answer>[] = [];
  const start = performance.now();
  const perTick = perSecond / 100;
  let owed = 0;
  for (let tick = 0; tick * 10 < durationMs; tick++) {
    const due = start + tick * 10;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    for (const hook of hooks.filter((h) => h.atMs === tick * 10)) hook.run();
    owed += perTick;
    const n = Math.floor(owed);
    owed -= n;
    for (let i = 0; i < n; i++) {
      // The sidecar served first takes the turn's tokens when a tick's requests reach Redis in
      // the order they were sent: the first sidecar rotates each tick, so that no sidecar is
      // favoured by this client's order (with a fixed order the first admitted 3-5× the last).
      for (let k = 0; k < ports.length; k++) {
        const sidecar = (tick + k) % ports.length;
        const port = ports[sidecar] as number;
        for (const urlPath of paths) {
          const sent = performance.now();
          answers.push(
            send(agents[sidecar] as http.Agent, port, urlPath).then((status) => ({
              sidecar,
              path: urlPath,
              sentMs: sent - start,
              latencyMs: performance.now() - sent,
              status,
            })),
          );
        }
      }
    }
  }
  const all = await Promise.all(answers);
  for (const agent of agents) agent.destroy();
  return all;
}

/** A trivial app: 200 with a short body. */
function startApp(): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

async function startSidecars(
  dir: string,
  name: string,
  count: number,
  appPort: number,
  policies: object,
): Promise<{ ports: number[]; children: ChildProcess[] }> {
  const ports: number[] = [];
  const children: ChildProcess[] = [];
  for (let i = 0; i < count; i++) {
    const port = await freePort();
    const file = await writeSidecarConfig(
      dir,
      `${name}-${i}`,
      { app: appPort, inbound: port },
      'error',
      policies,
    );
    children.push(startSidecarBinary(anyCore, file));
    ports.push(port);
  }
  try {
    await Promise.all(ports.map((port, i) => waitForPort(port, children[i] as ChildProcess)));
  } catch (error) {
    await Promise.all(children.map(stop));
    throw error;
  }
  return { ports, children };
}

function globalRule(name: string, match: object, failureMode: 'open' | 'closed', spec: object) {
  return {
    policy: 'bench/shared',
    name,
    match,
    limit: spec,
    key: { type: 'global' },
    scope: 'global',
    failureMode,
  };
}

function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

async function accuracy(dir: string, appPort: number, redisUrl: string) {
  // A generous decision budget: this run measures accuracy, not outage behaviour.
  const { ports, children } = await startSidecars(dir, 'accuracy', sidecarCount, appPort, {
    redis: { url: redisUrl, timeout: '1s' },
    rateLimits: [globalRule('shared', { pathPrefix: '/' }, 'closed', limit)],
  });
  try {
    // Warm-up (JIT, Redis connections), then the measured run on a fresh key window.
    await offer(ports, ['/warm'], 50, 1000);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const answers = await offer(ports, ['/'], limitPerSecond, seconds * 1000);
    const admitted = answers.filter((a) => a.status === 200);
    const windows = Array.from(
      { length: seconds },
      (_, s) => admitted.filter((a) => a.sentMs >= s * 1000 && a.sentMs < (s + 1) * 1000).length,
    );
    const lastAnswerMs = Math.max(...answers.map((a) => a.sentMs + a.latencyMs));
    return {
      offered: answers.length,
      admitted: admitted.length,
      refused: answers.filter((a) => a.status === 429).length,
      errors: answers.filter((a) => a.status !== 200 && a.status !== 429).length,
      perSidecar: ports.map((_, i) => admitted.filter((a) => a.sidecar === i).length),
      windows,
      limitPerWindow: limitPerSecond,
      maxWindowRatio: Math.max(...windows) / limitPerSecond,
      latencyP99Ms: percentile(
        answers.map((a) => a.latencyMs),
        99,
      ),
      // Over the whole run: GCRA admits at most capacity (2) + elapsed × rate.
      runBound: 2 + (lastAnswerMs / 1000) * limitPerSecond,
      runRatio: admitted.length / (seconds * limitPerSecond),
    };
  } finally {
    await Promise.all(children.map(stop));
  }
}

async function outage(dir: string, appPort: number, redis: { port: number; child: ChildProcess }) {
  // Far above the load (60 req/s in all), and under the token-lease threshold (capacity 1,000):
  // every decision goes to Redis, so each answer after the kill is failureMode's, not a token
  // leased before it (decision 0005).
  const high = { requests: 999, period: '1s' };
  const { ports, children } = await startSidecars(dir, 'outage', sidecarCount, appPort, {
    redis: { url: `redis://127.0.0.1:${redis.port}`, timeout: `${outageTimeoutMs}ms` },
    rateLimits: [
      globalRule('fail-open', { pathPrefix: '/open' }, 'open', high),
      globalRule('fail-closed', { pathPrefix: '/closed' }, 'closed', high),
    ],
  });
  try {
    await offer(ports, ['/open', '/closed'], 20, 1000);
    const killAtMs = 2000;
    // A light load (60 req/s in all): the run measures decision time, not queueing.
    const answers = await offer(ports, ['/open', '/closed'], 10, 6000, [
      { atMs: killAtMs, run: () => redis.child.kill('SIGKILL') },
    ]);
    const summary = (mode: string, expected: number) => {
      const after = answers.filter((a) => a.path === `/${mode}` && a.sentMs >= killAtMs);
      const latencies = after.map((a) => a.latencyMs);
      return {
        requests: after.length,
        expectedStatus: expected,
        asExpected: after.filter((a) => a.status === expected).length,
        statuses: Object.fromEntries(
          [...new Set(after.map((a) => a.status))].map((s) => [
            s,
            after.filter((a) => a.status === s).length,
          ]),
        ),
        p50Ms: percentile(latencies, 50),
        p99Ms: percentile(latencies, 99),
        maxMs: Math.max(...latencies),
      };
    };
    const before = answers.filter((a) => a.sentMs < killAtMs);
    const beforeLatencies = before.map((a) => a.latencyMs);
    return {
      timeoutMs: outageTimeoutMs,
      beforeKill: {
        requests: before.length,
        ok: before.filter((a) => a.status === 200).length,
        p99Ms: percentile(beforeLatencies, 99),
        maxMs: Math.max(...beforeLatencies),
      },
      open: summary('open', 200),
      closed: summary('closed', 429),
    };
  } finally {
    await Promise.all(children.map(stop));
  }
}

type OutageSummary = Awaited<ReturnType<typeof outage>>['open'];

function outageRow(name: string, s: OutageSummary): string {
  return (
    `| ${name} | ${s.requests} | ${s.asExpected} (${s.expectedStatus}) | ${JSON.stringify(s.statuses)} | ` +
    `${s.p50Ms.toFixed(1)} | ${s.p99Ms.toFixed(1)} | ${s.maxMs.toFixed(1)} |`
  );
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'palisade-bench-rl-'));
  const app = await startApp();
  const appPort = (app.address() as AddressInfo).port;
  const redisPort = await freePort();
  let redis = startRedis(anyCore, redisPort);
  try {
    await waitForPort(redisPort, redis);
    process.stderr.write('bench:ratelimit: accuracy (3 sidecars, 3x overload)…\n');
    const acc = await accuracy(dir, appPort, `redis://127.0.0.1:${redisPort}`);
    await stop(redis);
    const outagePort = await freePort();
    redis = startRedis(anyCore, outagePort);
    await waitForPort(outagePort, redis);
    process.stderr.write('bench:ratelimit: Redis killed mid-run…\n');
    const out = await outage(dir, appPort, { port: outagePort, child: redis });
    const date = new Date().toISOString();
    const command = `BENCH_RL_SECONDS=${seconds} node bench/dist/ratelimit-accuracy.js (run by bench/run-proxy.sh)`;
    const machine = `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, load average ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}, Node ${process.version}`;
    const md =
      `# bench:ratelimit ${date}\n\nCommand: \`${command}\`\n\nMachine: ${machine}\n\n` +
      `## Accuracy: ${sidecarCount} palisade-sidecar processes, one global limit in one Redis, 3× overload\n\n` +
      `Limit ${limitPerSecond} req/s (\`{requests: 2, period: 10ms}\`, GCRA, capacity 2), each sidecar offered ${limitPerSecond} req/s for ${seconds} s.\n\n` +
      `| offered | admitted | refused (429) | errors | admitted / limit over the run | run bound (capacity + elapsed × rate) | admitted per 1 s window | worst window / limit |\n|---|---|---|---|---|---|---|---|\n` +
      `| ${acc.offered} | ${acc.admitted} (per sidecar ${acc.perSidecar.join('/')}) | ${acc.refused} | ${acc.errors} | ${(acc.runRatio * 100).toFixed(2)}% | ${acc.runBound.toFixed(0)} | ${acc.windows.join(', ')} | ${(acc.maxWindowRatio * 100).toFixed(2)}% |\n\n` +
      `Windows are by the client's send time: a request decided after a boundary counts in the window before it, so when requests queue (request latency p99 here: ${acc.latencyP99Ms.toFixed(0)} ms) the per-second counts smear; the run total is the figure to hold against the limit.\n\n` +
      `## Redis killed (SIGKILL) mid-run: ${sidecarCount} sidecars, redis.timeout ${out.timeoutMs} ms\n\n` +
      `Before the kill: ${out.beforeKill.ok}/${out.beforeKill.requests} answered 200 (a fail-closed decision Redis did not make within ${out.timeoutMs} ms is a 429); request latency p99 ${out.beforeKill.p99Ms.toFixed(1)} ms, max ${out.beforeKill.maxMs.toFixed(1)} ms.\n\n` +
      `| rule | requests after the kill | answered as failureMode says | statuses | p50 ms | p99 ms | max ms |\n|---|---|---|---|---|---|---|\n` +
      [
        outageRow('fail-open (/open)', out.open),
        outageRow('fail-closed (/closed)', out.closed),
      ].join('\n') +
      `\n\nLatency is the whole request as the client saw it (proxy + app + decision) on a shared machine: an upper bound.\n`;
    process.stdout.write(`\n${md}`);
    const written = writeResults(
      'ratelimit',
      date,
      { date, command, machine, limitPerSecond, seconds, accuracy: acc, outage: out },
      md,
    );
    process.stderr.write(`bench:ratelimit: wrote ${written}\n`);
  } finally {
    await stop(redis);
    app.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
