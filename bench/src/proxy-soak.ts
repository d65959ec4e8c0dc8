/**
 * bench:proxy-soak — does load leave the sidecar's memory behind, and does it grow with requests
 * or connections? The real palisade-sidecar binary with every filter on (the SidecarConfig of
 * bench:proxy) is pinned to core 0; wrk, the nginx upstream, redis-server and an OTLP sink share
 * core 1. Phases, one after the other: idle after start; keep-alive load (32 connections) in
 * steps; one connection per request; slow clients (headers trickled a byte a second until the
 * sidecar's head timeout closes them); keep-alive again; idle. After each phase a preloaded probe
 * (proxy-soak-probe.ts) runs two full GCs and reports RSS and the V8 heap: live memory that grows
 * from step to step is a leak; RSS that stays above idle with the live heap back at idle is
 * memory the process keeps (V8 old-generation pages, allocator arenas), not a leak.
 *
 * Environment: SOAK_STEP_SECONDS (per load phase, default 20), SOAK_SETTLE_SECONDS (idle time
 * after each load phase before the probe, default 10), SOAK_STEPS (keep-alive steps,
 * default 3), SOAK_SLOW_CLIENTS (default 256), SOAK_NODE_FLAGS (extra flags for the sidecar), PALISADE_SOAK_SNAPSHOT_DIR (heap snapshot per probe).
 * Writes bench/results/proxy-soak-<date>.{json,md}.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  freePort,
  pinned,
  sidecarBinary,
  sidecarNodeFlags,
  stop,
  waitForPort,
  writeSidecarConfig,
} from './bench-processes.js';
import { everyFilter, startBenchServices } from './proxy-fixtures.js';
import { writeResults } from './bench-results.js';

const benchDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const probeModule = path.join(benchDir, 'dist/proxy-soak-probe.js');
const stepSeconds = Number(process.env.SOAK_STEP_SECONDS ?? 20);
const steps = Number(process.env.SOAK_STEPS ?? 3);
const slowClientCount = Number(process.env.SOAK_SLOW_CLIENTS ?? 256);
/** Extra Node flags for the sidecar, to compare V8 settings (e.g. SOAK_NODE_FLAGS="--foo=1"). */
const extraNodeFlags = (process.env.SOAK_NODE_FLAGS ?? '').split(' ').filter(Boolean);
const settleSeconds = Number(process.env.SOAK_SETTLE_SECONDS ?? 10);
const connections = 32;
const clockTicks = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim());
const proxyCore = '0';
const loadCore = os.cpus().length > 1 ? '1' : '0';

/** One line of the probe (proxy-soak-probe.ts). */
interface Probe {
  rssBeforeGcKiB: number;
  heapTotalBeforeGc: number;
  rssKiB: number;
  anonKiB: number;
  fileKiB: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
  activeResources: number;
}

interface Phase {
  name: string;
  requests: number;
  errors: number;
  cpuUsPerRequest: number | null;
  /** Read from /proc as the load ended, and after `settleSeconds` without load (no forced GC). */
  rssAtEndKiB: number | null;
  rssSettledKiB: number | null;
  probe: Probe;
}

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

function rssKiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? NaN);
}

const sleep = (seconds: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, seconds * 1000));

/** wrk at saturation for `seconds`; `extraHeaders` e.g. `Connection: close`. */
function wrk(
  port: number,
  seconds: number,
  extraHeaders: string[],
): Promise<{ requests: number; errors: number }> {
  const args = ['-c', loadCore, 'wrk', '-t1', `-c${connections}`, `-d${seconds}s`];
  for (const h of extraHeaders) args.push('-H', h);
  args.push('-s', path.join(benchDir, 'lua/post-1k.lua'), `http://127.0.0.1:${port}/`);
  return new Promise((resolve, reject) => {
    const child = spawn('taskset', args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('exit', () => {
      const line = out.split('\n').find((l) => l.startsWith('WRK_JSON '));
      if (line === undefined) return reject(new Error(`wrk gave no result: ${out}`));
      const r = JSON.parse(line.slice('WRK_JSON '.length)) as {
        requests: number;
        errors: Record<string, number>;
      };
      resolve({
        requests: r.requests,
        errors: Object.values(r.errors).reduce((a, b) => a + b, 0),
      });
    });
  });
}

/**
 * `count` clients that send a request head a byte a second and never finish it: each holds a
 * connection and a partial head until the sidecar's head timeout closes it. Resolves once every
 * one of them was closed by the sidecar (deadline 60 s).
 */
async function slowClients(port: number, count: number): Promise<void> {
  const head = 'POST / HTTP/1.1\r\nHost: soak\r\nContent-Length: 1024\r\nX-Slow: ';
  const sockets = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<net.Socket>((resolve, reject) => {
          const socket = net.connect(port, '127.0.0.1', () => resolve(socket));
          socket.once('error', reject);
        }),
    ),
  );
  let open = sockets.length;
  const closed = new Promise<void>((resolve) => {
    for (const socket of sockets) {
      socket.on('error', () => undefined);
      socket.resume();
      socket.once('close', () => {
        if (--open === 0) resolve();
      });
      socket.write(head);
    }
  });
  const trickle = setInterval(() => {
    for (const socket of sockets) if (!socket.destroyed) socket.write('a');
  }, 1_000);
  const deadline = new Promise<never>((_, reject) =>
    setTimeout(() => reject(new Error(`${open} slow clients still open after 60 s`)), 60_000),
  );
  try {
    await Promise.race([closed, deadline]);
  } finally {
    clearInterval(trickle);
    for (const socket of sockets) socket.destroy();
  }
}

/** Asks the probe in `pid` for a reading (SIGUSR2) and waits for its line in `file`. */
async function probe(pid: number, file: string): Promise<Probe> {
  const lines = (): string[] =>
    existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
  const before = lines().length;
  process.kill(pid, 'SIGUSR2');
  const deadline = performance.now() + 30_000;
  while (performance.now() < deadline) {
    const now = lines();
    if (now.length > before) return JSON.parse(now[now.length - 1]!) as Probe;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('the soak probe did not answer within 30 s');
}

const mb = (kib: number): string => (kib / 1024).toFixed(1);
const mib = (bytes: number): string => (bytes / 1048576).toFixed(1);

function table(phases: Phase[]): string {
  const header =
    `| phase | requests | errors | CPU µs/req | RSS at end of load | RSS ${settleSeconds} s later | heap total then | RSS after GC | anon | heap used | heap total | external | array buffers | active resources |\n` +
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n';
  return (
    header +
    phases
      .map((p) =>
        [
          p.name,
          p.requests,
          p.errors,
          p.cpuUsPerRequest === null ? '' : p.cpuUsPerRequest.toFixed(0),
          p.rssAtEndKiB === null ? '' : mb(p.rssAtEndKiB),
          mb(p.rssSettledKiB ?? p.probe.rssBeforeGcKiB),
          mib(p.probe.heapTotalBeforeGc),
          mb(p.probe.rssKiB),
          mb(p.probe.anonKiB),
          mib(p.probe.heapUsed),
          mib(p.probe.heapTotal),
          mib(p.probe.external),
          mib(p.probe.arrayBuffers),
          p.probe.activeResources,
        ].join(' | '),
      )
      .map((row) => `| ${row} |`)
      .join('\n') +
    '\n'
  );
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'palisade-soak-'));
  const probeFile = path.join(dir, 'probe.jsonl');
  const { upstreamPort, services, stop: stopServices } = await startBenchServices(dir, loadCore);
  const port = await freePort();
  const config = await writeSidecarConfig(
    dir,
    'palisade-soak',
    { app: upstreamPort, inbound: port },
    'warn',
    everyFilter(services),
  );
  // The probe's environment reaches the sidecar through the inherited environment.
  process.env.PALISADE_SOAK_PROBE_FILE = probeFile;
  const sidecar = pinned(proxyCore, process.execPath, [
    ...sidecarNodeFlags,
    ...extraNodeFlags,
    '--expose-gc',
    '--import',
    probeModule,
    sidecarBinary,
    '--config',
    config,
  ]);
  const phases: Phase[] = [];
  try {
    await waitForPort(port, sidecar);
    const pid = sidecar.pid!;
    const idle = async (name: string, seconds: number): Promise<void> => {
      await sleep(seconds);
      phases.push({
        name,
        requests: 0,
        errors: 0,
        cpuUsPerRequest: null,
        rssAtEndKiB: null,
        rssSettledKiB: null,
        probe: await probe(pid, probeFile),
      });
    };
    const load = async (name: string, run: () => Promise<{ requests: number; errors: number }>) => {
      process.stderr.write(`bench:proxy-soak: ${name}…\n`);
      const t0 = cpuTicks(pid);
      const { requests, errors } = await run();
      const cpuUs = ((cpuTicks(pid) - t0) / clockTicks) * 1e6;
      const rssAtEndKiB = rssKiB(pid);
      await sleep(settleSeconds);
      phases.push({
        name,
        requests,
        errors,
        cpuUsPerRequest: requests > 0 ? cpuUs / requests : null,
        rssAtEndKiB,
        rssSettledKiB: rssKiB(pid),
        probe: await probe(pid, probeFile),
      });
    };
    await idle('idle, 2 s after start', 2);
    for (let step = 1; step <= steps; step++)
      await load(`keep-alive ${connections} conns, step ${step} (${stepSeconds} s)`, () =>
        wrk(port, stepSeconds, []),
      );
    await load(`connection per request (${stepSeconds} s)`, () =>
      wrk(port, stepSeconds, ['Connection: close']),
    );
    await load(`${slowClientCount} slow clients until the head timeout`, async () => {
      await slowClients(port, slowClientCount);
      return { requests: 0, errors: 0 };
    });
    await load(`keep-alive again (${stepSeconds} s)`, () => wrk(port, stepSeconds, []));
    await idle('idle 10 s after the last probe', 10);
  } finally {
    await stop(sidecar);
    await stopServices();
    rmSync(dir, { recursive: true, force: true });
  }
  const date = new Date().toISOString();
  const command = `${extraNodeFlags.length > 0 ? `SOAK_NODE_FLAGS="${extraNodeFlags.join(' ')}" ` : ''}SOAK_STEP_SECONDS=${stepSeconds} SOAK_SETTLE_SECONDS=${settleSeconds} SOAK_STEPS=${steps} SOAK_SLOW_CLIENTS=${slowClientCount} bench/run-proxy-soak.sh`;
  const machine = `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, load average ${os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}, Node ${process.version}`;
  const text = table(phases);
  const md =
    `# bench:proxy-soak ${date}\n\nCommand: \`${command}\`\n\nMachine: ${machine}\n\n` +
    `Setup: the palisade-sidecar binary with every filter (the SidecarConfig of bench:proxy), flags ` +
    `\`${[...sidecarNodeFlags, ...extraNodeFlags].join(' ')}\` plus \`--expose-gc --import proxy-soak-probe.js\` (the probe), ` +
    `pinned to core ${proxyCore}; wrk (1 thread, 1 KiB POST bodies), nginx upstream, redis-server and an ` +
    `OTLP sink on core ${loadCore}. After each load phase: RSS as it ended, RSS ${settleSeconds} s later ` +
    `without load (V8 left to itself), then the probe runs two full GCs and the rest is read after ` +
    `them (MB = MiB; for the idle rows the second RSS column is the one just before the GCs).\n\n` +
    text;
  process.stdout.write(`\n${text}`);
  const written = writeResults('proxy-soak', date, { date, command, machine, phases }, md);
  process.stderr.write(`bench:proxy-soak: wrote ${written}\n`);
}

await main();
