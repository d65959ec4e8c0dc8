/**
 * bench:saga — saga throughput and end-to-end latency on a Raft group of three real sidecar
 * processes, with the step services' own latency as the baseline of the same run.
 *
 * - Step services: three local HTTP services in one helper process (reserve, charge, ship), each
 *   answering `201 {id}` at once and reporting when a `ship` call arrives.
 * - Saga: `bench/order`, the three steps in order (POST with a templated body), as API.md.
 * - Load: closed loop, SAGA_BENCH_CONCURRENCY (default 64) clients; each POSTs
 *   `/v1/sagas/bench/order` to the leader's admin API and waits until the `ship` step's call has
 *   arrived and been answered, then starts the next. Instances/s = finished instances over
 *   SAGA_BENCH_SECONDS (default 20); end-to-end = POST sent → `ship` answered (the outcome entry
 *   that marks the instance Completed commits one group-commit fsync later; every instance is
 *   then read back with GET and must be Completed).
 * - Baseline: the same clients calling the three services directly, in order (what the work costs
 *   without a saga): its rate and p99 give the ratios.
 * - CPU time of each member per instance (from /proc), and of this process (clients and step
 *   services): trustworthy on a shared machine, where wall-clock figures are upper bounds.
 * - Raft entries and WAL saves per instance, from the leader's metrics before and after the load
 *   (`palisade_raft_applied_index`, `palisade_raft_append_duration_seconds_count`).
 *
 * SAGA_BENCH_NODE_ARGS passes node flags to the sidecars (profiling). Writes
 * bench/results/saga-<date>.json and .md.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './bench-processes.js';
import { percentile } from './raft-load.js';
import { writeResults } from './bench-results.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const SECONDS = Number(process.env.SAGA_BENCH_SECONDS ?? 20);
const CONCURRENCY = Number(process.env.SAGA_BENCH_CONCURRENCY ?? 64);
/** Extra node flags for the sidecars (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`). */
const NODE_ARGS = (process.env.SAGA_BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY * 2 });

function call(
  port: number,
  method: string,
  urlPath: string,
  body?: unknown,
  headers: Record<string, string> = {},
) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const text = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method,
        path: urlPath,
        agent,
        headers: { ...(text ? { 'content-type': 'application/json' } : {}), ...headers },
      },
      (res) => {
        let data = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (data += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: data }));
      },
    );
    req.on('error', reject);
    req.end(text);
  });
}

/** The step services: one server per step, answering 201 {id} at once; `ship` calls are reported. */
async function startServices(
  onShip: (key: string) => void,
): Promise<{ ports: number[]; close(): void }> {
  const servers = ['reserve', 'charge', 'ship'].map((step) =>
    http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        const key = String(req.headers['idempotency-key'] ?? 'direct');
        res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ id: key }));
        if (step === 'ship') onShip(key);
      });
    }),
  );
  await Promise.all(servers.map((s) => new Promise<void>((r) => s.listen(0, '127.0.0.1', r))));
  return {
    ports: servers.map((s) => (s.address() as AddressInfo).port),
    close: () => servers.forEach((s) => s.close()),
  };
}

function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) * 10; // utime + stime, in 10 ms ticks
}

async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs: number,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A metric's value in a Prometheus text exposition (first sample of that name). */
function metricValue(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line === undefined ? NaN : Number(line.slice(line.lastIndexOf(' ') + 1));
}

/** The leader's applied index, number of WAL saves with entries, and Raft term. */
async function raftCounters(
  admin: number,
): Promise<{ entries: number; saves: number; term: number }> {
  const text = (await call(admin, 'GET', '/metrics')).body;
  return {
    entries: metricValue(text, 'palisade_raft_applied_index'),
    saves: metricValue(text, 'palisade_raft_append_duration_seconds_count'),
    term: metricValue(text, 'palisade_raft_term'),
  };
}

const TERMINAL = ['Completed', 'Compensated', 'Failed', 'NeedsAttention'];

interface Member {
  id: string;
  admin: number;
  child: ChildProcess;
}

async function startGroup(dir: string, ports: number[]): Promise<Member[]> {
  const [reserve, charge, ship] = ports.map((p) => `http://127.0.0.1:${p}`);
  const secretFile = path.join(dir, 'secret');
  writeFileSync(secretFile, randomBytes(32).toString('hex'), { mode: 0o600 });
  const ids = ['a', 'b', 'c'];
  const raftPorts = await Promise.all(ids.map(freePort));
  const peers = ids.map((id, i) => ({ id, address: `127.0.0.1:${raftPorts[i]}`, voter: true }));
  const members: Member[] = [];
  for (const [i, id] of ids.entries()) {
    const admin = await freePort();
    const config = {
      version: 'bench',
      app: { host: '127.0.0.1', port: ports[0] },
      listeners: {
        admin,
        inbound: await freePort(),
        outbound: await freePort(),
        raft: raftPorts[i],
      },
      logLevel: 'warn',
      sagas: [
        {
          name: 'bench/order',
          steps: [
            {
              name: 'reserve',
              action: { method: 'POST', url: `${reserve}/r`, body: { items: '{{input.items}}' } },
              compensation: {
                method: 'DELETE',
                url: `${reserve}/r/{{steps.reserve.response.body.id}}`,
              },
            },
            {
              name: 'charge',
              action: { method: 'POST', url: `${charge}/c`, body: { amount: '{{input.total}}' } },
              compensation: { method: 'POST', url: `${charge}/refund` },
            },
            { name: 'ship', action: { method: 'POST', url: `${ship}/s` } },
          ],
        },
      ],
      raft: { group: 'bench/sagas', id, peers, secretFile, dataDir: path.join(dir, `data-${id}`) },
    };
    const configPath = path.join(dir, `${id}.json`);
    writeFileSync(configPath, JSON.stringify(config));
    const child = spawn(
      process.execPath,
      [
        ...NODE_ARGS,
        path.join(root, 'sidecar/dist/bin/palisade-sidecar.js'),
        '--config',
        configPath,
      ],
      { stdio: 'ignore' },
    );
    members.push({ id, admin, child });
  }
  return members;
}

interface LoopResult {
  readonly instances: number;
  readonly seconds: number;
  readonly perSecond: number;
  readonly p50: number;
  readonly p99: number;
}

/** Closed loop: `CONCURRENCY` workers run `one()` back to back for `SECONDS`. */
async function closedLoop(one: () => Promise<void>): Promise<LoopResult> {
  const latencies: number[] = [];
  const started = performance.now();
  const end = started + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < end) {
        const t0 = performance.now();
        await one();
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    instances: latencies.length,
    seconds,
    perSecond: latencies.length / seconds,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
  };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'palisade-saga-bench-'));
  const shipped = new Map<string, () => void>();
  const services = await startServices((key) => {
    const id = key.slice(0, 32);
    shipped.get(id)?.();
  });
  const members = await startGroup(dir, services.ports);
  try {
    const leaderId = await waitFor(
      'a leader',
      async () => {
        const status = JSON.parse((await call(members[0]!.admin, 'GET', '/v1/raft')).body) as {
          leader: string | null;
        };
        return status.leader ?? undefined;
      },
      60_000,
    );
    const leader = members.find((m) => m.id === leaderId) as Member;
    // Warm-up (and the orchestrator's barrier): one instance to Completed.
    await waitFor(
      'the first instance',
      async () =>
        (
          await call(leader.admin, 'POST', '/v1/sagas/bench/order', {
            input: { items: [1], total: 2 },
          })
        ).status === 202
          ? true
          : undefined,
      30_000,
    );

    const baseline = await closedLoop(async () => {
      for (const [i, port] of services.ports.entries())
        await call(port, 'POST', `/${i}`, { items: [1] });
    });

    const ids: string[] = [];
    const cpuBefore = members.map((m) => cpuMs(m.child.pid as number));
    const benchCpuBefore = process.cpuUsage();
    const raftBefore = await raftCounters(leader.admin);
    let unavailable = 0;
    const startOrder = () =>
      call(leader.admin, 'POST', '/v1/sagas/bench/order', { input: { items: [1, 2], total: 9 } });
    const saga = await closedLoop(async () => {
      let done: () => void = () => undefined;
      const finished = new Promise<void>((r) => (done = r));
      // A 503 (leader change, commit timeout) is what a client must expect: it waits Retry-After
      // and starts again (the first attempt may have started an instance nobody waits for; it
      // still runs to its end). The wait counts in this instance's latency.
      let res = await startOrder();
      while (res.status === 503) {
        unavailable++;
        await new Promise((r) => setTimeout(r, 1000));
        res = await startOrder();
      }
      if (res.status !== 202) throw new Error(`start answered ${res.status}: ${res.body}`);
      const { id } = JSON.parse(res.body) as { id: string };
      ids.push(id);
      shipped.set(id, done);
      await finished;
      shipped.delete(id);
    });
    const cpuPerInstanceMs = members.map(
      (m, i) => (cpuMs(m.child.pid as number) - (cpuBefore[i] as number)) / saga.instances,
    );
    const benchCpu = process.cpuUsage(benchCpuBefore);
    const benchCpuPerInstanceMs = (benchCpu.user + benchCpu.system) / 1000 / saga.instances;
    const raftAfter = await raftCounters(leader.admin);
    const raftPerInstance = {
      entries: (raftAfter.entries - raftBefore.entries) / saga.instances,
      saves: (raftAfter.saves - raftBefore.saves) / saga.instances,
    };
    // A new term during the load means an election: the leader was silent too long (a stall).
    const elections = raftAfter.term - raftBefore.term;

    // Every instance must end Completed (read back after the load). One that ends otherwise, or
    // is not finished within 30 s of the load's end, is counted by its state (with its error)
    // instead of stopping the run: the report says what happened to it.
    let completed = 0;
    const others = new Map<string, number>();
    const readUntil = Date.now() + 30_000; // then each remaining instance is read once
    for (const id of ids) {
      let last = 'unreadable';
      const state = await waitFor(
        `instance ${id}`,
        async () => {
          const res = await call(leader.admin, 'GET', `/v1/sagas/bench/order/${id}`);
          // Beyond 50,000 finished instances the oldest are forgotten (retention cap).
          if (res.status === 404) return 'forgotten (retention cap)';
          const view = JSON.parse(res.body) as { state?: string; error?: string };
          last = `${view.state ?? `HTTP ${res.status}`}${view.error ? ` (${view.error})` : ''}`;
          return view.state !== undefined && TERMINAL.includes(view.state) ? last : undefined;
        },
        Math.max(0, readUntil - Date.now()),
      ).catch(() => `not finished after the run: ${last}`);
      if (state === 'Completed') completed++;
      else others.set(state, (others.get(state) ?? 0) + 1);
    }
    const result = {
      date: new Date().toISOString(),
      command: 'bash bench/run-saga.sh',
      seconds: SECONDS,
      concurrency: CONCURRENCY,
      loadAverage: os.loadavg(),
      cpus: os.cpus().length,
      baseline,
      saga,
      completed,
      others: Object.fromEntries(others),
      cpuPerInstanceMs,
      benchCpuPerInstanceMs,
      raftPerInstance,
      elections,
      unavailable,
      ratios: {
        throughput: saga.perSecond / baseline.perSecond,
        p99: saga.p99 / baseline.p99,
      },
    };
    const md = [
      `# bench:saga ${result.date}`,
      '',
      `Command: \`${result.command}\` (SAGA_BENCH_SECONDS=${SECONDS}, SAGA_BENCH_CONCURRENCY=${CONCURRENCY}). ${result.cpus} CPUs shared with other jobs, load average ${result.loadAverage.map((l) => l.toFixed(1)).join(' / ')}: wall-clock figures are upper bounds; CPU per instance is trustworthy.`,
      '',
      '| run | instances | instances/s | p50 ms | p99 ms |',
      '|---|---|---|---|---|',
      `| baseline: the 3 step calls made directly | ${baseline.instances} | ${baseline.perSecond.toFixed(0)} | ${baseline.p50.toFixed(1)} | ${baseline.p99.toFixed(1)} |`,
      `| saga on 3 sidecars (Raft) | ${saga.instances} | ${saga.perSecond.toFixed(0)} | ${saga.p50.toFixed(1)} | ${saga.p99.toFixed(1)} |`,
      '',
      `Ratios (saga / baseline): throughput ${result.ratios.throughput.toFixed(2)}×, p99 ${result.ratios.p99.toFixed(1)}×. Target ≥ 500 instances/s: ${saga.perSecond >= 500 ? 'met' : 'not met'}.`,
      `Completed after the run: ${completed} of ${ids.length}${others.size > 0 ? ` (others: ${[...others].map(([state, n]) => `${n} ${state}`).join('; ')})` : ''}. CPU per instance (ms) by member: ${members.map((m, i) => `${m.id}${m.id === leaderId ? ' (leader)' : ''} ${cpuPerInstanceMs[i]?.toFixed(2)}`).join(', ')}; this process (clients and step services, baseline excluded) ${benchCpuPerInstanceMs.toFixed(2)}.`,
      `Raft log per instance (leader): ${raftPerInstance.entries.toFixed(2)} entries, ${raftPerInstance.saves.toFixed(2)} WAL saves. Elections during the load: ${elections}; starts answered 503 (retried after 1 s): ${unavailable}.`,
      '',
    ].join('\n');
    writeResults('saga', result.date, result, md);
    process.stdout.write(md);
  } finally {
    for (const m of members) m.child.kill('SIGTERM');
    await Promise.all(
      members.map(
        (m) => new Promise((r) => (m.child.exitCode !== null ? r(null) : m.child.once('exit', r))),
      ),
    );
    services.close();
    agent.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
