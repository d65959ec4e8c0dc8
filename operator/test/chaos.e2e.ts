// ChaosExperiments end to end: the operator (in this process, against the local control plane)
// and real sidecar processes in Kubernetes mode, which read the config the operator delivers in
// ConfigMaps. Pods are API objects only (no kubelet): each gets its own loopback address
// (127.0.0.x), its sidecar listens there (Raft) or on free ports given as flags, and the
// operator reads each sidecar's /metrics on its probe port through an injected port map.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GROUP, VERSION } from '@palisade/crds';
import {
  KubeApiClient,
  Operator,
  SeededRandom,
  createKubeInformers,
  httpMetricsReader,
  systemScheduler,
  type PolicyKind,
} from '@palisade/operator';
import {
  SIDECAR_BIN,
  buildSidecar,
  freePort,
  metricValue,
  send,
  waitFor,
} from '../../sidecar/test/support/sidecar-process.js';
import { startEchoServer, type EchoServer } from '../../sidecar/test/support/echo-server.js';
import {
  connectCluster,
  createInjectedPod,
  createNamespace,
  kubeconfigPath,
  type Cluster,
} from './support/cluster.js';

const namespace = `palisade-chaos-${process.pid}`;
const repoRoot = join(import.meta.dirname, '..', '..');
const RAFT_SECRET = 'chaos-e2e-raft-secret-0123456789abcdef';

/** One sidecar process standing in for a pod's sidecar container. */
interface PodSidecar {
  readonly name: string;
  readonly ip: string;
  readonly ports: { inbound: number; outbound: number; admin: number; probe: number };
  readonly child: ChildProcess;
  readonly dir: string;
  metric(name: string, labels?: Record<string, string>): Promise<number | undefined>;
  /** The SidecarConfig in force (admin API, loopback). */
  config(): Promise<{ version: string; faults?: { type: string }[]; circuitBreakers?: unknown[] }>;
}

let cluster: Cluster;
let operator: Operator | undefined;
let raftPort: number;
let secretFile: string;
const sidecars = new Map<string, PodSidecar>();
const echoes: EchoServer[] = [];
const work = mkdtempSync(join(tmpdir(), 'palisade-chaos-e2e-'));

beforeAll(async () => {
  buildSidecar();
  cluster = connectCluster();
  await createNamespace(cluster, namespace);
  raftPort = await freePort();
  secretFile = join(work, 'raft-secret');
  writeFileSync(secretFile, RAFT_SECRET, { mode: 0o600 });
  operator = await startOperator();
}, 240_000); // buildSidecar may run `tsc -b sidecar` first (up to 170 s on a loaded host)

/** The operator, in this process, with the sidecars' probe ports as its metrics addresses. */
async function startOperator(): Promise<Operator> {
  // This namespace only: a cluster-wide operator here would also write (ownerless) configs for
  // the injected pods of every other test or demo running on the shared cluster.
  const informers = createKubeInformers({
    kubeConfig: cluster.kc,
    scheduler: systemScheduler,
    namespace,
    resyncMs: 3_600_000,
  });
  const started = new Operator({
    api: new KubeApiClient(cluster.kc, informers),
    sources: {
      pods: informers.pods,
      configMaps: informers.configMaps,
      kinds: informers.kinds as ReadonlyMap<PolicyKind, typeof informers.pods>,
    },
    installation: {
      ports: { admin: 15000, inbound: 15006, outbound: 15001, raft: raftPort },
      app: { host: '127.0.0.1', defaultPort: 8080 },
      // Relative: each sidecar process runs in its own folder, as each pod has its own volume.
      raft: { secretFile, dataDir: 'raft-data' },
    },
    scheduler: systemScheduler,
    random: new SeededRandom(9),
    chaos: {
      metrics: httpMetricsReader({
        port: (pod) => sidecars.get(pod.name)?.ports.probe ?? 15020,
      }),
      observeIntervalMs: 300,
    },
  });
  await started.start();
  return started;
}

afterAll(async () => {
  await operator?.shutDown();
  await Promise.all([...sidecars.values()].map(stopSidecar));
  await Promise.all(echoes.map((e) => e.stop()));
  await cluster?.core.deleteNamespace({ name: namespace }).catch(() => undefined);
  rmSync(work, { recursive: true, force: true });
}, 30_000);

async function stopSidecar(sidecar: PodSidecar): Promise<void> {
  if (sidecar.child.exitCode === null && sidecar.child.signalCode === null) {
    const exited = new Promise((resolve) => sidecar.child.once('exit', resolve));
    sidecar.child.kill('SIGKILL');
    await exited;
  }
}

/** Creates the pod object (Ready, with `ip`) and starts its sidecar in Kubernetes mode. */
async function startPod(
  name: string,
  labels: Record<string, string>,
  ip: string,
  appPort: number,
): Promise<PodSidecar> {
  await createInjectedPod(cluster, namespace, { name, labels, ip, appPort });
  const ports = {
    inbound: await freePort(),
    outbound: await freePort(),
    admin: await freePort(),
    probe: await freePort(),
  };
  const dir = mkdtempSync(join(work, `${name}-`));
  let stderr = '';
  const child = spawn(
    process.execPath,
    [
      SIDECAR_BIN,
      '--kubernetes',
      '--kubeconfig',
      kubeconfigPath,
      '--app-port',
      String(appPort),
      '--raft-port',
      String(raftPort),
      ...Object.entries(ports).flatMap(([listener, port]) => [`--${listener}-port`, String(port)]),
    ],
    {
      cwd: dir,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, POD_NAME: name, POD_NAMESPACE: namespace },
    },
  );
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const admin = async (path: string) => send(ports.admin, { path, timeoutMs: 5000 });
  const sidecar: PodSidecar = {
    name,
    ip,
    ports,
    child,
    dir,
    metric: async (metric, labels) => metricValue((await admin('/metrics')).body, metric, labels),
    config: async () =>
      (
        JSON.parse((await admin('/config')).body) as {
          config: Awaited<ReturnType<PodSidecar['config']>>;
        }
      ).config,
  };
  sidecars.set(name, sidecar);
  await waitFor(
    `${name}'s sidecar to load the delivered config`,
    async () => {
      if (child.exitCode !== null) throw new Error(`sidecar ${name} exited: ${stderr}`);
      return (await admin('/livez')).status === 200;
    },
    30_000,
    100,
  );
  return sidecar;
}

async function createCustom(plural: string, body: Record<string, unknown>): Promise<void> {
  await cluster.custom.createNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    namespace,
    plural,
    body: { apiVersion: `${GROUP}/${VERSION}`, metadata: { namespace }, ...body },
  });
}

interface ChaosObject {
  status?: {
    phase?: string;
    startTime?: string;
    targets?: string[];
    conditions?: { type: string; status: string; reason: string; message: string }[];
    expectations?: { type: string; met?: boolean }[];
  };
}

async function chaos(name: string): Promise<ChaosObject> {
  return (await cluster.custom.getNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    namespace,
    plural: 'chaosexperiments',
    name,
  })) as ChaosObject;
}

async function deleteChaos(name: string): Promise<void> {
  await cluster.custom.deleteNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    namespace,
    plural: 'chaosexperiments',
    name,
  });
}

/**
 * Runs chaos/run.sh on `experiment` (written as a file) with the sidecars' metrics read from
 * their probe ports; resolves with its exit code and report. With CHAOS_REPORT_DIR set, the
 * report is also kept there.
 */
function runChaosScript(experiment: {
  metadata: { name: string };
}): Promise<{ code: number | null; report: string }> {
  const file = join(work, `${experiment.metadata.name}.yaml`);
  writeFileSync(file, JSON.stringify(experiment, null, 2));
  const metricsCmd = join(work, 'metrics-of');
  const ports = [...sidecars.values()].map((s) => `${s.name}) port=${s.ports.probe} ;;`).join('\n');
  writeFileSync(
    metricsCmd,
    `#!/bin/sh\ncase "$2" in\n${ports}\n*) exit 1 ;;\nesac\nexec curl -sf --max-time 2 "http://127.0.0.1:$port/metrics"\n`,
    { mode: 0o755 },
  );
  const reportDir = process.env['CHAOS_REPORT_DIR'];
  const report = join(reportDir ?? work, `${experiment.metadata.name}.md`);
  const kubectl = process.env['PALISADE_KUBECTL'] ?? 'kubectl';
  const child = spawn(
    'bash',
    [join(repoRoot, 'chaos', 'run.sh'), '--timeout', '120', '--report', report, file],
    {
      env: {
        ...process.env,
        KUBECTL: `${kubectl} --kubeconfig ${kubeconfigPath}`,
        CHAOS_METRICS_CMD: metricsCmd,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  return new Promise((resolve) =>
    child.once('exit', (code) => {
      if (code !== 0) console.log(`chaos/run.sh exited ${code}: ${stderr}`);
      resolve({ code, report: stdout });
    }),
  );
}

const faultTypes = async (sidecar: PodSidecar) =>
  ((await sidecar.config()).faults ?? []).map((f) => f.type).join(',');

/** Waits until `sidecar`'s config in force has exactly these fault types ('' for none). */
async function untilFaults(sidecar: PodSidecar, types: string, timeoutMs = 20_000): Promise<void> {
  await waitFor(
    `${sidecar.name}'s faults to be [${types}]`,
    async () => (await faultTypes(sidecar)) === types,
    timeoutMs,
    50,
  );
}

/** Waits until experiment `name` is in `phase`; returns it. */
function untilPhase(name: string, phase: string, timeoutMs = 30_000): Promise<ChaosObject> {
  return waitFor(
    `${name} to be ${phase}`,
    async () => {
      const o = await chaos(name);
      return o.status?.phase === phase ? o : undefined;
    },
    timeoutMs,
    100,
  );
}

const condition = (object: ChaosObject, type: string) =>
  object.status?.conditions?.find((c) => c.type === type);

/** Latency of one GET through the sidecar's inbound port, ms. */
async function timedGet(sidecar: PodSidecar): Promise<number> {
  const t0 = performance.now();
  const answer = await send(sidecar.ports.inbound, { path: '/' });
  if (answer.status !== 200) throw new Error(`inbound GET answered ${answer.status}`);
  return performance.now() - t0;
}

/** `n` GETs, `concurrency` at a time; their latencies. */
async function load(sidecar: PodSidecar, n: number, concurrency: number): Promise<number[]> {
  const out: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        next++;
        out.push(await timedGet(sidecar));
      }
    }),
  );
  return out;
}

const median = (xs: readonly number[]) =>
  [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

describe('ChaosExperiment end to end', () => {
  it('latency 300 ms on 20% of inbound requests: measured share and delay, removal restores', async () => {
    const app = await startEchoServer();
    echoes.push(app);
    const web = await startPod('web-1', { app: 'web' }, '127.0.0.21', app.port);
    await waitFor(
      'web-1 ready',
      async () => (await send(web.ports.probe, { path: '/readyz' })).status === 200,
      20_000,
      100,
    );
    // The same load without the fault: its median, and how many requests the loaded host
    // alone makes as slow as a delayed one.
    const n = 300;
    const baseline = await load(web, n, 10);
    const base = median(baseline);
    // Every delayed request takes at least the 300 ms delay; few others do (counted below).
    const slow = (ms: number) => ms >= 295;
    const noise = baseline.filter(slow).length / n;

    await createCustom('chaosexperiments', {
      kind: 'ChaosExperiment',
      metadata: { name: 'slow-web', namespace },
      spec: {
        selector: { matchLabels: { app: 'web' } },
        mode: { type: 'all' },
        faults: [{ type: 'latency', delay: '300ms', percentage: 20, direction: 'inbound' }],
        duration: '10m',
      },
    });
    await untilFaults(web, 'latency');
    expect((await chaos('slow-web')).status).toMatchObject({
      phase: 'Running',
      targets: ['web-1'],
    });

    const latencies = await load(web, n, 10);
    const delayed = latencies.filter(slow);
    // Against the undelayed requests of the same load: the loaded host moves both alike.
    const added = median(delayed) - median(latencies.filter((ms) => !slow(ms)));
    const injected =
      (await web.metric('palisade_faults_injected_total', {
        experiment: `${namespace}/slow-web`,
        type: 'latency',
      })) ?? 0;
    console.log(
      `latency fault: ${delayed.length}/${n} requests took ≥ 295 ms (${((delayed.length / n) * 100).toFixed(1)}%; ` +
        `${(noise * n).toFixed(0)}/${n} without the fault), the sidecar delayed ${injected} ` +
        `(${((injected / n) * 100).toFixed(1)}%); median added ${added.toFixed(0)} ms over the undelayed ones ` +
        `(baseline median ${base.toFixed(1)} ms)`,
    );
    // 20% of 300: sd ≈ 6.9 requests, ±3 sd.
    expect(injected / n).toBeGreaterThan(0.13);
    expect(injected / n).toBeLessThan(0.27);
    // Every delayed request is slow at the client; the rest of the slow ones are the host's own
    // (checked against both fault-free loads below, which vary with the machine's load).
    expect(delayed.length).toBeGreaterThanOrEqual(injected);
    // The host is shared and loaded: the added delay is 300 ms give or take scheduling noise.
    expect(added).toBeGreaterThan(240);
    expect(added).toBeLessThan(400);

    const t0 = performance.now();
    await deleteChaos('slow-web');
    await untilFaults(web, '');
    const restoreMs = performance.now() - t0;
    console.log(`latency fault withdrawn ${restoreMs.toFixed(0)} ms after deletion`);
    expect(restoreMs).toBeLessThan(5000);
    const after = await load(web, n, 10);
    // Restored: the sidecar injects nothing more, and clearly fewer requests are slow than
    // with a 20% fault (3 sd below 20% is 13%).
    expect(
      await web.metric('palisade_faults_injected_total', {
        experiment: `${namespace}/slow-web`,
        type: 'latency',
      }),
    ).toBe(injected);
    const noiseAfter = after.filter(slow).length / n;
    expect(noiseAfter).toBeLessThan(0.13);
    expect(delayed.length - injected).toBeLessThanOrEqual(2 * Math.max(noise, noiseAfter) * n + 10);
  }, 120_000);

  it('abort 503 on a dependency opens its callers CircuitBreaker: expect Verified; abortWhen aborts on the breaker and on an error ratio', async () => {
    const app = await startEchoServer();
    echoes.push(app);
    const payments = await startPod('payments-1', { app: 'payments' }, '127.0.0.31', app.port);
    const checkout = await startPod('checkout-1', { app: 'checkout' }, '127.0.0.32', app.port);
    await createCustom('circuitbreakers', {
      kind: 'CircuitBreaker',
      metadata: { name: 'payments', namespace },
      spec: {
        selector: { matchLabels: { app: 'checkout' } },
        target: { direction: 'outbound', host: payments.ip },
        trip: { consecutiveFailures: 5 },
        failureOn: { statuses: ['5xx'] },
        openDuration: '5s',
      },
    });
    await waitFor(
      'the breaker in checkout-1 config',
      async () =>
        ((await checkout.config()) as { circuitBreakers?: unknown[] }).circuitBreakers?.length ===
        1,
      20_000,
      100,
    );
    // checkout's app calls payments through its outbound proxy; payments' sidecar answers.
    const authority = `${payments.ip}:${payments.ports.inbound}`;
    const callPayments = () =>
      send(checkout.ports.outbound, {
        path: `http://${authority}/charge`,
        headers: { host: authority },
      });
    expect((await callPayments()).status).toBe(200);

    const drillBody = (name: string, extra: Record<string, unknown>) => ({
      apiVersion: `${GROUP}/${VERSION}`,
      kind: 'ChaosExperiment',
      metadata: { name, namespace },
      spec: {
        selector: { matchLabels: { app: 'payments' } },
        mode: { type: 'all' },
        faults: [{ type: 'abort', httpStatus: 503, percentage: 100, direction: 'inbound' }],
        duration: '12s',
        ...extra,
      },
    });
    const breakerState = () =>
      checkout.metric('palisade_circuit_breaker_state', { breaker: `${namespace}/payments` });

    // The first drill goes through chaos/run.sh, as a user would run it, under steady traffic
    // (10 calls/s from checkout) so that its report shows the breaker failing fast.
    let driving = true;
    const traffic = (async () => {
      while (driving) {
        await callPayments().catch(() => undefined);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();
    const run = runChaosScript(
      drillBody('payments-down', {
        expect: [{ type: 'circuitOpens', circuitBreaker: 'payments' }],
      }),
    );
    await untilFaults(payments, 'abort');
    // Calls until the breaker opens: 503s from the injected abort, then fast 503s.
    await waitFor(
      'the breaker to open',
      async () => {
        await callPayments();
        return (await breakerState()) === 1;
      },
      10_000,
      50,
    );
    const verified = await waitFor(
      'Verified',
      async () => {
        const c = condition(await chaos('payments-down'), 'Verified');
        return c?.status === 'True' ? c : undefined;
      },
      20_000,
      200,
    );
    expect(verified.reason).toBe('ExpectationsMet');
    const { code, report } = await run;
    driving = false;
    await traffic;
    expect(report).toContain('- phase: **Completed**');
    expect(report).toContain('Verified: **True** (ExpectationsMet)');
    expect(report).toMatch(/\| circuitOpens payments \| true \|/);
    // payments answered the injected 503s (a few 200s came before the fault arrived); checkout
    // saw more failures than payments answered: the rest failed fast at its breaker.
    const [, answered, injectedAborts] =
      /\| payments-1 \| yes \| (\d+) \| \d+ \| [0-9.]+ \| 0 \| (\d+) \|/.exec(report) ?? [];
    const [, calls, failed] = /\| checkout-1 \| no \| (\d+) \| (\d+) \|/.exec(report) ?? [];
    expect(Number(injectedAborts)).toBeGreaterThanOrEqual(5);
    expect(Number(failed)).toBeGreaterThan(Number(answered));
    expect(Number(calls)).toBeGreaterThan(50);
    expect(code).toBe(0);
    await untilFaults(payments, '');
    // The breaker closes again after openDuration once payments answers.
    await waitFor(
      'the breaker to close',
      async () => {
        await callPayments();
        return (await breakerState()) === 0;
      },
      20_000,
      250,
    );

    await createCustom(
      'chaosexperiments',
      drillBody('payments-guarded', {
        duration: '5m',
        abortWhen: { circuitBreakerOpens: 'payments' },
      }),
    );
    await untilFaults(payments, 'abort');
    await waitFor(
      'the breaker to open again',
      async () => {
        await callPayments();
        return (await breakerState()) === 1;
      },
      10_000,
      50,
    );
    const t0 = performance.now();
    const aborted = await untilPhase('payments-guarded', 'Aborted');
    expect(condition(aborted, 'Ready')).toMatchObject({
      status: 'False',
      reason: 'CircuitBreakerOpened',
    });
    await untilFaults(payments, '');
    console.log(
      `abortWhen: aborted and withdrawn ${(performance.now() - t0).toFixed(0)} ms after the breaker opened`,
    );

    // An error budget: 30% aborts against a bound of 20% over 10 s, traffic straight to payments.
    await createCustom(
      'chaosexperiments',
      drillBody('payments-budget', {
        duration: '5m',
        faults: [{ type: 'abort', httpStatus: 503, percentage: 30, direction: 'inbound' }],
        abortWhen: { errorRatio: 0.2, window: '10s' },
      }),
    );
    await untilFaults(payments, 'abort');
    const budget = await waitFor(
      'payments-budget to abort on its error ratio',
      async () => {
        for (let i = 0; i < 10; i++) await send(payments.ports.inbound, { path: '/charge' });
        const o = await chaos('payments-budget');
        return o.status?.phase === 'Aborted' ? o : undefined;
      },
      30_000,
      0,
    );
    expect(condition(budget, 'Ready')).toMatchObject({
      status: 'False',
      reason: 'ErrorRatioExceeded',
      message: expect.stringMatching(/^abortWhen: \d+ of \d+ requests failed \(5xx\) over 10s/),
    });
    console.log(`errorRatio guard: ${condition(budget, 'Ready')?.message ?? ''}`);
    await untilFaults(payments, '');
  }, 180_000);

  it('partition of one voter of a 3-member Raft group: the majority grants, the minority refuses, healing rejoins', async () => {
    const app = await startEchoServer();
    echoes.push(app);
    const members: PodSidecar[] = [];
    for (const i of [1, 2, 3])
      members.push(await startPod(`db-${i}`, { app: 'db' }, `127.0.0.4${i}`, app.port));
    // Whether the member has joined its group (knows a leader): the `raft` check of /healthz. In
    // Kubernetes mode it is not part of readiness (voters are chosen among Ready pods).
    const joined = async (m: PodSidecar) => {
      const answer = await send(m.ports.admin, { path: '/healthz' });
      const checks = (JSON.parse(answer.body) as { checks: { name: string; status: string }[] })
        .checks;
      return checks.some((c) => c.name === 'raft' && c.status === 'pass');
    };
    // Joined is not enough: a member joins as a learner and is promoted after, and until every
    // member counts three voters the run below would not cut "one voter of three".
    const voters = async (m: PodSidecar) => {
      const answer = await send(m.ports.admin, { path: '/v1/raft' });
      if (answer.status !== 200) return 0;
      const view = JSON.parse(answer.body) as { members: { suffrage: string }[] };
      return view.members.filter((member) => member.suffrage === 'voter').length;
    };
    await waitFor(
      'the Raft group to elect a leader and count three voters on every member',
      async () =>
        (await Promise.all(members.map(joined))).every(Boolean) &&
        (await Promise.all(members.map(voters))).every((count) => count === 3),
      30_000,
      200,
    );
    const acquire = (m: PodSidecar, lease: string, holder: string) =>
      send(m.ports.admin, {
        method: 'POST',
        path: `/v1/leases/${lease}/acquire`,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ holder, ttl: '5m' }),
        timeoutMs: 10_000,
      });

    // Two voters of three: refused.
    await createCustom('chaosexperiments', {
      kind: 'ChaosExperiment',
      metadata: { name: 'cut-two', namespace },
      spec: {
        selector: { matchLabels: { app: 'db' } },
        mode: { type: 'fixed', value: 2 },
        faults: [{ type: 'partition', target: 'raft' }],
        duration: '30s',
      },
    });
    const refused = await waitFor(
      'cut-two refused',
      async () => {
        const c = condition(await chaos('cut-two'), 'Ready');
        return c?.reason === 'QuorumLossRefused' ? c : undefined;
      },
      20_000,
      200,
    );
    expect(refused.message).toContain('set allowQuorumLoss: true');
    expect((await chaos('cut-two')).status?.phase).toBe('Pending');
    await deleteChaos('cut-two');

    await createCustom('chaosexperiments', {
      kind: 'ChaosExperiment',
      metadata: { name: 'cut-one', namespace },
      spec: {
        selector: { matchLabels: { app: 'db' } },
        mode: { type: 'one' },
        faults: [{ type: 'partition', target: 'raft' }],
        duration: '20s',
      },
    });
    const running = await untilPhase('cut-one', 'Running');
    const victim = sidecars.get(running.status?.targets?.[0] ?? '') as PodSidecar;
    const majority = members.filter((m) => m !== victim);
    await untilFaults(victim, 'partition');

    // The majority elects (or keeps) a leader among itself and grants; the victim refuses.
    const granted = await waitFor(
      'a grant on the majority side',
      async () => {
        const answer = await acquire(majority[0] as PodSidecar, 'during-cut', 'majority');
        return answer.status === 200 ? answer : undefined;
      },
      20_000,
      200,
    );
    expect(JSON.parse(granted.body)).toMatchObject({ granted: true });
    const refusedByVictim = await acquire(victim, 'victim-lease', 'minority');
    expect(refusedByVictim.status).not.toBe(200);
    await waitFor(
      'the victim to report it has left its group',
      async () => !(await joined(victim)),
      20_000,
      200,
    );

    // The operator goes away while the partition is in force and comes back after the run's
    // end: the new one, from the status alone, ends the run and heals the member.
    await operator?.shutDown();
    const end = Date.parse((await chaos('cut-one')).status?.startTime ?? '') + 20_000;
    await waitFor('the run end to pass with no operator', () => Date.now() > end, 30_000, 200);
    expect(await faultTypes(victim)).toBe('partition');
    const restartedAt = performance.now();
    operator = await startOperator();
    await untilFaults(victim, '');
    console.log(
      `operator restarted after the run end: partition withdrawn ${(performance.now() - restartedAt).toFixed(0)} ms after its start`,
    );
    await untilPhase('cut-one', 'Completed', 40_000);
    const healedAt = performance.now();
    await waitFor('the victim to rejoin its group', () => joined(victim), 20_000, 100);
    const rejoinMs = performance.now() - healedAt;
    console.log(
      `partition healed: ${victim.name} joined again ${rejoinMs.toFixed(0)} ms after Completed was seen`,
    );
    // It sees what the majority committed while it was cut off.
    const seen = await waitFor(
      'the victim to know the lease granted during the cut',
      async () => {
        const answer = await send(victim.ports.admin, { path: '/v1/leases/during-cut' });
        return answer.status === 200 ? answer : undefined;
      },
      20_000,
      100,
    );
    expect(JSON.parse(seen.body)).toMatchObject({ holder: 'majority' });
  }, 150_000);
});
