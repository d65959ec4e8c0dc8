/**
 * bench:raft — Palisade's Raft leases against a Kubernetes Lease election, in one run:
 *
 * 1. Failover: a 3-member group of real processes on loopback; SIGKILL the leader, then time
 *    until a surviving member's admin API grants an acquire (a new leader accepted a write).
 *    N trials (RAFT_BENCH_TRIALS, default 15); the killed member restarts between trials.
 *    Baseline: client-go's defaults on the local control plane (kubeconfig
 *    $HOME/.cache/palisade/cluster/admin.kubeconfig or KUBECONFIG) when reachable, else the
 *    analytical window only (said so in the output).
 * 2. Acquire latency at a fixed 100 and 1,000 ops/s (open loop: latency counted from the scheduled
 *    send time, so a stall is not hidden; also from the actual send time, and how late the client
 *    sent, so that server latency and client lateness can be told apart) against the leader's
 *    admin API, and the same against a durable Redis `SET NX PX` (raft-load.ts): the same-run
 *    baseline of a lock on this machine.
 * 3. Peak lease ops/s: closed loop, 256 keep-alive connections against the leader (group commit:
 *    every proposal that arrives during an fsync goes into the next Ready), and Redis likewise.
 *    CPU time per op of every member and of the client (from /proc): on a shared 2-core machine
 *    these are trustworthy where wall-clock rates are not, and they give the rate the group
 *    would sustain with both cores to itself.
 * 4. Contention: the time the members' threads waited for a CPU (schedstat run delay) per op at
 *    1,000 ops/s, next to the latency.
 *
 * RAFT_BENCH_ONLY=load skips the failover parts. RAFT_BENCH_NODE_ARGS adds `node` flags to the
 * members (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`: profiles written when they stop). Writes
 * bench/results/raft-<date>.json and .md.
 * The load average is recorded: on a shared machine the figures move with it.
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { Agent, request } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ProcessCluster,
  loopbackMembers,
  pollUntil,
} from '../../sidecar/dist/raft-node/testing/process-cluster.js';
import { leaseFailoverBoundsMs, measureLeaseFailover } from './raft-k8s-lease.js';
import {
  closedLoop,
  leaseAcquire,
  oneAtATime,
  openLoop,
  parseHttpAnswer,
  parseRespAnswer,
  percentile,
  redisSetNx,
  startDurableRedis,
  type LoadResult,
  type RateResult,
} from './raft-load.js';
import { writeResults } from './bench-results.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** CPU time (user + system) and run-queue wait of a process, all threads, in µs. */
function processTimes(pid: number): { cpuUs: number; waitUs: number } {
  const tick = 10_000; // USER_HZ = 100 on Linux: one clock tick = 10 ms
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const cpuUs = (Number(fields[11]) + Number(fields[12])) * tick;
  let waitUs = 0;
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    try {
      const [, delayNs] = readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ');
      waitUs += Number(delayNs) / 1000;
    } catch {
      // a thread that ended meanwhile
    }
  }
  return { cpuUs, waitUs };
}

/** Runs `load` and returns its result with the CPU and run-queue wait per op of each process. */
async function withProcessTimes<T extends { ok: number }>(
  pids: Readonly<Record<string, number>>,
  load: () => Promise<T>,
): Promise<T & { perOp: Record<string, { cpuUs: number; waitUs: number }> }> {
  const before = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, processTimes(pid)]));
  const result = await load();
  const perOp: Record<string, { cpuUs: number; waitUs: number }> = {};
  for (const [k, pid] of Object.entries(pids)) {
    const after = processTimes(pid);
    const start = before[k] as { cpuUs: number; waitUs: number };
    perOp[k] = {
      cpuUs: Math.round((after.cpuUs - start.cpuUs) / Math.max(1, result.ok)),
      waitUs: Math.round((after.waitUs - start.waitUs) / Math.max(1, result.ok)),
    };
  }
  return { ...result, perOp };
}

const agent = new Agent({ keepAlive: true, maxSockets: 512 });

function post(port: number, pathName: string, body: unknown): Promise<number> {
  return new Promise((resolve) => {
    const payload = JSON.stringify(body);
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: pathName,
        agent,
        headers: {
          host: `127.0.0.1:${port}`,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(payload),
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', () => resolve(0));
    req.end(payload);
  });
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function raftFailover(cluster: ProcessCluster, trials: number): Promise<number[]> {
  const results: number[] = [];
  for (let trial = 0; trial < trials; trial++) {
    const { leader } = await cluster.waitForLeader(20_000);
    await sleep(300 + Math.random() * 200); // a random point of the heartbeat cycle
    const survivors = cluster.members.map((m) => m.id).filter((id) => id !== leader);
    const killedAt = performance.now();
    await cluster.kill(leader);
    let attempt = 0;
    const acceptedAt = await pollUntil(
      'a write accepted after the kill',
      20_000,
      async () => {
        const id = survivors[attempt++ % survivors.length] as string;
        const status = await post(
          cluster.member(id).adminPort,
          `/v1/leases/failover-${trial}-${attempt}/acquire`,
          {
            holder: 'bench',
            ttl: '1s',
          },
        );
        return status === 200 ? performance.now() : undefined;
      },
      10,
    );
    results.push(acceptedAt - killedAt);
    process.stderr.write(
      `  raft failover trial ${trial + 1}/${trials}: ${(acceptedAt - killedAt).toFixed(0)} ms\n`,
    );
    await cluster.start(leader);
    await cluster.waitForLeader(20_000);
  }
  return results;
}

/**
 * The peak closed loop against a bare `node:http` server (raft-http-floor.ts): the CPU per request
 * of HTTP alone, with the same client and requests as the leader's.
 */
async function measureHttpFloor(): Promise<LoadFigures['peak']> {
  const child = spawn(process.execPath, [path.join(root, 'bench/dist/raft-http-floor.js')], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`the HTTP floor server exited with ${code}`)));
      child.stdout.once('data', (chunk: Buffer) => {
        resolve((JSON.parse(chunk.toString()) as { port: number }).port);
      });
    });
    const acquire = (w: number, i: number): string =>
      leaseAcquire(port, `peak-${w}-${i % 50}`, `w${w}`, 200);
    await closedLoop(port, parseHttpAnswer, 256, 1, acquire); // warm-up
    const pids = { client: process.pid, server: child.pid as number };
    return await withProcessTimes(pids, () => closedLoop(port, parseHttpAnswer, 256, 5, acquire));
  } finally {
    child.kill('SIGKILL');
  }
}

interface LoadFigures {
  sequential: Awaited<ReturnType<typeof oneAtATime>>;
  at100: RateResult;
  at1000: RateResult & { perOp: Record<string, { cpuUs: number; waitUs: number }> };
  peak: LoadResult & { perOp: Record<string, { cpuUs: number; waitUs: number }> };
}

/** Latency at 100 and 1,000 ops/s, then peak ops/s, against one port with one request shape. */
async function measureLoad(
  port: number,
  parse: typeof parseHttpAnswer,
  acquire: (name: string, holder: string, ttlMs: number) => string,
  pids: Record<string, number>,
): Promise<LoadFigures> {
  const seconds = Number(process.env.RAFT_BENCH_SECONDS ?? 10);
  const rate = (r: number, s: number): Promise<RateResult> =>
    openLoop(port, parse, r, s, (_w, i) => acquire(`lat-${i % 5000}`, `h${i}`, 100));
  await rate(500, 1); // warm-up (JIT, connections)
  const sequential = await oneAtATime(port, parse, 500, (_w, i) =>
    acquire(`one-${i % 5000}`, `h${i}`, 100),
  );
  const at100 = await rate(100, Math.min(seconds, 5));
  const at1000 = await withProcessTimes(pids, () => rate(1000, seconds));
  const peak = await withProcessTimes(pids, () =>
    closedLoop(port, parse, 256, 5, (w, i) => acquire(`peak-${w}-${i % 50}`, `w${w}`, 200)),
  );
  return { sequential, at100, at1000, peak };
}

async function main(): Promise<void> {
  const only = process.env.RAFT_BENCH_ONLY;
  const trials = Number(process.env.RAFT_BENCH_TRIALS ?? 15);
  const loadBefore = os.loadavg();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'palisade-bench-raft-'));
  const nodeArgs = (process.env.RAFT_BENCH_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
  const cluster = new ProcessCluster({
    dir,
    members: loopbackMembers(3),
    logLevel: 'warn',
    nodeArgs,
  });
  const out: Record<string, unknown> = {
    date: new Date().toISOString(),
    command: `${only ? `RAFT_BENCH_ONLY=${only} ` : ''}bash bench/run-raft.sh`,
    cpus: os.cpus().length,
    loadBefore,
  };
  let raftLoad: LoadFigures;
  let redisLoad: LoadFigures;
  try {
    await cluster.prepare();
    await cluster.startAll();
    if (only !== 'load') {
      process.stderr.write('raft failover…\n');
      const failover = await raftFailover(cluster, trials);
      out.raftFailoverMs = {
        trials: failover.length,
        p50: percentile(failover, 50),
        p99: percentile(failover, 99),
        max: Math.max(...failover),
        samples: failover.map(Math.round),
      };
    }
    const { leader } = await cluster.waitForLeader(20_000);
    const port = cluster.member(leader).adminPort;
    const pids: Record<string, number> = { client: process.pid };
    for (const m of cluster.members) {
      pids[m.id === leader ? 'leader' : `follower ${m.id}`] = cluster.pid(m.id) as number;
    }
    process.stderr.write('lease acquire latency and peak ops/s…\n');
    raftLoad = await measureLoad(
      port,
      parseHttpAnswer,
      (name, holder, ttl) => leaseAcquire(port, name, holder, ttl),
      pids,
    );
    out.raft = raftLoad;
    out.loadDuringRaft = os.loadavg();
    // The leader's own view of its saves (write + fdatasync → resolved, event-loop delay included).
    const metrics = String((await cluster.request(leader, 'GET', '/metrics')).body.raw ?? '');
    const metric = (name: string): number =>
      Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(metrics)?.[1] ?? NaN);
    const saves = metric('palisade_raft_append_duration_seconds_count');
    out.leaderSaves = {
      count: saves,
      meanMs: (1000 * metric('palisade_raft_append_duration_seconds_sum')) / saves,
      entriesPerSave: metric('palisade_raft_commit_index') / saves,
    };
  } finally {
    // SIGTERM when profiling: `--cpu-prof` writes its profile on a clean exit only.
    if (nodeArgs.length > 0) {
      await Promise.all(cluster.members.map((m) => cluster.kill(m.id, 'SIGTERM')));
    }
    await cluster.stopAll();
  }
  process.stderr.write('Redis SET NX PX (appendfsync always), same load…\n');
  const redis = await startDurableRedis(dir);
  try {
    redisLoad = await measureLoad(redis.port, parseRespAnswer, redisSetNx, {
      client: process.pid,
      redis: redis.pid,
    });
    out.redis = redisLoad;
  } finally {
    redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  process.stderr.write('bare node:http server (the HTTP floor), peak load…\n');
  const httpFloor = await measureHttpFloor();
  out.httpFloor = httpFloor;

  const kubeconfig =
    process.env.KUBECONFIG ?? path.join(os.homedir(), '.cache/palisade/cluster/admin.kubeconfig');
  const bounds = leaseFailoverBoundsMs();
  out.k8sLeaseAnalyticalMs = bounds;
  if (only === 'load') {
    out.k8sLeaseError = 'skipped (RAFT_BENCH_ONLY=load)';
  } else if (process.env.RAFT_BENCH_SKIP_K8S !== '1' && existsSync(kubeconfig)) {
    process.stderr.write('Kubernetes Lease failover (client-go defaults), 5 at a time…\n');
    try {
      const k8s = await measureLeaseFailover({
        kubeconfig,
        namespace: 'default',
        trials: Number(process.env.RAFT_BENCH_K8S_TRIALS ?? 10),
        parallel: 5,
      });
      out.k8sLeaseFailoverMs = {
        trials: k8s.length,
        p50: percentile(k8s, 50),
        p99: percentile(k8s, 99),
        samples: k8s.map(Math.round),
      };
    } catch (error) {
      out.k8sLeaseError = (error as Error).message;
    }
  } else {
    out.k8sLeaseError = `no control plane used (kubeconfig ${kubeconfig} absent or RAFT_BENCH_SKIP_K8S=1)`;
  }
  out.loadAfter = os.loadavg();

  const fmt = (n: number): string => (Number.isFinite(n) ? n.toFixed(n < 10 ? 2 : 0) : 'n/a');
  const md = [
    `# bench:raft — ${out.date as string}`,
    '',
    `Command: \`${out.command as string}\` · ${os.cpus().length} CPUs · load average before ${loadBefore.map((l) => l.toFixed(1)).join(' ')}, after ${(out.loadAfter as number[]).map((l) => l.toFixed(1)).join(' ')}`,
    '',
  ];
  const raft = out.raftFailoverMs as { p50: number; p99: number; trials: number } | undefined;
  if (raft) {
    const k8s = out.k8sLeaseFailoverMs as { p50: number; p99: number } | undefined;
    const base50 = k8s?.p50 ?? (bounds.min + bounds.max) / 2;
    const base99 = k8s?.p99 ?? bounds.max;
    out.ratios = {
      failoverP50: base50 / raft.p50,
      failoverP99: base99 / raft.p99,
      baseline: k8s ? 'measured' : 'analytical',
    };
    md.push(
      '| measure | Palisade Raft | Kubernetes Lease (client-go defaults) | ratio |',
      '|---|---|---|---|',
      `| failover p50 (kill leader → write accepted) | ${fmt(raft.p50)} ms | ${fmt(base50)} ms (${k8s ? 'measured' : 'analytical'}) | ${fmt(base50 / raft.p50)}× |`,
      `| failover p99 | ${fmt(raft.p99)} ms (${raft.trials} trials: p99 ≈ max) | ${fmt(base99)} ms | ${fmt(base99 / raft.p99)}× |`,
      '',
      `Analytical client-go window after a crash: ${fmt(bounds.min / 1000)}–${fmt(bounds.max / 1000)} s.`,
      '',
    );
  }
  const perOp = (figures: { perOp: Record<string, { cpuUs: number; waitUs: number }> }) =>
    Object.entries(figures.perOp)
      .map(([k, v]) => `${k} ${v.cpuUs}`)
      .join(' · ');
  const waits = (figures: { perOp: Record<string, { cpuUs: number; waitUs: number }> }) =>
    Object.entries(figures.perOp)
      .filter(([k]) => k !== 'client')
      .map(([k, v]) => `${k} ${v.waitUs}`)
      .join(' · ');
  const serverCpu = (figures: LoadFigures['peak']): number =>
    Object.entries(figures.perOp)
      .filter(([k]) => k !== 'client')
      .reduce((sum, [, v]) => sum + v.cpuUs, 0);
  const capacity = (figures: LoadFigures['peak']): number =>
    (os.cpus().length * 1e6) / serverCpu(figures);
  const lat = (r: { p50: number; p99: number; ok: number; total: number }): string =>
    `${fmt(r.p50)} / ${fmt(r.p99)} ms (${r.ok}/${r.total} answered)`;
  const lag = (r: RateResult): string => `${fmt(r.lagP50)} / ${fmt(r.lagP99)} ms`;
  const fromSent = (r: RateResult): string => `${fmt(r.sentP50)} / ${fmt(r.sentP99)} ms`;
  out.ratios = {
    ...(out.ratios as object),
    peakVsRedis: raftLoad.peak.opsPerSecond / redisLoad.peak.opsPerSecond,
    capacityVsRedis: capacity(raftLoad.peak) / capacity(redisLoad.peak),
  };
  md.push(
    "| lease acquire on loopback (3 members, leader's admin API) vs Redis `SET NX PX` (1 process, appendfsync always) | Palisade Raft | Redis | ratio Raft/Redis |",
    '|---|---|---|---|',
    `| latency one request at a time (one connection, no schedule), p50 / p99 | ${lat(raftLoad.sequential)} | ${lat(redisLoad.sequential)} | ${fmt(raftLoad.sequential.p99 / redisLoad.sequential.p99)}× (p99) |`,
    `| latency at 100 ops/s, p50 / p99 | ${lat(raftLoad.at100)} | ${lat(redisLoad.at100)} | ${fmt(raftLoad.at100.p99 / redisLoad.at100.p99)}× (p99) |`,
    `| latency at 1,000 ops/s, p50 / p99 | ${lat(raftLoad.at1000)} | ${lat(redisLoad.at1000)} | ${fmt(raftLoad.at1000.p99 / redisLoad.at1000.p99)}× (p99) |`,
    `| of which this client sending late (sent − due; 100 · 1,000 ops/s), p50 / p99 | ${lag(raftLoad.at100)} · ${lag(raftLoad.at1000)} | ${lag(redisLoad.at100)} · ${lag(redisLoad.at1000)} | |`,
    `| latency from the actual send (answered − sent, this client's lateness excluded; 100 · 1,000 ops/s), p50 / p99 | ${fromSent(raftLoad.at100)} · ${fromSent(raftLoad.at1000)} | ${fromSent(redisLoad.at100)} · ${fromSent(redisLoad.at1000)} | ${fmt(raftLoad.at1000.sentP99 / redisLoad.at1000.sentP99)}× (p99 at 1,000) |`,
    `| run-queue wait (waiting for a CPU) per op at 1,000 ops/s, µs | ${waits(raftLoad.at1000)} | ${waits(redisLoad.at1000)} | |`,
    `| peak ops/s, 256 keep-alive connections (closed loop) | ${fmt(raftLoad.peak.opsPerSecond)} (errors ${raftLoad.peak.errors}) | ${fmt(redisLoad.peak.opsPerSecond)} (errors ${redisLoad.peak.errors}) | ${fmt(raftLoad.peak.opsPerSecond / redisLoad.peak.opsPerSecond)}× |`,
    `| CPU per op at peak, µs | ${perOp(raftLoad.peak)} | ${perOp(redisLoad.peak)} | |`,
    `| ops/s the servers' CPU per op allows on ${os.cpus().length} idle cores (client excluded) | ${fmt(capacity(raftLoad.peak))} | ${fmt(capacity(redisLoad.peak))} | ${fmt(capacity(raftLoad.peak) / capacity(redisLoad.peak))}× |`,
    '',
  );
  const floorServer = httpFloor.perOp.server?.cpuUs ?? NaN;
  const leaderCpu = raftLoad.peak.perOp.leader?.cpuUs ?? NaN;
  md.push(
    `HTTP floor: a bare node:http server answering the same requests (no Raft, no disk) peaks at ${fmt(httpFloor.opsPerSecond)} ops/s with ${floorServer} µs of CPU per request (client ${httpFloor.perOp.client?.cpuUs ?? NaN} µs): ${fmt((100 * floorServer) / leaderCpu)} % of the leader's ${leaderCpu} µs per lease op; with the followers' CPU, the group's ceiling on ${os.cpus().length} idle cores would be ${fmt((os.cpus().length * 1e6) / (serverCpu(raftLoad.peak) - leaderCpu + floorServer))} ops/s if Raft cost the leader nothing.`,
    '',
  );
  const saves = out.leaderSaves as { count: number; meanMs: number; entriesPerSave: number };
  md.push(
    `Leader: ${saves.count} saves (one O_DSYNC write each: write + fdatasync in one system call; on a pool thread when earlier entries await their commit, so that the loop answers them meanwhile), ${fmt(saves.entriesPerSave)} entries per save on average, ${fmt(saves.meanMs)} ms from save to resolved (event-loop delay included).`,
    '',
  );
  writeResults('raft', new Date().toISOString(), out, `${md.join('\n')}\n`);
  process.stdout.write(`${md.join('\n')}\n`);
  agent.destroy();
}

await main();
