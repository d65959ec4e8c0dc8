// Issue 9's leader-kill proof on real pods (local node): a ChaosExperiment podKill with
// `target: raftLeader` deletes the Raft leader's pod every 10 s for a minute while lease clients
// hammer the sidecars' lease API. Asserted: the run Completes with ≥ 5 leader kills; every pod
// deleted was the leader; the lease history has no double grant and its fencing tokens increase
// (sidecar's history checker); each failover (leader killed → a new leader grants) is measured,
// reported against issue 5's target (p99 ≤ 1 s with 3 voters) and bounded generously for this
// loaded 2-core machine.
//
// The chart is installed as its own release (palisade-chaos) in its own namespaces. The
// Deployment `leases` (3 echo pods, injected) forms one Raft group (label `app`). The lease
// clients run in this process, one per pod, through `kubectl port-forward` to the pod's loopback
// admin API (15000): every recorded operation is then timed on this machine's one monotonic
// clock. A watch on the pods timestamps each deletion (the kill). Failover of a kill: from the
// deletion until a fresh lease is granted through a surviving sidecar that reports a leader other
// than the killed pod at a higher term (an upper bound: it includes the port-forward's trip).
// The experiment is run by chaos/run.sh, as a user would; with CHAOS_REPORT_DIR set, its report
// and the lease figures are written there.
//
// Helm installs of two releases at once double-inject: run under the node e2e lock,
//   flock /tmp/palisade-node-e2e.lock node --experimental-vm-modules \
//     node_modules/jest/bin/jest.js e2e/src/chaos-pods.node.ts --selectProjects e2e-node
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { CoreV1Api, Watch, type V1Pod } from '@kubernetes/client-node';
import { spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { checkLeaseHistory } from '../../sidecar/dist/raft-node/testing/history-checker.js';
import {
  adminRequest,
  monotonicMs,
  runLeaseClient,
  type LeaseHistoryEvent,
} from '../../sidecar/dist/raft-node/testing/lease-client.js';
import {
  chartDir,
  e2eKubeconfigPath,
  e2eTarget,
  echoDeployment,
  helm,
  kubectlOk,
  kubectlPath,
  loadKubeConfig,
  portForward,
  repoRoot,
  waitFor,
  withNamespace,
} from './support/index.js';

const release = 'palisade-chaos';
const ADMIN_PORT = 15000;
const REPLICAS = 3;
const APP = 'app=leases';
const EXPERIMENT = 'leader-kill';
const KILL_INTERVAL = '10s';
const RUN_DURATION = '60s';
const MIN_KILLS = 5;
const LEASE_NAMES = ['alpha', 'beta', 'gamma'];
const LEASE_TTL_MS = 2000;
/** Issue 5's failover target (p99 with 3 voters). */
const FAILOVER_TARGET_MS = 1000;
/** What is asserted: the target plus slack for a shared, loaded 2-core machine running pods. */
const FAILOVER_BOUND_MS = 10_000;
const RAFT_POLL_MS = 200;

// Pods start and die for real on the shared machine; the run alone is a minute.
jest.setTimeout(600_000);

const system = withNamespace('chaos-sys');
const apps = withNamespace('chaos-app');

const isReady = (pod: V1Pod) =>
  pod.metadata?.deletionTimestamp === undefined &&
  (pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');

/** Names of the Ready, non-terminating pods of the lease app. */
async function readyPods(core: CoreV1Api): Promise<string[]> {
  const list = await core.listNamespacedPod({ namespace: apps.name, labelSelector: APP });
  return list.items
    .filter(isReady)
    .map((pod) => pod.metadata?.name ?? '')
    .sort();
}

/** What one sidecar said of its Raft group at one moment (GET /v1/raft). */
interface RaftSample {
  at: number;
  pod: string;
  role: string;
  term: number;
  leader: string | null;
}

/** One pod under load: its port-forward, its lease client and its Raft poller. */
interface Member {
  pod: string;
  localPort: number;
  stop: AbortController;
  close: () => void;
  history: Promise<LeaseHistoryEvent[]>;
}

/**
 * Lease clients on every Ready pod of the app (one per pod, started when it turns Ready and
 * stopped when it goes), and a poll of each one's /v1/raft every RAFT_POLL_MS.
 */
class LeaseLoad {
  readonly members = new Map<string, Member>();
  readonly raft: RaftSample[] = [];
  private readonly histories: Promise<LeaseHistoryEvent[]>[] = [];
  private readonly deadline = monotonicMs() + 300_000;

  /** Starts clients on Ready pods not served yet; stops those whose pod is gone. */
  async sync(ready: readonly string[]): Promise<void> {
    for (const [pod, member] of this.members) if (!ready.includes(pod)) this.drop(member);
    await Promise.all(
      ready
        .filter((pod) => !this.members.has(pod))
        .map(async (pod) => {
          const forward = await portForward(apps.name, pod, ADMIN_PORT).catch(() => undefined);
          if (forward === undefined || this.members.has(pod)) return forward?.close();
          const stop = new AbortController();
          const history = runLeaseClient({
            client: pod,
            adminPort: forward.localPort,
            names: LEASE_NAMES,
            ttlMs: LEASE_TTL_MS,
            durationMs: this.deadline - monotonicMs(),
            signal: stop.signal,
          });
          this.histories.push(history);
          this.members.set(pod, {
            pod,
            localPort: forward.localPort,
            stop,
            close: forward.close,
            history,
          });
          void this.poll(pod, forward.localPort, stop.signal);
        }),
    );
  }

  /** Stops the member of a pod that was deleted (its port-forward would only fail from now). */
  forget(pod: string): void {
    const member = this.members.get(pod);
    if (member !== undefined) this.drop(member);
  }

  /** Stops every client and returns the whole recorded history. */
  async stop(): Promise<LeaseHistoryEvent[]> {
    for (const member of this.members.values()) this.drop(member);
    return (await Promise.all(this.histories)).flat();
  }

  private drop(member: Member): void {
    member.stop.abort();
    this.members.delete(member.pod);
    // Let operations in flight finish before the forward goes (they are recorded as errors).
    void member.history.finally(member.close);
  }

  private async poll(pod: string, port: number, signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        const answer = await adminRequest(port, 'GET', '/v1/raft', undefined, 1000);
        const body = answer.body;
        if (answer.status === 200)
          this.raft.push({
            at: monotonicMs(),
            pod,
            role: String(body.role),
            term: Number(body.term),
            leader: typeof body.leader === 'string' ? body.leader : null,
          });
      } catch {
        // Not answering (restarting, or its pod is going): nothing to record.
      }
      await delay(RAFT_POLL_MS);
    }
  }
}

/** The leader the sidecars last reported before `at`, with its term. */
function leaderBefore(raft: readonly RaftSample[], at: number): RaftSample | undefined {
  return raft.filter((s) => s.at <= at && s.role === 'leader').sort((a, b) => b.at - a.at)[0];
}

/**
 * ms from `killedAt` until a fresh lease is granted through a surviving sidecar that reports a
 * leader other than `victim` at a term above `victimTerm` (Infinity after 30 s).
 */
async function failoverMs(
  load: LeaseLoad,
  victim: string,
  victimTerm: number,
  killedAt: number,
  round: number,
): Promise<number> {
  let attempt = 0;
  while (monotonicMs() - killedAt < 30_000) {
    for (const member of [...load.members.values()].filter((m) => m.pod !== victim)) {
      try {
        const raft = await adminRequest(member.localPort, 'GET', '/v1/raft', undefined, 1000);
        const leader = raft.body.leader;
        if (typeof leader !== 'string' || leader === victim || Number(raft.body.term) <= victimTerm)
          continue;
        const grant = await adminRequest(
          member.localPort,
          'POST',
          `/v1/leases/failover-${round}-${attempt++}/acquire`,
          { holder: 'failover-probe', ttl: 1000 },
          2000,
        );
        if (grant.status === 200) return monotonicMs() - killedAt;
      } catch {
        // That survivor did not answer (yet): try the next one.
      }
    }
    await delay(20);
  }
  return Number.POSITIVE_INFINITY;
}

const percentile = (sorted: readonly number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;

/**
 * Runs chaos/run.sh on the experiment (kept afterwards, so its final status can be read); its
 * metrics come through the API server's pod proxy to the sidecars' probe port.
 */
function runChaosScript(
  experiment: object,
  report: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const work = mkdtempSync(join(tmpdir(), 'palisade-chaos-pods-'));
  const file = join(work, `${EXPERIMENT}.yaml`);
  writeFileSync(file, JSON.stringify(experiment, null, 2));
  const kubeconfig = e2eKubeconfigPath();
  const child = spawn(
    'bash',
    [join(repoRoot, 'chaos', 'run.sh'), '--timeout', '300', '--keep', '--report', report, file],
    {
      env: {
        ...process.env,
        KUBECTL: `${kubectlPath()}${kubeconfig === undefined ? '' : ` --kubeconfig ${kubeconfig}`}`,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stdout, stderr })));
}

let installed = false;
let core: CoreV1Api;
let load: LeaseLoad | undefined;

beforeAll(async () => {
  if (e2eTarget() !== 'local')
    throw new Error('chaos-pods.node.ts needs the local node (E2E_TARGET=local)');
  core = loadKubeConfig().makeApiClient(CoreV1Api);
  const result = await helm(
    ['install', release, chartDir, '--namespace', system.name, '--wait', '--timeout', '4m'],
    { timeoutMs: 300_000 },
  );
  if (result.code !== 0) throw new Error(`helm install failed:\n${result.stderr}`);
  installed = true;
});

afterAll(async () => {
  await load?.stop();
  // A failed test must not leave the cluster-scoped objects (the webhook above all) behind.
  if (installed)
    await helm(['uninstall', release, '--namespace', system.name, '--wait'], {
      timeoutMs: 120_000,
    });
}, 180_000);

describe('podKill of the Raft leader on real pods', () => {
  it('3 injected replicas form one Raft group whose members name its leader', async () => {
    const deployment = echoDeployment(
      apps.name,
      REPLICAS,
      { app: 'leases' },
      {
        labels: { 'palisade.dev/inject': 'true' },
        annotations: { 'palisade.dev/app-port': '8080' },
      },
    );
    await kubectlOk(['apply', '-f', '-'], JSON.stringify(deployment));
    const pods = await waitFor(
      async () => {
        const ready = await readyPods(core);
        return ready.length === REPLICAS ? ready : undefined;
      },
      { what: `${REPLICAS} Ready pods ${APP}`, timeoutMs: 240_000, intervalMs: 1000 },
    );
    load = new LeaseLoad();
    await load.sync(pods);
    const leader = await waitFor(
      async () => {
        const latest = pods.map((pod) => load?.raft.filter((s) => s.pod === pod).at(-1));
        const leaders = new Set(latest.map((s) => s?.leader));
        const [only] = leaders;
        return leaders.size === 1 && typeof only === 'string' ? only : undefined;
      },
      { what: 'every member naming the same Raft leader', timeoutMs: 60_000, intervalMs: 500 },
    );
    // Raft ids are pod names: a kill is matched to the leader by name below.
    expect(pods).toContain(leader);
  });

  it('podKill target raftLeader every 10 s for 60 s: ≥ 5 leader kills, no double grant, bounded failover', async () => {
    const running = load as LeaseLoad;
    const kills: { pod: string; at: number }[] = [];
    const failovers: Promise<number>[] = [];
    const led: boolean[] = [];
    let live = true;
    const watch = await new Watch(loadKubeConfig()).watch(
      `/api/v1/namespaces/${apps.name}/pods`,
      { labelSelector: APP },
      (type: string, pod: V1Pod) => {
        const name = pod.metadata?.name ?? '';
        const gone = type === 'DELETED' || pod.metadata?.deletionTimestamp !== undefined;
        if (!live || !gone || kills.some((k) => k.pod === name)) return;
        const at = monotonicMs();
        const before = leaderBefore(running.raft, at);
        kills.push({ pod: name, at });
        led.push(before?.pod === name);
        running.forget(name);
        failovers.push(failoverMs(running, name, before?.term ?? 0, at, kills.length));
      },
      () => undefined,
    );
    // Replacement pods join the load as they turn Ready.
    const syncing = (async () => {
      while (live) {
        await running.sync(await readyPods(core)).catch(() => undefined);
        await delay(1000);
      }
    })();

    const reportDir = process.env['CHAOS_REPORT_DIR'];
    const report = join(
      reportDir ?? mkdtempSync(join(tmpdir(), 'chaos-report-')),
      `${EXPERIMENT}.md`,
    );
    const startedAt = monotonicMs();
    const script = await runChaosScript(
      {
        apiVersion: 'palisade.dev/v1alpha1',
        kind: 'ChaosExperiment',
        metadata: { name: EXPERIMENT, namespace: apps.name },
        spec: {
          selector: { matchLabels: { app: 'leases' } },
          mode: { type: 'all' },
          faults: [
            {
              type: 'podKill',
              target: 'raftLeader',
              interval: KILL_INTERVAL,
              gracePeriodSeconds: 0,
            },
          ],
          duration: RUN_DURATION,
          // Observed from the sidecars' palisade_lease_holder_changes_total. The clients here
          // release and re-acquire all the time, so this proves the observation path end to
          // end, not that the kills alone moved the lease.
          expect: [{ type: 'leaseChangesHolder', lease: LEASE_NAMES[0], within: '30s' }],
        },
      },
      report,
    );
    live = false;
    watch.abort();
    await syncing;
    const failover = await Promise.all(failovers);
    const history = await running.stop();
    load = undefined;
    const check = checkLeaseHistory(history);
    const status = JSON.parse(
      await kubectlOk(['get', 'chaosexperiment', '-n', apps.name, EXPERIMENT, '-o', 'json']),
    ) as {
      status?: {
        phase?: string;
        injected?: { podKill?: number };
        podKillRounds?: { done: number; skipped: number; lastSkipReason?: string };
        conditions?: { type: string; status: string; reason?: string; message?: string }[];
      };
    };
    const sorted = failover.filter(Number.isFinite).sort((a, b) => a - b);
    const byOutcome = new Map<string, number>();
    for (const e of history) byOutcome.set(e.outcome, (byOutcome.get(e.outcome) ?? 0) + 1);
    const figures = [
      '',
      '## Leases under the kills (e2e/src/chaos-pods.node.ts)',
      '',
      `- run: ${((monotonicMs() - startedAt) / 1000).toFixed(0)} s watched; podKill rounds ${status.status?.podKillRounds?.done ?? 0}, skipped ${status.status?.podKillRounds?.skipped ?? 0}${status.status?.podKillRounds?.lastSkipReason === undefined ? '' : ` (last: ${status.status.podKillRounds.lastSkipReason})`}`,
      `- pods deleted: ${kills.length} (${kills.map((k) => k.pod).join(', ')}); the Raft leader by the sidecars' own last report: ${led.filter(Boolean).length} of ${kills.length}`,
      `- lease clients: one per pod through kubectl port-forward, names ${LEASE_NAMES.join(', ')}, ttl ${LEASE_TTL_MS} ms; ${history.length} operations (${[...byOutcome].map(([k, v]) => `${k} ${v}`).join(', ')}), ${check.grants} grants`,
      `- history check (no two holders at once, fencing tokens strictly increasing): ${check.violations.length === 0 ? '**no violation**' : `**${check.violations.length} violations**`}`,
      ...check.violations.slice(0, 10).map((v) => `  - ${v}`),
      `- failover (leader pod deleted → a fresh lease granted under a new leader), ms: ${failover.map((ms) => (Number.isFinite(ms) ? ms.toFixed(0) : 'none in 30 s')).join(', ')}`,
      `- p50 ${percentile(sorted, 50).toFixed(0)} ms, p99 ${percentile(sorted, 99).toFixed(0)} ms, max ${(sorted.at(-1) ?? NaN).toFixed(0)} ms against the ${FAILOVER_TARGET_MS} ms target (upper bounds: each includes a port-forward round trip; the 2-core machine is shared)`,
      '',
    ].join('\n');
    console.log(`${script.stdout}${figures}\nchaos/run.sh exit ${script.code}: ${script.stderr}`);
    if (reportDir !== undefined) appendFileSync(report, figures);
    await kubectlOk(['delete', 'chaosexperiment', '-n', apps.name, EXPERIMENT, '--wait=false']);

    expect(script.code).toBe(0);
    expect(status.status?.phase).toBe('Completed');
    expect(status.status?.conditions?.find((c) => c.type === 'Verified')).toMatchObject({
      status: 'True',
    });
    expect(status.status?.injected?.podKill ?? 0).toBeGreaterThanOrEqual(MIN_KILLS);
    expect(kills.length).toBe(status.status?.injected?.podKill);
    expect(led).toEqual(kills.map(() => true));
    expect(check.violations).toEqual([]);
    expect(check.grants).toBeGreaterThan(0);
    expect(failover.every((ms) => ms < FAILOVER_BOUND_MS)).toBe(true);
  });
});
