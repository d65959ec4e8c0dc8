/**
 * bench:proxy — one run, same machine, same upstream, same load generator: direct · Palisade
 * inbound (no policy) · Palisade with pass-through filters · nginx · HAProxy, each as a plain
 * reverse proxy with one worker, pinned to core 0; wrk (one thread) and the upstream share
 * core 1. Prints a table of ratios to nginx and writes bench/results/proxy-<date>.{json,md}.
 * Before any load, each process's idle cost is read too (CPU of all its threads and wake-ups of its main thread per second, over 3 s):
 * a sidecar in every pod must not spend CPU while its pod does nothing.
 *
 * Upstream: nginx answering a fixed 1 KiB body (`return 200`), one worker. Chosen over a Node echo
 * server because it costs a few µs per request, so it steals little of core 1 from wrk and adds
 * the least noise to every row alike.
 *
 * Environment: BENCH_SECONDS (per measured run, default 10), BENCH_RATE (default 1000),
 * BENCH_TARGETS (comma list to run a subset; `direct` always runs), BENCH_EVERY_FILTER_WITHOUT
 * (comma list of parts left out of the every-filter row: local, global, breaker, fault, retries,
 * tracing — what each costs is the row with it minus the row without), BENCH_WARMUP_SECONDS (the
 * warm-up at saturation before each target's measured runs, default 3; 15 gave the same
 * every-filter figures, decision 0019 round 6).
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import {
  freePort,
  pinned,
  sidecarNodeFlags,
  startSidecarBinary,
  stop,
  waitForPort,
  writeSidecarConfig,
} from './bench-processes.js';
import { writeResults } from './bench-results.js';
import {
  EVERY_FILTER_PARTS,
  everyFilter,
  isEveryFilterPart,
  startBenchServices,
  type Services,
} from './proxy-fixtures.js';

const benchDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const warmupSeconds = Number(process.env.BENCH_WARMUP_SECONDS ?? Math.min(3, seconds));
if (!Number.isInteger(warmupSeconds) || warmupSeconds < 1) {
  process.stderr.write(`bench:proxy: BENCH_WARMUP_SECONDS must be a whole number ≥ 1\n`);
  process.exit(2);
}
const rate = Number(process.env.BENCH_RATE ?? 1000);
/** Parts left out of the every-filter row, to measure what each costs (proxy-fixtures.ts). */
const everyFilterParts = (process.env.BENCH_EVERY_FILTER_WITHOUT ?? '')
  .split(',')
  .map((part) => part.trim())
  .filter((part) => part !== '');
const everyFilterWithout = everyFilterParts.filter(isEveryFilterPart);
const unknownParts = everyFilterParts.filter((part) => !isEveryFilterPart(part));
if (unknownParts.length > 0) {
  process.stderr.write(
    `bench:proxy: BENCH_EVERY_FILTER_WITHOUT: unknown ${unknownParts.join(', ')} (known: ${EVERY_FILTER_PARTS.join(', ')})\n`,
  );
  process.exit(2);
}
const latencyConnections = 16;
const saturationConnections = 32;
const clockTicks = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim());
const cores = os.cpus().length;
const proxyCore = '0';
const loadCore = cores > 1 ? '1' : '0';

/** One row of the benchmark. */
interface Target {
  readonly name: string;
  /** Starts the proxy on `port` in front of the upstream; null for `direct`. */
  readonly start:
    | ((
        port: number,
        upstreamPort: number,
        dir: string,
        services: Services,
      ) => ChildProcess | Promise<ChildProcess>)
    | null;
}

interface WrkResult {
  requests: number;
  durationUs: number;
  errors: { connect: number; read: number; write: number; status: number; timeout: number };
  p50Us: number;
  p90Us: number;
  p99Us: number;
  maxUs: number;
  meanUs: number;
}

interface Row {
  name: string;
  fixedRate: {
    rps: number;
    p50Us: number;
    p90Us: number;
    p99Us: number;
    cpuUsPerRequest: number | null;
    /** Time the proxy waited for a CPU, per request: how much other tenants disturbed the row. */
    runQueueWaitUsPerRequest: number | null;
    errors: number;
  };
  saturation: {
    rps: number;
    p50Us: number;
    p99Us: number;
    cpuUsPerRequest: number | null;
    errors: number;
  };
  rssKiB: number | null;
  peakRssKiB: number | null;
  /** Before any load, after start-up settled: what the process costs doing nothing. */
  idle: { cpuMsPerSecond: number; wakeupsPerSecond: number } | null;
}

/** The pid doing the work: taskset execs the command, so it is the child's own pid. */
function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15)
}

/** Nanoseconds the process's main thread spent runnable but waiting for a CPU (scheduler contention). */
function runQueueWaitNs(pid: number): number {
  return Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[1]);
}

/** Voluntary context switches of the main thread: each is one sleep, so one wake-up later. */
function wakeups(pid: number): number {
  return statusFields(pid, ['voluntary_ctxt_switches'])[0] as number;
}

/** Seconds of the idle measurement, after one second for start-up to settle. */
const idleSeconds = 3;

/**
 * CPU time of all the process's threads in ns, from the scheduler's own accounting
 * (`/proc/<pid>/task/<tid>/schedstat`): exact, where utime/stime come in 10 ms ticks, too coarse
 * for a few ms of idle CPU.
 */
function cpuNsAllThreads(pid: number): number {
  let total = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      total += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return total;
}

async function measureIdle(pid: number): Promise<NonNullable<Row['idle']>> {
  await sleep(1000);
  const cpu0 = cpuNsAllThreads(pid);
  const woken0 = wakeups(pid);
  await sleep(idleSeconds * 1000);
  return {
    cpuMsPerSecond: (cpuNsAllThreads(pid) - cpu0) / 1e6 / idleSeconds,
    wakeupsPerSecond: (wakeups(pid) - woken0) / idleSeconds,
  };
}

/** Numeric fields of `/proc/<pid>/status` (the main thread's, for per-thread ones), NaN if absent. */
function statusFields(pid: number, keys: readonly string[]): number[] {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return keys.map((key) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? NaN));
}

function memoryKiB(pid: number): { rss: number; peak: number } {
  const [rss, peak] = statusFields(pid, ['VmRSS', 'VmHWM']) as [number, number];
  return { rss, peak };
}

function wrk(
  port: number,
  connections: number,
  duration: number,
  delayMs: number,
): Promise<WrkResult> {
  const args = [
    '-c',
    loadCore,
    'wrk',
    '-t1',
    `-c${connections}`,
    `-d${duration}s`,
    '--latency',
    '-s',
    path.join(benchDir, 'lua/post-1k.lua'),
    `http://127.0.0.1:${port}/`,
  ];
  return new Promise((resolve, reject) => {
    const child = spawn('taskset', args, {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: {
        ...process.env,
        WRK_DELAY_MS: String(delayMs),
        WRK_RATE: delayMs > 0 ? String(rate) : '0',
        WRK_CONNECTIONS: String(connections),
      },
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('exit', () => {
      const line = out.split('\n').find((l) => l.startsWith('WRK_JSON '));
      if (line === undefined) reject(new Error(`wrk gave no result: ${out}`));
      else resolve(JSON.parse(line.slice('WRK_JSON '.length)) as WrkResult);
    });
  });
}

function errorCount(r: WrkResult): number {
  return r.errors.connect + r.errors.read + r.errors.write + r.errors.status + r.errors.timeout;
}

function nginxProxyConfig(dir: string, port: number, upstreamPort: number): string {
  return `worker_processes 1;
daemon off;
master_process off;
error_log ${dir}/nginx-error.log warn;
pid ${dir}/nginx.pid;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/n-body; proxy_temp_path ${dir}/n-proxy; fastcgi_temp_path ${dir}/n-fcgi;
  uwsgi_temp_path ${dir}/n-uwsgi; scgi_temp_path ${dir}/n-scgi;
  keepalive_requests 10000000;
  upstream app { server 127.0.0.1:${upstreamPort}; keepalive 64; keepalive_requests 10000000; }
  server {
    listen 127.0.0.1:${port} backlog=4096;
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
    }
  }
}
`;
}

function haproxyConfig(port: number, upstreamPort: number): string {
  return `global
  nbthread 1
  maxconn 4000
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  option http-keep-alive
frontend fe
  bind 127.0.0.1:${port}
  option forwardfor
  default_backend be
backend be
  http-reuse always
  server app 127.0.0.1:${upstreamPort}
`;
}

const sidecarEntry = path.join(benchDir, 'dist/proxy-sidecar.js');
const naiveEntry = path.join(benchDir, 'dist/proxy-naive.js');

function sidecar(...extra: string[]): Target['start'] {
  return (port, up) =>
    pinned(proxyCore, process.execPath, [
      sidecarEntry,
      '--port',
      String(port),
      '--app-port',
      String(up),
      ...extra,
    ]);
}

/**
 * The real palisade-sidecar binary from a SidecarConfig: `policies` adds sections to the minimal
 * config (app, listeners on free ports, log level warn).
 */
function sidecarWithConfig(
  name: string,
  policies: (services: Services) => object,
): NonNullable<Target['start']> {
  return async (port, up, dir, services) => {
    const ports = { app: up, inbound: port };
    const file = await writeSidecarConfig(dir, name, ports, 'warn', policies(services));
    return startSidecarBinary(proxyCore, file);
  };
}

function naive(kind: string): Target['start'] {
  return (port, up) =>
    pinned(proxyCore, process.execPath, [naiveEntry, kind, String(port), String(up)]);
}

/**
 * The rows. The default set is the comparison of the issue (the sidecar rows are the real
 * binary started from a SidecarConfig); the others (BENCH_TARGETS) are the steps of
 * docs/decisions/0006-proxy-data-path.md, on the bare inbound proxy of proxy-sidecar.ts.
 */
const allTargets: (Target & { readonly byDefault: boolean })[] = [
  { name: 'direct', start: null, byDefault: true },
  { name: 'palisade', start: sidecarWithConfig('palisade', () => ({})), byDefault: true },
  {
    name: 'palisade-every-filter',
    start: sidecarWithConfig('palisade-every-filter', (services) =>
      everyFilter(services, everyFilterWithout),
    ),
    byDefault: true,
  },
  { name: 'proxy-only', start: sidecar('--filters', 'none'), byDefault: false },
  {
    name: 'proxy-only-passthrough-filters',
    start: sidecar('--filters', 'passthrough'),
    byDefault: false,
  },
  {
    name: 'nginx',
    byDefault: true,
    start: (port, up, dir) => {
      const file = path.join(dir, 'nginx-proxy.conf');
      writeFileSync(file, nginxProxyConfig(dir, port, up));
      return pinned(proxyCore, 'nginx', ['-e', `${dir}/nginx-stderr.log`, '-c', file]);
    },
  },
  {
    name: 'haproxy',
    byDefault: true,
    start: (port, up, dir) => {
      const file = path.join(dir, 'haproxy.cfg');
      writeFileSync(file, haproxyConfig(port, up));
      return pinned(proxyCore, 'haproxy', ['-db', '-f', file]);
    },
  },
  { name: 'node-floor', start: naive('floor'), byDefault: false },
  { name: 'node-tcp-relay', start: naive('tcp-relay'), byDefault: false },
  { name: 'naive-agent', start: naive('agent'), byDefault: false },
  { name: 'naive-undici-request', start: naive('undici-request'), byDefault: false },
  {
    name: 'palisade-streamed-bodies',
    start: sidecar('--filters', 'none', '--buffer-body-bytes', '0'),
    byDefault: false,
  },
];

async function measure(
  target: Target,
  upstreamPort: number,
  dir: string,
  services: Services,
): Promise<Row> {
  const port = target.start === null ? upstreamPort : await freePort();
  const child =
    target.start === null ? null : await target.start(port, upstreamPort, dir, services);
  try {
    await waitForPort(port, child);
    const pid = child?.pid ?? null;
    const idle = pid === null ? null : await measureIdle(pid);
    // Warm-up: JIT, connection pools.
    await wrk(port, saturationConnections, warmupSeconds, 0);
    // Fixed rate: 16 connections each pausing so that together they send ≈ BENCH_RATE req/s
    // (the Lua script corrects the mean pause once a second for the target's latency). The
    // pauses are exponentially distributed (lua/post-1k.lua), so arrivals are close to a
    // Poisson stream instead of the connections firing in step.
    const delayMs = Math.max(0, Math.round((latencyConnections * 1000) / rate) - 1);
    const cpu0 = pid === null ? 0 : cpuTicks(pid);
    const wait0 = pid === null ? 0 : runQueueWaitNs(pid);
    const fixed = await wrk(port, latencyConnections, seconds, delayMs);
    const cpu1 = pid === null ? 0 : cpuTicks(pid);
    const wait1 = pid === null ? 0 : runQueueWaitNs(pid);
    const saturated = await wrk(port, saturationConnections, seconds, 0);
    const cpu2 = pid === null ? 0 : cpuTicks(pid);
    const memory = pid === null ? null : memoryKiB(pid);
    const perRequest = (ticks: number, requests: number): number | null =>
      pid === null || requests === 0 ? null : (ticks * 1e6) / clockTicks / requests;
    return {
      name: target.name,
      fixedRate: {
        rps: fixed.requests / (fixed.durationUs / 1e6),
        p50Us: fixed.p50Us,
        p90Us: fixed.p90Us,
        p99Us: fixed.p99Us,
        cpuUsPerRequest: perRequest(cpu1 - cpu0, fixed.requests),
        runQueueWaitUsPerRequest:
          pid === null || fixed.requests === 0 ? null : (wait1 - wait0) / 1000 / fixed.requests,
        errors: errorCount(fixed),
      },
      saturation: {
        rps: saturated.requests / (saturated.durationUs / 1e6),
        p50Us: saturated.p50Us,
        p99Us: saturated.p99Us,
        cpuUsPerRequest: perRequest(cpu2 - cpu1, saturated.requests),
        errors: errorCount(saturated),
      },
      rssKiB: memory?.rss ?? null,
      peakRssKiB: memory?.peak ?? null,
      idle,
    };
  } finally {
    if (child !== null) await stop(child);
  }
}

function fmt(value: number | null, digits = 0): string {
  return value === null || !Number.isFinite(value) ? '–' : value.toFixed(digits);
}

function ratio(value: number | null, base: number | null): string {
  return value === null || base === null || base === 0 ? '–' : `${(value / base).toFixed(2)}×`;
}

function table(rows: Row[]): string {
  const direct = rows.find((r) => r.name === 'direct');
  const nginx = rows.find((r) => r.name === 'nginx') ?? null;
  const lines = [
    `| target | added p50 µs | added p90 µs | added p99 µs | CPU µs/req @${rate}/s (× nginx) | CPU µs/req @sat (× nginx) | max req/s (× nginx) | RSS MiB (× nginx) | errors |`,
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    const added = (key: 'p50Us' | 'p90Us' | 'p99Us'): string =>
      r.name === 'direct' || direct === undefined
        ? `(${r.fixedRate[key]})`
        : fmt(r.fixedRate[key] - direct.fixedRate[key]);
    lines.push(
      `| ${r.name} | ${added('p50Us')} | ${added('p90Us')} | ${added('p99Us')} | ` +
        `${fmt(r.fixedRate.cpuUsPerRequest, 1)} (${ratio(r.fixedRate.cpuUsPerRequest, nginx?.fixedRate.cpuUsPerRequest ?? null)}) | ` +
        `${fmt(r.saturation.cpuUsPerRequest, 1)} (${ratio(r.saturation.cpuUsPerRequest, nginx?.saturation.cpuUsPerRequest ?? null)}) | ` +
        `${fmt(r.saturation.rps)} (${ratio(r.saturation.rps, nginx?.saturation.rps ?? null)}) | ` +
        `${fmt(r.rssKiB === null ? null : r.rssKiB / 1024, 1)} (${ratio(r.rssKiB, nginx?.rssKiB ?? null)}) | ` +
        `${r.fixedRate.errors + r.saturation.errors} |`,
    );
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const wanted = process.env.BENCH_TARGETS?.split(',').map((s) => s.trim());
  const targets = allTargets.filter(
    (t) => t.name === 'direct' || (wanted === undefined ? t.byDefault : wanted.includes(t.name)),
  );
  const repeat = Math.max(1, Number(process.env.BENCH_REPEAT ?? 1));
  const dir = mkdtempSync(path.join(os.tmpdir(), 'palisade-bench-'));
  // Redis and the OTLP sink share the load core with wrk and the upstream.
  const { upstreamPort, services, stop: stopServices } = await startBenchServices(dir, loadCore);
  const rows: Row[] = [];
  try {
    // Rounds interleave the targets so that a burst of noise from other tenants hits them alike.
    for (let round = 0; round < repeat; round++) {
      for (const target of targets) {
        process.stderr.write(`bench:proxy: round ${round + 1}/${repeat}: ${target.name}…\n`);
        try {
          rows.push(await measure(target, upstreamPort, dir, services));
        } catch (error) {
          // One broken row must not lose the others; the failure is printed and the row omitted.
          process.stderr.write(`bench:proxy: ${target.name} failed: ${String(error)}\n`);
        }
      }
    }
  } finally {
    await stopServices();
    rmSync(dir, { recursive: true, force: true });
  }
  const date = new Date().toISOString();
  const command = `BENCH_SECONDS=${seconds} BENCH_RATE=${rate} BENCH_REPEAT=${repeat}${wanted ? ` BENCH_TARGETS=${wanted.join(',')}` : ''}${everyFilterWithout.length > 0 ? ` BENCH_EVERY_FILTER_WITHOUT=${everyFilterWithout.join(',')}` : ''}${process.env.BENCH_WARMUP_SECONDS === undefined ? '' : ` BENCH_WARMUP_SECONDS=${warmupSeconds}`} bench/run-proxy.sh`;
  const machine = `${cores} × ${os.cpus()[0]?.model ?? 'cpu'}, load average ${os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}, Node ${process.version}`;
  const nginxVersion =
    execFileSync('nginx', ['-v'], { stdio: ['ignore', 'pipe', 'pipe'] }).toString() || 'nginx';
  // Per target, the least disturbed round: the one with the lowest CPU per request at saturation.
  const best = targets
    .map(
      (t) =>
        rows
          .filter((r) => r.name === t.name)
          .sort(
            (a, b) =>
              (a.saturation.cpuUsPerRequest ?? 0) - (b.saturation.cpuUsPerRequest ?? 0) ||
              a.fixedRate.p50Us - b.fixedRate.p50Us,
          )[0],
    )
    .filter((r): r is Row => r !== undefined);
  const text = table(best);
  const md =
    `# bench:proxy ${date}\n\nCommand: \`${command}\`\n\nMachine: ${machine}\n\n` +
    `Setup: proxy pinned to core ${proxyCore}; wrk (1 thread), upstream nginx (fixed 1 KiB answer), redis-server and an OTLP sink on core ${loadCore}. ` +
    `palisade rows: the palisade-sidecar binary (node ${sidecarNodeFlags.join(' ')}) from a SidecarConfig — no policy, or every filter (local + global rate limit far above the load, inbound breaker with requestTimeout, abort fault at 0%, retries, tracing at 10%)${everyFilterWithout.length > 0 ? `, every filter here WITHOUT ${everyFilterWithout.join(', ')}` : ''}. ` +
    `Fixed rate: ${latencyConnections} connections, 1 KiB POST bodies, ≈${rate} req/s (wrk + exponentially distributed per-connection pauses), ${seconds} s. ` +
    `Saturation: ${saturationConnections} connections, ${seconds} s. "added" latency = target − direct at the fixed rate. ` +
    `CPU per request = Δ(utime+stime) of the proxy process from /proc / requests completed. RSS = VmRSS after the saturation run.\n\n` +
    `${text}\n\nScheduler wait of the proxy per request at the fixed rate (µs; other tenants' load): ` +
    `${best.map((r) => `${r.name} ${fmt(r.fixedRate.runQueueWaitUsPerRequest)}`).join(', ')}\n\n` +
    `Idle, before any load (${idleSeconds} s, one second after start; CPU ms per second, wake-ups of the main thread per second): ` +
    `${best
      .filter((r) => r.idle !== null)
      .map(
        (r) =>
          `${r.name} ${fmt(r.idle?.cpuMsPerSecond ?? null, 1)} ms/s, ${fmt(r.idle?.wakeupsPerSecond ?? null, 1)}/s`,
      )
      .join('; ')}\n\n` +
    `Rows: the least disturbed of ${repeat} interleaved round(s) per target (lowest CPU/req at saturation); every round is in the JSON.\n\nFixed-rate achieved req/s: ${best.map((r) => `${r.name} ${fmt(r.fixedRate.rps)}`).join(', ')}\n`;
  process.stdout.write(`\n${text}\n`);
  const written = writeResults(
    'proxy',
    date,
    {
      date,
      command,
      machine,
      nginxVersion: nginxVersion.trim(),
      seconds,
      rate,
      repeat,
      best,
      rounds: rows,
    },
    md,
  );
  process.stderr.write(`bench:proxy: wrote ${written}\n`);
}

await main();
