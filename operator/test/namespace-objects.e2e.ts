// What the real `palisade-operator` process creates per namespace, and what removes it, on the
// local control plane (e2e project; `npx tsc -b` first; kube-controller-manager's garbage
// collector runs there): an injected pod brings the sidecar RoleBinding and the Raft Secret, both
// owned (as the compiled ConfigMap is) by the MutatingWebhookConfiguration the operator is
// installed with; a restarted operator rewrites nothing; the last pod's deletion removes them;
// deleting the webhook configuration (as `helm uninstall` does) lets the garbage collector remove
// everything the operator made. The webhook configuration matches no pod: injection is not what
// this file tests, the pods are created as the webhook would leave them.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  AdmissionregistrationV1Api,
  ApiException,
  RbacAuthorizationV1Api,
} from '@kubernetes/client-node';
import { API_VERSION, GROUP, VERSION } from '@palisade/crds';
import {
  connectCluster,
  createInjectedPod,
  createNamespace,
  kubeconfigPath,
  type Cluster,
} from './support/cluster.js';
import { OperatorProcess } from './support/operator-process.js';
import { poll } from './support/poll.js';
import { freePort } from '../../sidecar/test/support/sidecar-process.js';

const namespace = `palisade-nsobj-${process.pid}`;
// The operator's own namespace (webhook certificate Secret), apart from the app namespace.
const operatorNamespace = `palisade-nsobj-op-${process.pid}`;
const configurationName = `palisade-e2e-owner-${process.pid}`;
const sidecarRole = `palisade-e2e-nsobj-sidecar-${process.pid}`;
const MANAGED = 'app.kubernetes.io/managed-by=palisade-operator';

let cluster: Cluster;
let rbac: RbacAuthorizationV1Api;
let admission: AdmissionregistrationV1Api;
let ownerUid = '';
let webhookPort = 0;
const processes: OperatorProcess[] = [];

/** An operator with a webhook (hence an installation owner) and the test's sidecar role. */
function startOperator(name: string): OperatorProcess {
  const p = new OperatorProcess(name, [
    '--kubeconfig',
    kubeconfigPath,
    '--leader-elect=false',
    '--operator-namespace',
    operatorNamespace,
    '--watch-namespace',
    namespace,
    '--health-bind',
    '127.0.0.1:0',
    '--webhook-bind',
    `127.0.0.1:${webhookPort}`,
    '--webhook-ip',
    '127.0.0.1',
    '--webhook-configuration',
    configurationName,
    '--sidecar-image',
    'palisade/sidecar:e2e',
    '--sidecar-cluster-role',
    sidecarRole,
  ]);
  processes.push(p);
  return p;
}

async function stop(p: OperatorProcess): Promise<void> {
  p.kill('SIGTERM');
  await p.exited;
}

/** The object, or undefined on 404. */
async function orAbsent<T>(read: Promise<T>): Promise<T | undefined> {
  try {
    return await read;
  } catch (error) {
    if (error instanceof ApiException && error.code === 404) return undefined;
    throw error;
  }
}

/** Names of the operator-made objects of the namespace (ConfigMaps, RoleBindings, Secrets). */
async function operatorMade(): Promise<string[]> {
  const [configMaps, roleBindings, secrets] = await Promise.all([
    cluster.core.listNamespacedConfigMap({ namespace, labelSelector: MANAGED }),
    rbac.listNamespacedRoleBinding({ namespace, labelSelector: MANAGED }),
    cluster.core.listNamespacedSecret({ namespace, labelSelector: MANAGED }),
  ]);
  return [
    ...configMaps.items.map((o) => `configmap/${o.metadata?.name ?? ''}`),
    ...roleBindings.items.map((o) => `rolebinding/${o.metadata?.name ?? ''}`),
    ...secrets.items.map((o) => `secret/${o.metadata?.name ?? ''}`),
  ].sort();
}

/** resourceVersion and ownerReference UIDs of each operator-made object. */
async function versions(): Promise<Record<string, string>> {
  const [configMaps, roleBindings, secrets] = await Promise.all([
    cluster.core.listNamespacedConfigMap({ namespace, labelSelector: MANAGED }),
    rbac.listNamespacedRoleBinding({ namespace, labelSelector: MANAGED }),
    cluster.core.listNamespacedSecret({ namespace, labelSelector: MANAGED }),
  ]);
  const out: Record<string, string> = {};
  for (const [kind, items] of [
    ['configmap', configMaps.items],
    ['rolebinding', roleBindings.items],
    ['secret', secrets.items],
  ] as const)
    for (const o of items)
      out[`${kind}/${o.metadata?.name ?? ''}`] =
        `${o.metadata?.resourceVersion ?? ''} ${(o.metadata?.ownerReferences ?? []).map((r) => r.uid).join(',')}`;
  return out;
}

const EXPECTED = [
  'rolebinding/palisade-sidecar',
  'secret/palisade-raft',
  // The compiled config of the pod below (one policy selects it).
  'configmap/',
];

/** Waits until the namespace holds exactly the RoleBinding, the Secret and one ConfigMap. */
async function provisioned(operator: OperatorProcess): Promise<string[]> {
  let names: string[] = [];
  try {
    return await poll('the RoleBinding, the Secret and the config ConfigMap', async () => {
      names = await operatorMade();
      return names.length === 3 && EXPECTED.every((e) => names.some((n) => n.startsWith(e)))
        ? names
        : undefined;
    });
  } catch (error) {
    throw new Error(
      `${(error as Error).message}; found [${names.join(', ')}]; operator warnings: ${operator.logs
        .filter((l) => l.level >= 40)
        .slice(-3)
        .map((l) => JSON.stringify(l))
        .join(' | ')}`,
    );
  }
}

async function createPod(name: string): Promise<void> {
  await createInjectedPod(cluster, namespace, {
    name,
    labels: { workload: 'nsobj' },
    ip: '10.244.90.1',
  });
}

beforeAll(async () => {
  cluster = connectCluster();
  rbac = cluster.kc.makeApiClient(RbacAuthorizationV1Api);
  admission = cluster.kc.makeApiClient(AdmissionregistrationV1Api);
  await createNamespace(cluster, namespace);
  await createNamespace(cluster, operatorNamespace);
  webhookPort = await freePort();
  await rbac.createClusterRole({
    body: {
      metadata: { name: sidecarRole },
      rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list', 'watch'] }],
    },
  });
  const configuration = await admission.createMutatingWebhookConfiguration({
    body: {
      metadata: { name: configurationName },
      webhooks: [
        {
          name: 'inject.palisade.dev',
          admissionReviewVersions: ['v1'],
          sideEffects: 'None',
          failurePolicy: 'Ignore',
          timeoutSeconds: 5,
          clientConfig: { url: `https://127.0.0.1:${webhookPort}/mutate` },
          rules: [
            {
              apiGroups: [''],
              apiVersions: ['v1'],
              operations: ['CREATE'],
              resources: ['pods'],
              scope: 'Namespaced',
            },
          ],
          // No pod has this label: the configuration is only the installation owner here.
          objectSelector: { matchLabels: { 'palisade.dev/e2e-never': 'true' } },
          namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': namespace } },
        },
      ],
    },
  });
  ownerUid = configuration.metadata?.uid ?? '';
  // One policy selecting the pods, so that a compiled ConfigMap exists too.
  await cluster.custom.createNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    namespace,
    plural: 'ratelimitpolicies',
    body: {
      apiVersion: API_VERSION,
      kind: 'RateLimitPolicy',
      metadata: { name: 'limits', namespace },
      spec: {
        selector: { matchLabels: { workload: 'nsobj' } },
        rules: [
          {
            name: 'all',
            limit: { requests: 100, period: '1s' },
            key: { type: 'global' },
            scope: 'local',
          },
        ],
      },
    },
  });
}, 30_000);

afterAll(async () => {
  for (const p of processes) p.kill('SIGKILL');
  await Promise.all(processes.map((p) => p.exited));
  await admission
    ?.deleteMutatingWebhookConfiguration({ name: configurationName })
    .catch(() => undefined);
  await rbac?.deleteClusterRole({ name: sidecarRole }).catch(() => undefined);
  for (const name of [namespace, operatorNamespace])
    await cluster?.core.deleteNamespace({ name }).catch(() => undefined);
});

describe('objects the operator creates per namespace', () => {
  it('an injected pod brings the sidecar RoleBinding and the Raft Secret, owned by the webhook configuration', async () => {
    const operator = startOperator('nsobj-1');
    await operator.waitForLog('the installation owner', (l) => l.msg === 'installation owner');
    await createPod('app-1');
    await provisioned(operator);

    const binding = await rbac.readNamespacedRoleBinding({ namespace, name: 'palisade-sidecar' });
    expect(binding.roleRef).toEqual({
      apiGroup: 'rbac.authorization.k8s.io',
      kind: 'ClusterRole',
      name: sidecarRole,
    });
    expect(binding.subjects).toEqual([
      {
        kind: 'Group',
        apiGroup: 'rbac.authorization.k8s.io',
        name: `system:serviceaccounts:${namespace}`,
      },
    ]);
    const secret = await cluster.core.readNamespacedSecret({ namespace, name: 'palisade-raft' });
    expect(secret.type).toBe('Opaque');
    expect(Object.keys(secret.data ?? {})).toEqual(['key']);
    expect(Buffer.from(secret.data?.['key'] ?? '', 'base64')).toHaveLength(32);
    const [configMap] = (
      await cluster.core.listNamespacedConfigMap({ namespace, labelSelector: MANAGED })
    ).items;
    for (const object of [binding, secret, configMap]) {
      expect(object?.metadata?.labels?.['app.kubernetes.io/managed-by']).toBe('palisade-operator');
      expect(object?.metadata?.ownerReferences).toEqual([
        {
          apiVersion: 'admissionregistration.k8s.io/v1',
          kind: 'MutatingWebhookConfiguration',
          name: configurationName,
          uid: ownerUid,
          blockOwnerDeletion: false,
        },
      ]);
    }
    // The key is never logged; nothing failed on the way.
    const key = secret.data?.['key'] ?? 'missing';
    expect(JSON.stringify(operator.logs)).not.toContain(key);
    expect(operator.logs.filter((l) => l.msg === 'reconcile failed')).toEqual([]);
    await stop(operator);
  }, 60_000);

  it('a restarted operator, which reconciles everything again, rewrites nothing', async () => {
    const before = await versions();
    expect(Object.keys(before)).toHaveLength(3);
    const operator = startOperator('nsobj-2');
    // Both controllers of the namespace have run at least once since the restart.
    await poll('a reconcile of the namespace by both controllers', async () => {
      const namespaces = await operator.metric(
        'palisade_operator_reconcile_duration_seconds_count',
        'controller="namespaces",result="success"',
      );
      const configs = await operator.metric(
        'palisade_operator_reconcile_duration_seconds_count',
        'controller="configs",result="success"',
      );
      return namespaces >= 1 && configs >= 1 ? true : undefined;
    });
    expect(await versions()).toEqual(before);
  }, 60_000);

  it('the last injected pod gone, the RoleBinding, the Secret and the ConfigMap go', async () => {
    await cluster.core.deleteNamespacedPod({ namespace, name: 'app-1', gracePeriodSeconds: 0 });
    const left = await poll('nothing operator-made left in the namespace', async () => {
      const names = await operatorMade();
      return names.length === 0 ? names : undefined;
    });
    expect(left).toEqual([]);
  }, 60_000);

  it('deleting the webhook configuration (helm uninstall) lets the garbage collector remove them', async () => {
    await createPod('app-2');
    await provisioned(processes.at(-1) as OperatorProcess);
    // As `helm uninstall` does: the operator stops, the webhook configuration is deleted.
    for (const p of processes) await stop(p);
    await admission.deleteMutatingWebhookConfiguration({ name: configurationName });
    const left = await poll(
      'the garbage collector removing every operator-made object',
      async () => {
        const names = await operatorMade();
        return names.length === 0 ? names : undefined;
      },
      60_000,
    );
    expect(left).toEqual([]);
    // The pod is the user's: still there.
    expect(
      await orAbsent(cluster.core.readNamespacedPod({ namespace, name: 'app-2' })),
    ).toBeDefined();
  }, 90_000);
});
