/**
 * bench:raft — Palisade's Raft leases against a Kubernetes Lease election, in one run:
 *
 * 1. Failover: a 3-member group of real processes on loopback; SIGKILL the leader, then time
 *    until a surviving member's admin API grants an acquire (a new leader accepted a write).
 *    N trials (RAFT_BENCH_TRIALS, default 15); the killed member restarts between trials.
 *    Baseline: client-go's defaults on the local control plane (kubeconfig
 *    $HOME/.cache/palisade/cluster/admin.kubeconfig or KUBECONFIG) when reachable, else the
 *    analytical window only (said so in the output).
 * 2. Acquire latency at a fixed 100 and 1,000 ops/s (open loop: latency counted from the scheduled send
 *    time, so a stall is not hidden) against the leader's admin API.
 * 3. Peak lease ops/s: closed loop, 256 requests in flight against the leader (batching: every
 *    proposal that arrives during an fsync goes into the next Ready).
 *
 * Writes bench/results/raft-<date>.json and .md. The load average is recorded: on a shared
 * machine the figures move with it.
 */
import { mkdtempSync, rmSync, writeFileSync, existsSync, mkdirSync } from 'node:fs';
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

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
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

async function latencyAtRate(
  port: number,
  rate: number,
  seconds: number,
): Promise<{ p50: number; p99: number; ok: number; total: number }> {
  const total = rate * seconds;
  const latencies: number[] = [];
  let ok = 0;
  const start = performance.now();
  const pending: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const scheduled = start + (i * 1000) / rate;
    const wait = scheduled - performance.now();
    if (wait > 1) await sleep(wait);
    pending.push(
      post(port, `/v1/leases/lat-${i % 5000}/acquire`, { holder: `h${i}`, ttl: 100 }).then(
        (status) => {
          latencies.push(performance.now() - scheduled);
          if (status === 200 || status === 409) ok++;
        },
      ),
    );
  }
  await Promise.all(pending);
  return { p50: percentile(latencies, 50), p99: percentile(latencies, 99), ok, total };
}

async function peakThroughput(
  port: number,
  inFlight: number,
  seconds: number,
): Promise<{ opsPerSecond: number; errors: number }> {
  let done = 0;
  let errors = 0;
  const end = performance.now() + seconds * 1000;
  const worker = async (w: number): Promise<void> => {
    let i = 0;
    while (performance.now() < end) {
      const status = await post(port, `/v1/leases/peak-${w}-${i++ % 50}/acquire`, {
        holder: `w${w}`,
        ttl: 200,
      });
      if (status === 200 || status === 409) done++;
      else errors++;
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: inFlight }, (_, w) => worker(w)));
  return { opsPerSecond: done / ((performance.now() - started) / 1000), errors };
}

async function main(): Promise<void> {
  const trials = Number(process.env.RAFT_BENCH_TRIALS ?? 15);
  const loadBefore = os.loadavg();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'palisade-bench-raft-'));
  const cluster = new ProcessCluster({ dir, members: loopbackMembers(3) });
  const out: Record<string, unknown> = {
    date: new Date().toISOString(),
    command: 'bash bench/run-raft.sh',
    cpus: os.cpus().length,
    loadBefore,
  };
  try {
    await cluster.prepare();
    await cluster.startAll();
    process.stderr.write('raft failover…\n');
    const failover = await raftFailover(cluster, trials);
    out.raftFailoverMs = {
      trials: failover.length,
      p50: percentile(failover, 50),
      p99: percentile(failover, 99),
      max: Math.max(...failover),
      samples: failover.map(Math.round),
    };

    const { leader } = await cluster.waitForLeader(20_000);
    const port = cluster.member(leader).adminPort;
    process.stderr.write('acquire latency at 1,000 ops/s…\n');
    await latencyAtRate(port, 200, 1); // warm-up
    out.acquireLatencyAt100 = await latencyAtRate(port, 100, 10);
    out.acquireLatencyAt1000 = await latencyAtRate(
      port,
      1000,
      Number(process.env.RAFT_BENCH_SECONDS ?? 10),
    );
    process.stderr.write('peak lease ops/s…\n');
    out.peak = await peakThroughput(port, 256, 5);
    out.loadDuringRaft = os.loadavg();
    // The leader's own view of its fsyncs (save → resolved, event-loop delay included).
    const metrics = String((await cluster.request(leader, 'GET', '/metrics')).body.raw ?? '');
    const metric = (name: string): number =>
      Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(metrics)?.[1] ?? NaN);
    out.leaderAppendMeanMs =
      (1000 * metric('palisade_raft_append_duration_seconds_sum')) /
      metric('palisade_raft_append_duration_seconds_count');
  } finally {
    await cluster.stopAll();
    rmSync(dir, { recursive: true, force: true });
  }

  const kubeconfig =
    process.env.KUBECONFIG ?? path.join(os.homedir(), '.cache/palisade/cluster/admin.kubeconfig');
  const bounds = leaseFailoverBoundsMs();
  out.k8sLeaseAnalyticalMs = bounds;
  if (process.env.RAFT_BENCH_SKIP_K8S !== '1' && existsSync(kubeconfig)) {
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

  const raft = out.raftFailoverMs as { p50: number; p99: number };
  const k8s = out.k8sLeaseFailoverMs as { p50: number; p99: number } | undefined;
  const base50 = k8s?.p50 ?? (bounds.min + bounds.max) / 2;
  const base99 = k8s?.p99 ?? bounds.max;
  out.ratios = {
    failoverP50: base50 / raft.p50,
    failoverP99: base99 / raft.p99,
    baseline: k8s ? 'measured' : 'analytical',
  };

  const lat = out.acquireLatencyAt1000 as { p50: number; p99: number; ok: number; total: number };
  const lat100 = out.acquireLatencyAt100 as typeof lat;
  const peak = out.peak as { opsPerSecond: number; errors: number };
  const fmt = (n: number): string => n.toFixed(n < 10 ? 2 : 0);
  const md = [
    `# bench:raft — ${out.date as string}`,
    '',
    `Command: \`bash bench/run-raft.sh\` · ${os.cpus().length} CPUs · load average before ${loadBefore.map((l) => l.toFixed(1)).join(' ')}, after ${(out.loadAfter as number[]).map((l) => l.toFixed(1)).join(' ')}`,
    '',
    '| measure | Palisade Raft | Kubernetes Lease (client-go defaults) | ratio |',
    '|---|---|---|---|',
    `| failover p50 (kill leader → write accepted) | ${fmt(raft.p50)} ms | ${fmt(base50)} ms (${k8s ? 'measured' : 'analytical'}) | ${fmt(base50 / raft.p50)}× |`,
    `| failover p99 | ${fmt(raft.p99)} ms (${trials} trials: p99 ≈ max) | ${fmt(base99)} ms | ${fmt(base99 / raft.p99)}× |`,
    '',
    `Analytical client-go window after a crash: ${fmt(bounds.min / 1000)}–${fmt(bounds.max / 1000)} s.`,
    '',
    `| lease API on loopback (3 members, leader's admin API) | value |`,
    '|---|---|',
    `| acquire latency at 100 ops/s, p50 / p99 | ${fmt(lat100.p50)} ms / ${fmt(lat100.p99)} ms (${lat100.ok}/${lat100.total} answered 200/409) |`,
    `| acquire latency at 1,000 ops/s, p50 / p99 | ${fmt(lat.p50)} ms / ${fmt(lat.p99)} ms (${lat.ok}/${lat.total} answered 200/409) |`,
    `| peak lease ops/s, 256 in flight | ${fmt(peak.opsPerSecond)} (errors ${peak.errors}) |`,
    `| leader's mean persist time (save → resolved) over the run | ${fmt(out.leaderAppendMeanMs as number)} ms |`,
    '',
  ].join('\n');
  const resultsDir = path.join(root, 'bench', 'results');
  mkdirSync(resultsDir, { recursive: true });
  const stamp = new Date().toISOString().slice(0, 16).replace(':', '');
  writeFileSync(path.join(resultsDir, `raft-${stamp}.json`), `${JSON.stringify(out, null, 2)}\n`);
  writeFileSync(path.join(resultsDir, `raft-${stamp}.md`), `${md}\n`);
  process.stdout.write(`${md}\n`);
  agent.destroy();
}

await main();
