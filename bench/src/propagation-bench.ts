/**
 * bench:propagation — a policy change → applied by every affected sidecar, on the local control
 * plane, for 100 and 1,000 sidecars (issue 6 targets: p99 ≤ 1 s and ≤ 3 s).
 *
 * Per size: a namespace with N pods (API objects marked Ready, as the webhook leaves them), the
 * real `palisade-operator` process watching it, and N sidecar stand-ins (propagation-standin.ts:
 * the sidecar's own kube-config modules and ConfigStore, one watch each, 100 per process). A
 * RateLimitPolicy selecting every pod is patched T times; a sample is the time from just before
 * the patch to a stand-in's store applying the config with the new limit (operator informer →
 * compile → ConfigMap create + delete → N watches → selection → validation → swap).
 * Baseline, same run, same N watchers (one more connection per stand-in): a plain ConfigMap
 * update → its watch event at each watcher, i.e. the API server's own fan-out. The ratio says
 * what the whole Palisade path costs on top of the delivery it is built on.
 *
 * Wall-clock figures on a shared 2-CPU machine are upper bounds; the load average is recorded.
 * Writes bench/results/propagation-<date>.json and .md.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  PatchStrategy,
  Watch,
  setHeaderOptions,
} from '@kubernetes/client-node';
import { now, type StartMessage, type WorkerMessage } from './propagation-standin.js';
import { writeResults } from './bench-results.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const kubeconfig = process.env['PALISADE_KUBECONFIG'] ?? '';
const sizes = (process.env['PROP_BENCH_SIZES'] ?? '100,1000').split(',').map(Number);
const trials = Number(process.env['PROP_BENCH_TRIALS'] ?? 10);
const PER_WORKER = 100;
const GROUP = 'palisade.dev';
const VERSION = 'v1alpha1';

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

function summary(values: readonly number[]) {
  return {
    samples: values.length,
    p50: percentile(values, 50),
    p99: percentile(values, 99),
    max: Math.max(...values),
  };
}

/** CPU time (user + system) used so far by the processes `pids`, in ms (Linux /proc, 10 ms ticks). */
function cpuMs(pids: readonly (number | undefined)[]): number {
  let ticks = 0;
  for (const pid of pids) {
    if (pid === undefined) continue;
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    ticks += Number(fields[11]) + Number(fields[12]);
  }
  return ticks * 10;
}

/** Runs `task` over `items` with at most `limit` in flight. */
async function pool<T>(items: readonly T[], limit: number, task: (item: T) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await task(items[next++] as T);
    }),
  );
}

async function until(what: string, condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

async function runSize(n: number, kc: KubeConfig) {
  const core = kc.makeApiClient(CoreV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  const namespace = `palisade-prop-${n}-${process.pid}`;
  const pods = Array.from({ length: n }, (_, i) => `app-${String(i).padStart(4, '0')}`);
  const children: ChildProcess[] = [];
  let stopWatch = (): void => undefined;
  process.stdout.write(`\n${n} sidecars: creating ${n} pods in ${namespace}…\n`);
  await core.createNamespace({ body: { metadata: { name: namespace } } });
  try {
    // The controller-manager may have made it already.
    await core
      .createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'default' } } })
      .catch(() => undefined);
    await pool(pods, 16, async (name) => {
      const i = pods.indexOf(name);
      await core.createNamespacedPod({
        namespace,
        body: {
          metadata: {
            name,
            labels: { app: 'prop', 'palisade.dev/sidecar': 'injected' },
            annotations: { 'palisade.dev/app-port': '8080' },
          },
          spec: {
            // No scheduler serves this name: the pods stay API objects even on a cluster with a
            // node (no kubelet rewrites the status the bench sets, no image is pulled).
            schedulerName: 'palisade-bench-unscheduled',
            automountServiceAccountToken: false,
            containers: [{ name: 'app', image: 'registry.invalid/app:1' }],
          },
        },
      });
      const ip = `10.250.${Math.floor(i / 250)}.${(i % 250) + 1}`;
      await core.patchNamespacedPodStatus(
        {
          namespace,
          name,
          body: {
            status: {
              podIP: ip,
              podIPs: [{ ip }],
              conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: new Date() }],
            },
          },
        },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
    });
    const baselineName = 'bench-baseline';
    await core.createNamespacedConfigMap({
      namespace,
      body: { metadata: { name: baselineName }, data: { value: 'start' } },
    });

    const operator = spawn(
      process.execPath,
      [
        path.join(root, 'operator/dist/bin/palisade-operator.js'),
        '--kubeconfig',
        kubeconfig,
        '--leader-elect=false',
        '--webhook=false',
        '--watch-namespace',
        namespace,
        '--operator-namespace',
        namespace,
        '--health-bind',
        '127.0.0.1:0',
        '--log-level',
        'warn',
      ],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
    children.push(operator);

    const applied = new Map<string, { version: string; limit: number | null; at: number }>();
    const baseline = new Map<string, { value: string; at: number }>();
    let started = 0;
    const errors: string[] = [];
    for (let i = 0; i < n; i += PER_WORKER) {
      const worker = fork(path.join(root, 'bench/dist/propagation-standin.js'), [], {
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        // PROP_BENCH_PROFILE=<dir>: a CPU profile of each stand-in process.
        ...(process.env['PROP_BENCH_PROFILE'] === undefined
          ? {}
          : { execArgv: ['--cpu-prof', `--cpu-prof-dir=${process.env['PROP_BENCH_PROFILE']}`] }),
      });
      children.push(worker);
      worker.on('message', (m: WorkerMessage) => {
        if (m.type === 'applied') applied.set(m.pod, m);
        else if (m.type === 'baseline') baseline.set(m.pod, m);
        else if (m.type === 'started') started += m.pods;
        else if (errors.length < 20) errors.push(m.message);
      });
      const message: StartMessage = {
        type: 'start',
        kubeconfig,
        namespace,
        pods: pods.slice(i, i + PER_WORKER),
        baselineName,
      };
      worker.send(message);
    }
    const t = now();
    await until(`${n} stand-ins started`, () => started === n, 300_000);
    await until('a delivered config at every stand-in', () => applied.size === n, 120_000);
    process.stdout.write(
      `${n} stand-ins watching and configured (${Math.round(now() - t)} ms); ${errors.length} errors\n`,
    );

    // When the operator's new ConfigMap reaches one watcher here: splits the path into "operator
    // reacts and writes" and "N sidecars receive, select, validate and swap".
    const written: { limit: number; at: number }[] = [];
    let configMapEvents = 0;
    const operatorWatch = await new Watch(kc).watch(
      `/api/v1/namespaces/${namespace}/configmaps`,
      { labelSelector: 'app.kubernetes.io/managed-by=palisade-operator' },
      (type: string, object: { data?: Record<string, string> }) => {
        configMapEvents++;
        if (type !== 'ADDED') return;
        const config = JSON.parse(object.data?.['config.json'] ?? '{}') as {
          rateLimits?: { limit: { requests: number } }[];
        };
        const limit = config.rateLimits?.[0]?.limit.requests;
        if (limit !== undefined) written.push({ limit, at: now() });
      },
      () => undefined,
    );
    stopWatch = () => operatorWatch.abort();
    const rlpPath = { group: GROUP, version: VERSION, namespace, plural: 'ratelimitpolicies' };
    const allAt = (limit: number) => () => pods.every((p) => applied.get(p)?.limit === limit);
    await custom.createNamespacedCustomObject({
      ...rlpPath,
      body: {
        apiVersion: `${GROUP}/${VERSION}`,
        kind: 'RateLimitPolicy',
        metadata: { name: 'prop' },
        spec: {
          selector: { matchLabels: { app: 'prop' } },
          rules: [
            {
              name: 'all',
              limit: { requests: 100, period: '1m' },
              key: { type: 'global' },
              scope: 'local',
            },
          ],
        },
      },
    });
    await until('the policy at every stand-in', allAt(100), 120_000);

    const workerPids = children.slice(1).map((c) => c.pid);
    // What the stand-ins burn with nothing to do, to tell it apart from the work of a change.
    const idleStart = { cpu: cpuMs(workerPids), at: now() };
    await new Promise((resolve) => setTimeout(resolve, 5000));
    const idlePerSidecarPerSecond =
      (cpuMs(workerPids) - idleStart.cpu) / ((now() - idleStart.at) / 1000) / n;
    const cpu = { operatorMs: 0, standInsMs: 0, windowMs: 0 };
    const palisade: number[] = [];
    const operatorWrite: number[] = [];
    const events: number[] = [];
    const raw: number[] = [];
    const perTrialMax: { palisade: number; baseline: number }[] = [];
    for (let trial = 1; trial <= trials; trial++) {
      const limit = 100 + trial;
      const cpuBefore = { operator: cpuMs([operator.pid]), workers: cpuMs(workerPids) };
      const eventsBefore = configMapEvents;
      let t0 = now();
      await custom.patchNamespacedCustomObject(
        {
          ...rlpPath,
          name: 'prop',
          body: [{ op: 'replace', path: '/spec/rules/0/limit/requests', value: limit }],
        },
        setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
      );
      await until(`limit ${limit} at every stand-in`, allAt(limit), 240_000);
      cpu.operatorMs += cpuMs([operator.pid]) - cpuBefore.operator;
      cpu.standInsMs += cpuMs(workerPids) - cpuBefore.workers;
      cpu.windowMs += now() - t0;
      events.push(configMapEvents - eventsBefore);
      const ours = pods.map((p) => (applied.get(p)?.at ?? NaN) - t0);
      palisade.push(...ours);
      const write = (written.find((w) => w.limit === limit)?.at ?? NaN) - t0;
      operatorWrite.push(write);

      const value = `v${trial}`;
      t0 = now();
      await core.patchNamespacedConfigMap(
        { namespace, name: baselineName, body: { data: { value } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
      await until(
        `baseline ${value} at every watcher`,
        () => pods.every((p) => baseline.get(p)?.value === value),
        60_000,
      );
      const theirs = pods.map((p) => (baseline.get(p)?.at ?? NaN) - t0);
      raw.push(...theirs);
      perTrialMax.push({ palisade: Math.max(...ours), baseline: Math.max(...theirs) });
      process.stdout.write(
        `  trial ${trial}: operator write seen ${Math.round(write)} ms, palisade min ${Math.round(Math.min(...ours))} max ${Math.round(Math.max(...ours))} ms, baseline max ${Math.round(Math.max(...theirs))} ms, ConfigMap events ${events[events.length - 1]}\n`,
      );
    }
    return {
      sidecars: n,
      trials,
      palisadeMs: summary(palisade),
      operatorWriteMs: summary(operatorWrite),
      configMapEventsPerChange: events,
      // CPU per policy change: the operator's, and the stand-ins' per sidecar (each sidecar
      // does this much work for the change, whatever the machine's load).
      cpuPerChange: {
        operatorMs: cpu.operatorMs / trials,
        perSidecarMs: cpu.standInsMs / trials / n,
        // The same window's idle share, already included in perSidecarMs.
        idlePerSidecarMs: (idlePerSidecarPerSecond * cpu.windowMs) / 1000 / trials,
      },
      baselineMs: summary(raw),
      perTrialMax,
      errors,
    };
  } finally {
    stopWatch();
    for (const child of children) child.kill('SIGTERM');
    await Promise.all(
      children.map((c) =>
        c.exitCode !== null || c.signalCode !== null ? null : new Promise((r) => c.once('exit', r)),
      ),
    );
    await core.deleteNamespace({ name: namespace }).catch(() => undefined);
  }
}

async function main(): Promise<void> {
  if (kubeconfig === '')
    throw new Error('PALISADE_KUBECONFIG is not set: run bench/run-propagation.sh');
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  const loadBefore = os.loadavg();
  const started = new Date().toISOString();
  const runs = [];
  for (const n of sizes) runs.push(await runSize(n, kc));
  const loadAfter = os.loadavg();
  const target: Record<number, number> = { 100: 1000, 1000: 3000 };
  const fmt = (x: number) => (x < 10 ? x.toFixed(1) : x.toFixed(0));
  const md = [
    `# bench:propagation — ${started}`,
    '',
    `Command: \`bash bench/run-propagation.sh\` (PROP_BENCH_SIZES=${sizes.join(',')} PROP_BENCH_TRIALS=${trials}) · ${os.cpus().length} CPUs · load average before ${loadBefore.map((l) => l.toFixed(1)).join(' ')}, after ${loadAfter.map((l) => l.toFixed(1)).join(' ')}`,
    '',
    'Policy patch → config applied by every stand-in (operator process + kube-config modules + ConfigStore), vs. a plain ConfigMap patch → watch event at the same number of watchers (API-server fan-out). Wall clock on a shared machine: upper bounds.',
    '',
    '| sidecars | samples | Palisade p50 | Palisade p99 | max | target p99 | baseline p50 | baseline p99 | ratio p50 | ratio p99 |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...runs.map(
      (r) =>
        `| ${r.sidecars} | ${r.palisadeMs.samples} | ${fmt(r.palisadeMs.p50)} ms | ${fmt(r.palisadeMs.p99)} ms | ${fmt(r.palisadeMs.max)} ms | ${target[r.sidecars] === undefined ? '—' : `${target[r.sidecars]} ms ${r.palisadeMs.p99 <= (target[r.sidecars] as number) ? '(met)' : '(missed)'}`} | ${fmt(r.baselineMs.p50)} ms | ${fmt(r.baselineMs.p99)} ms | ${(r.palisadeMs.p50 / r.baselineMs.p50).toFixed(1)}× | ${(r.palisadeMs.p99 / r.baselineMs.p99).toFixed(1)}× |`,
    ),
    '',
    'Where the time goes (same run): "operator write seen" is policy patch → the new ConfigMap at one extra watcher; CPU is per policy change (Linux /proc, 10 ms ticks), the stand-ins\' divided by the number of sidecars. The stand-ins share ' +
      `${PER_WORKER} per process on this machine's CPUs, so their spread above is mostly queueing behind each other; one process per sidecar (as in a cluster) would pay its own CPU only: the last column adds operator write p99 + baseline fan-out p99 + one sidecar's CPU for the change without its idle share (an estimate, not a measurement).`,
    '',
    '| sidecars | operator write seen p50 / p99 | operator CPU per change | CPU per sidecar per change | estimate, one process per sidecar |',
    '|---|---|---|---|---|',
    ...runs.map(
      (r) =>
        `| ${r.sidecars} | ${fmt(r.operatorWriteMs.p50)} / ${fmt(r.operatorWriteMs.p99)} ms | ${fmt(r.cpuPerChange.operatorMs)} ms | ${r.cpuPerChange.perSidecarMs.toFixed(2)} ms (idle share ${r.cpuPerChange.idlePerSidecarMs.toFixed(2)} ms) | ${fmt(r.operatorWriteMs.p99 + r.baselineMs.p99 + r.cpuPerChange.perSidecarMs - r.cpuPerChange.idlePerSidecarMs)} ms |`,
    ),
    '',
  ].join('\n');
  writeResults(
    'propagation',
    started,
    {
      date: started,
      command: 'bash bench/run-propagation.sh',
      sizes,
      trials,
      cpus: os.cpus().length,
      loadBefore,
      loadAfter,
      runs,
    },
    `${md}\n`,
  );
  process.stdout.write(`\n${md}\n`);
}

await main();
