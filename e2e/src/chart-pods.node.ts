// The Helm chart with real pods (issue 10) on the local node, with the images built here
// (e2e/images/build.sh: palisade-operator and palisade-sidecar, imported by the global setup):
// `helm install` → 2 operator replicas Ready, one of them holding the leader Lease; the webhook
// (the API server on the host reaches the webhook Service through kube-proxy) injects the sidecar
// into a labelled Deployment of the echo app; a RateLimitPolicy is enforced (429 through the
// sidecar's inbound port); `helm test` passes; `helm upgrade` with a changed value rolls the
// operator while a client loop through the app's Service (targetPort: the sidecar's inbound port)
// counts no failure; `helm uninstall` leaves no Palisade object but the CRDs (what the operator
// created in the app namespace goes with the garbage collector), and the injected pods keep
// serving.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { setTimeout as delay } from 'node:timers/promises';
import {
  chartDir,
  e2eTarget,
  echoDeployment,
  helm,
  helmOk,
  kubectl,
  kubectlOk,
  waitFor,
  withNamespace,
} from './support/index.js';

const release = 'palisade';
const INBOUND_PORT = 15006;
const REPLICAS = 2;
const LOOP_PACE_MS = 20;

// Pods start, roll and stop for real on the shared 2-core machine.
jest.setTimeout(240_000);

const system = withNamespace('helm-sys');
const apps = withNamespace('helm-app');

/** What the uninstall test reads of an operator-made object. */
interface OperatorMade {
  kind: string;
  metadata: {
    name: string;
    namespace: string;
    creationTimestamp: string;
    ownerReferences?: { name: string; uid: string }[];
    managedFields?: { manager: string; time: string }[];
  };
}

interface PodJson {
  metadata: { name: string; deletionTimestamp?: string; labels?: Record<string, string> };
  spec: { containers: { name: string }[] };
  status: { podIP?: string; conditions?: { type: string; status: string }[] };
}

/** Live (not terminating) pods matching `selector`, with whether they are Ready. */
async function pods(
  namespace: string,
  selector: string,
): Promise<(PodJson & { ready: boolean })[]> {
  const list = JSON.parse(
    await kubectlOk(['get', 'pods', '-n', namespace, '-l', selector, '-o', 'json']),
  ) as { items: PodJson[] };
  return list.items
    .filter((pod) => pod.metadata.deletionTimestamp === undefined)
    .map((pod) => ({
      ...pod,
      ready: (pod.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True'),
    }));
}

async function allReady(namespace: string, selector: string, count: number) {
  return waitFor(
    async () => {
      const found = await pods(namespace, selector);
      return found.length === count && found.every((pod) => pod.ready) ? found : undefined;
    },
    {
      what: `${count} Ready pods ${selector} in ${namespace}`,
      timeoutMs: 180_000,
      intervalMs: 1000,
    },
  );
}

const OPERATOR = 'app.kubernetes.io/name=palisade,app.kubernetes.io/component=operator';
// Not `app`: the operator puts pods labelled `app` or `app.kubernetes.io/name` in a Raft group,
// and a sidecar refuses a Raft section without `secretFile`, which the operator cannot deliver
// yet (installation setting `raft` is accepted but not passed on). Rate limits need no Raft.
const ECHO = 'workload=echo';

/** The holder of the operator's leader Lease. */
async function leaseHolder(): Promise<string> {
  return kubectlOk([
    'get',
    'lease',
    '-n',
    system.name,
    'palisade-operator',
    '-o',
    'jsonpath={.spec.holderIdentity}',
  ]);
}

/** One GET from this process; the status, or 0 when the request failed (refused, reset, timeout). */
async function status(url: string): Promise<number> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(3000) });
    await response.arrayBuffer();
    return response.status;
  } catch {
    return 0;
  }
}

/**
 * Requests `url` every LOOP_PACE_MS while `during` runs (stopped however it ends); returns the
 * answers counted by status (0: failed request). The pause paces the load on the shared machine
 * and lets timers run between requests.
 */
async function whileRequesting(
  url: string,
  during: () => Promise<void>,
): Promise<Map<number, number>> {
  const counts = new Map<number, number>();
  let running = true;
  const loop = (async () => {
    while (running) {
      const code = await status(url);
      counts.set(code, (counts.get(code) ?? 0) + 1);
      await delay(LOOP_PACE_MS);
    }
  })();
  try {
    await during();
  } finally {
    running = false;
    await loop;
  }
  return counts;
}

function echoApp(namespace: string): string {
  const objects = [
    // The pod label asks for injection; the annotation names the port the sidecar forwards to.
    echoDeployment(
      namespace,
      REPLICAS,
      { workload: 'echo' },
      {
        labels: { 'palisade.dev/inject': 'true' },
        annotations: { 'palisade.dev/app-port': '8080' },
      },
    ),
    {
      // Traffic enters through the sidecar: the Service targets its inbound port (named
      // palisade-in on the injected container), not the app's.
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'echo', namespace },
      spec: { selector: { workload: 'echo' }, ports: [{ port: 80, targetPort: 'palisade-in' }] },
    },
  ];
  return objects.map((object) => JSON.stringify(object)).join('\n---\n');
}

function policy(namespace: string): string {
  return JSON.stringify({
    apiVersion: 'palisade.dev/v1alpha1',
    kind: 'RateLimitPolicy',
    metadata: { name: 'echo-limited', namespace },
    spec: {
      selector: { matchLabels: { workload: 'echo' } },
      rules: [
        {
          name: 'one-per-minute',
          match: { pathPrefix: '/limited' },
          limit: { requests: 1, period: '1m' },
          key: { type: 'global' },
          scope: 'local',
        },
      ],
    },
  });
}

let installed = false;
let serviceUrl = '';
/** UID of the release's webhook configuration, the owner of what the operator creates. */
let ownerUid = '';

beforeAll(async () => {
  if (e2eTarget() !== 'local')
    throw new Error('chart-pods.node.ts needs the local node (E2E_TARGET=local)');
});

afterAll(async () => {
  // A failed test must not leave the cluster-scoped objects (the webhook above all) behind.
  if (installed) await helm(['uninstall', release, '--namespace', system.name, '--wait']);
}, 120_000);

describe('helm with real pods', () => {
  it('`helm install` → 2 operator replicas Ready, one of them the leader', async () => {
    const out = await helmOk([
      'install',
      release,
      chartDir,
      '--namespace',
      system.name,
      '--wait',
      '--timeout',
      '4m',
    ]);
    installed = true;
    expect(out).toContain('STATUS: deployed');
    const operators = await allReady(system.name, OPERATOR, 2);
    const holder = await waitFor(
      async () => {
        const name = await leaseHolder();
        return operators.some((pod) => pod.metadata.name === name) ? name : undefined;
      },
      { what: 'an operator replica holding the lease', timeoutMs: 60_000, intervalMs: 500 },
    );
    expect(operators.map((pod) => pod.metadata.name)).toContain(holder);
  });

  it('the webhook injects the sidecar into a labelled Deployment; traffic flows through it', async () => {
    await kubectlOk(['apply', '-f', '-'], echoApp(apps.name));
    const echo = await allReady(apps.name, ECHO, REPLICAS);
    for (const pod of echo) {
      expect(pod.spec.containers.map((c) => c.name)).toEqual(['echo', 'palisade-sidecar']);
      expect(pod.metadata.labels?.['palisade.dev/sidecar']).toBe('injected');
    }
    const ip = await kubectlOk([
      'get',
      'service',
      '-n',
      apps.name,
      'echo',
      '-o',
      'jsonpath={.spec.clusterIP}',
    ]);
    serviceUrl = `http://${ip}/`;
    const names = new Set(echo.map((pod) => pod.metadata.name));
    const body = await waitFor(
      async () => {
        const response = await fetch(serviceUrl, { signal: AbortSignal.timeout(3000) });
        const text = (await response.text()).trim();
        return response.status === 200 && names.has(text) ? text : undefined;
      },
      { what: 'an echo pod answering through its sidecar', timeoutMs: 30_000, intervalMs: 500 },
    );
    expect(names).toContain(body);
    // The operator gave the namespace its sidecar RoleBinding and Raft Secret (decision 0018),
    // owned by the release's webhook configuration.
    ownerUid = await kubectlOk([
      'get',
      'mutatingwebhookconfiguration',
      `${release}-${system.name}`,
      '-o',
      'jsonpath={.metadata.uid}',
    ]);
    for (const object of ['rolebinding/palisade-sidecar', 'secret/palisade-raft']) {
      const owners = await waitFor(
        async () => {
          const result = await kubectl([
            'get',
            '-n',
            apps.name,
            object,
            '-o',
            'jsonpath={.metadata.ownerReferences[*].uid}',
          ]);
          return result.code === 0 && result.stdout !== '' ? result.stdout : undefined;
        },
        { what: `${object} in ${apps.name}, owned`, timeoutMs: 30_000, intervalMs: 500 },
      );
      expect(owners).toBe(ownerUid);
    }
  });

  it('an applied RateLimitPolicy is enforced: 429 through the sidecar', async () => {
    await kubectlOk(['apply', '-f', '-'], policy(apps.name));
    await waitFor(
      async () => {
        const ready = await kubectlOk([
          'get',
          'ratelimitpolicy',
          '-n',
          apps.name,
          'echo-limited',
          '-o',
          'jsonpath={.status.conditions[?(@.type=="Ready")].status}',
        ]);
        return ready === 'True' ? true : undefined;
      },
      { what: 'the RateLimitPolicy Ready', timeoutMs: 60_000, intervalMs: 500 },
    );
    // One pod's sidecar, directly: its local bucket allows 1 request a minute on /limited.
    const [pod] = await pods(apps.name, ECHO);
    const url = `http://${pod?.status.podIP ?? 'missing'}:${INBOUND_PORT}/limited`;
    const seen: number[] = [];
    await waitFor(
      async () => {
        seen.push(await status(url));
        return seen.at(-1) === 429 ? true : undefined;
      },
      {
        what: `a 429 from ${url} (config delivery is asynchronous)`,
        timeoutMs: 60_000,
        intervalMs: 200,
      },
    );
    expect(seen).toContain(429);
    // The compiled ConfigMap that delivered it is owned by the release's webhook configuration.
    const configOwners = await kubectlOk([
      'get',
      'configmaps',
      '-n',
      apps.name,
      '-l',
      'app.kubernetes.io/managed-by=palisade-operator',
      '-o',
      'jsonpath={.items[*].metadata.ownerReferences[*].uid}',
    ]);
    expect(configOwners.split(' ')).toContain(ownerUid);
    // Paths outside the rule are not limited.
    expect(await status(serviceUrl)).toBe(200);
  });

  it('`helm test` passes (injection and enforcement checked from inside the cluster)', async () => {
    const out = await helmOk(['test', release, '--namespace', system.name, '--timeout', '4m']);
    expect(out).toMatch(/TEST SUITE:\s+palisade-test[\s\S]*Phase:\s+Succeeded/);
  });

  it('`helm upgrade` with a changed value rolls the operator without one failed request', async () => {
    const before = new Set((await pods(system.name, OPERATOR)).map((pod) => pod.metadata.name));
    let after: PodJson[] = [];
    let holder = '';
    const counts = await whileRequesting(serviceUrl, async () => {
      await helmOk([
        'upgrade',
        release,
        chartDir,
        '--namespace',
        system.name,
        '--reuse-values',
        '--set',
        'operator.logLevel=debug',
        '--wait',
        '--timeout',
        '4m',
      ]);
      after = await allReady(system.name, OPERATOR, 2);
      holder = await waitFor(
        async () => {
          const name = await leaseHolder();
          return after.some((pod) => pod.metadata.name === name) ? name : undefined;
        },
        { what: 'a new operator replica holding the lease', timeoutMs: 60_000, intervalMs: 500 },
      );
    });
    expect(after.map((pod) => before.has(pod.metadata.name))).toEqual([false, false]);
    expect(holder).not.toBe('');
    expect([...counts.keys()]).toEqual([200]);
    expect(counts.get(200)).toBeGreaterThan(10);
  });

  it('`helm uninstall` leaves no Palisade object but the CRDs; injected pods keep serving', async () => {
    let left: string[] = [];
    let clusterWide = '';
    let operatorMade = '';
    const counts = await whileRequesting(serviceUrl, async () => {
      await helmOk(['uninstall', release, '--namespace', system.name, '--wait']);
      installed = false;
      left = await waitFor(
        async () => {
          const names = await kubectlOk([
            'get',
            '-n',
            system.name,
            'all,configmaps,secrets,serviceaccounts,roles,rolebindings,poddisruptionbudgets,leases',
            '-o',
            'name',
          ]);
          // What every namespace has: its root CA ConfigMap and default service account.
          const palisade = names
            .split('\n')
            .filter(
              (n) =>
                n !== '' && n !== 'configmap/kube-root-ca.crt' && n !== 'serviceaccount/default',
            );
          return palisade.length === 0 ? palisade : undefined;
        },
        { what: 'the release namespace empty', timeoutMs: 60_000, intervalMs: 500 },
      );
      clusterWide = await kubectlOk([
        'get',
        'clusterroles,clusterrolebindings,mutatingwebhookconfigurations,validatingwebhookconfigurations',
        '-o',
        'name',
      ]);
      // What the operator wrote at run time (compiled configs, sidecar RoleBindings, Raft
      // Secrets): owned by the webhook configuration, so the garbage collector deletes them,
      // in the background, after `helm uninstall` returned.
      // Another installation (or a test's in-process operator) on a shared cluster may serve the
      // same pods, with objects it owns or ownerless ones nobody can attribute (it may co-own
      // the same compiled ConfigMap: the GC keeps it then, rightly): only objects owned by this
      // release's webhook configuration alone count (the tests above check that this
      // release's objects carry that owner). On timeout, what is left is the failure message.
      let remaining = '';
      operatorMade = await waitFor(
        async () => {
          const list = JSON.parse(
            await kubectlOk([
              'get',
              'configmaps,rolebindings,secrets,leases',
              '--all-namespaces',
              '-l',
              'app.kubernetes.io/managed-by=palisade-operator',
              '--show-managed-fields',
              '-o',
              'json',
            ]),
          ) as { items: OperatorMade[] };
          const ours = list.items
            .filter(
              ({ metadata }) =>
                metadata.ownerReferences !== undefined &&
                metadata.ownerReferences.every((r) => r.uid === ownerUid),
            )
            .map(
              ({ kind, metadata }) =>
                `${kind} ${metadata.namespace}/${metadata.name} (created ${metadata.creationTimestamp}, owners ${JSON.stringify(metadata.ownerReferences ?? [])}, written by ${(metadata.managedFields ?? []).map((f) => `${f.manager}@${f.time}`).join(' ')})`,
            )
            .join(', ');
          remaining = ours;
          return ours === '' ? ours : undefined;
        },
        {
          what: 'the garbage collector deleting every operator-made object',
          timeoutMs: 60_000,
          intervalMs: 500,
        },
      ).catch(() => remaining);
    });
    expect(left).toEqual([]);
    expect(clusterWide.split('\n').filter((n) => n.includes(system.name))).toEqual([]);
    await kubectlOk(['get', 'crd/ratelimitpolicies.palisade.dev', 'crd/sagas.palisade.dev']);
    expect([...counts.keys()]).toEqual([200]);
    // Still injected, still serving after the operator is gone.
    expect(await status(serviceUrl)).toBe(200);
    expect(operatorMade).toBe('');
  });
});
