// Leader election of the real `palisade-operator` processes on the local control plane (e2e
// project; `npx tsc -b` first): two replicas, one reconciles; SIGKILL of the leader → the
// standby takes over within leaseDuration + retryPeriod; SIGTERM → the Lease is released and
// the standby takes over at its next attempt (≈ retryPeriod). Default timings (15 s / 10 s / 2 s).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  CoreV1Api,
  CoordinationV1Api,
  CustomObjectsApi,
  EventsV1Api,
  KubeConfig,
} from '@kubernetes/client-node';
import { GROUP, VERSION } from '@palisade/crds';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { OperatorProcess } from './support/operator-process.js';
import { poll } from './support/poll.js';

const kubeconfigPath =
  process.env['PALISADE_KUBECONFIG'] ??
  join(homedir(), '.cache', 'palisade', 'cluster', 'admin.kubeconfig');
const namespace = `palisade-le-${process.pid}`;
const leaseName = 'palisade-operator-e2e';
const LEASE_DURATION_MS = 15_000;
const RETRY_PERIOD_MS = 2_000;

let kc: KubeConfig;
let core: CoreV1Api;
let custom: CustomObjectsApi;
let coordination: CoordinationV1Api;
let events: EventsV1Api;
const processes: OperatorProcess[] = [];

function startReplica(identity: string): OperatorProcess {
  const p = new OperatorProcess(identity, [
    '--kubeconfig',
    kubeconfigPath,
    '--identity',
    identity,
    '--operator-namespace',
    namespace,
    '--watch-namespace',
    namespace,
    '--lease-name',
    leaseName,
    '--webhook=false',
    '--health-bind',
    '127.0.0.1:0',
  ]);
  processes.push(p);
  return p;
}

async function holder(): Promise<string> {
  const lease = await coordination.readNamespacedLease({ namespace, name: leaseName });
  return lease.spec?.holderIdentity ?? '';
}

async function observedGeneration(): Promise<number | undefined> {
  const object = (await custom.getNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    namespace,
    plural: 'ratelimitpolicies',
    name: 'le-policy',
  })) as { status?: { observedGeneration?: number } };
  return object.status?.observedGeneration;
}

function policy(requests: number) {
  return {
    apiVersion: `${GROUP}/${VERSION}`,
    kind: 'RateLimitPolicy',
    metadata: { name: 'le-policy', namespace },
    spec: {
      selector: { matchLabels: { app: 'le' } },
      rules: [{ name: 'all', limit: { requests, period: '1m' }, key: { type: 'global' } }],
    },
  };
}

const reconciles = (p: OperatorProcess) =>
  p.metric('palisade_operator_reconcile_duration_seconds_count');

beforeAll(async () => {
  kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  core = kc.makeApiClient(CoreV1Api);
  custom = kc.makeApiClient(CustomObjectsApi);
  coordination = kc.makeApiClient(CoordinationV1Api);
  events = kc.makeApiClient(EventsV1Api);
  await core.createNamespace({ body: { metadata: { name: namespace } } });
});

afterAll(async () => {
  for (const p of processes) p.kill('SIGKILL');
  await Promise.all(processes.map((p) => p.exited));
  await core?.deleteNamespace({ name: namespace }).catch(() => undefined);
});

describe('leader election between two operator processes', () => {
  it('one leader reconciles; SIGKILL → takeover within leaseDuration + retry; SIGTERM → handover within ~retryPeriod', async () => {
    const a = startReplica('replica-a');
    await a.waitForLog('became leader', (l) => l.msg === 'became leader');
    const b = startReplica('replica-b');
    await b.waitForLog(
      'lease holder replica-a',
      (l) => l.msg === 'lease holder' && l['holder'] === 'replica-a',
    );
    expect(await holder()).toBe('replica-a');
    await poll(
      'both ready',
      async () =>
        (await a.get('/readyz')).status === 200 && (await b.get('/readyz')).status === 200
          ? true
          : undefined,
      20_000,
    );
    expect(JSON.parse((await b.get('/readyz')).body)).toMatchObject({
      details: { role: 'standby' },
    });
    expect(await a.metric('palisade_operator_leader')).toBe(1);
    expect(await b.metric('palisade_operator_leader')).toBe(0);

    // Only the leader reconciles: the policy's status is written, and only A counts reconciles.
    await custom.createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace,
      plural: 'ratelimitpolicies',
      body: policy(10),
    });
    await poll(
      'status of generation 1',
      async () => ((await observedGeneration()) === 1 ? true : undefined),
      20_000,
    );
    expect(await reconciles(a)).toBeGreaterThan(0);
    expect(await reconciles(b)).toBe(0);
    // A records the transition's Event right after the status write, fire-and-forget (Events are
    // best effort: a kill in between loses it). The kill below comes once it is written, so the
    // count at the end tells whether the failover duplicated it.
    const policyEvents = async () =>
      (await events.listNamespacedEvent({ namespace })).items.filter(
        (e) => e.regarding?.name === 'le-policy',
      );
    await poll(
      'the transition event',
      async () => ((await policyEvents()).length > 0 ? true : undefined),
      10_000,
    );

    // SIGKILL: no release; B waits for the lease to expire on its own clock. Bound: B saw A's
    // last renewal at most one retry period late, and tries again right at expiry, so the
    // takeover comes within leaseDuration + retryPeriod of the kill (+ API latency).
    a.kill('SIGKILL');
    const killedAt = (await a.exited).atMs;
    await b.waitForLog(
      'became leader',
      (l) => l.msg === 'became leader',
      LEASE_DURATION_MS + 10_000,
    );
    const takeoverMs = Date.now() - killedAt;
    expect(await holder()).toBe('replica-b');
    expect(takeoverMs).toBeLessThanOrEqual(LEASE_DURATION_MS + RETRY_PERIOD_MS + 1_500);
    // B reconciles now: a spec change gets its status.
    await custom.patchNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace,
      plural: 'ratelimitpolicies',
      name: 'le-policy',
      body: [{ op: 'replace', path: '/spec/rules/0/limit/requests', value: 20 }],
    });
    await poll(
      'status of generation 2',
      async () => ((await observedGeneration()) === 2 ? true : undefined),
      20_000,
    );
    expect(await reconciles(b)).toBeGreaterThan(0);
    // One Event for the one transition (none → Ready False/NoMatchingPods), none for the
    // generation change that kept the reason, and none duplicated by the failover.
    const recorded = await policyEvents();
    expect(recorded.map((e) => `${e.type} ${e.reason} ${e.reportingController}`)).toEqual([
      'Warning NoMatchingPods palisade.dev/operator',
    ]);

    // SIGTERM: B drains, releases the Lease, exits 0; C takes over at its next attempt.
    const c = startReplica('replica-c');
    await c.waitForLog(
      'lease holder replica-b',
      (l) => l.msg === 'lease holder' && l['holder'] === 'replica-b',
    );
    b.kill('SIGTERM');
    const exit = await b.exited;
    expect(exit.code).toBe(0);
    await c.waitForLog('became leader', (l) => l.msg === 'became leader', 10_000);
    const handoverMs = Date.now() - exit.atMs;
    expect(await holder()).toBe('replica-c');
    expect(handoverMs).toBeLessThanOrEqual(RETRY_PERIOD_MS + 1_500);
    process.stdout.write(
      `leader election: SIGKILL takeover ${takeoverMs} ms, SIGTERM handover ${handoverMs} ms\n`,
    );
  }, 90_000);
});
