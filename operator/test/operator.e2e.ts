// Integration test of the operator's thin adapters (informers over client-node's ListWatch,
// KubeApiClient's server-side applies) and its wiring against a real kube-apiserver: the local
// control plane of e2e/cluster. It runs in the e2e project (jest.config.js), whose global setup
// brings the cluster up: `make e2e`.
// Pods are created but never run (kept off the node): the operator only reads their labels and
// status, which the test writes through the status subresource.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import {
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
  loadAllYaml,
  setHeaderOptions,
  type KubernetesObject,
} from '@kubernetes/client-node';
import { GROUP, VERSION } from '@palisade/crds';
import {
  CONFIG_KEY,
  KubeApiClient,
  Operator,
  PODS_KEY,
  SeededRandom,
  createKubeInformers,
  systemScheduler,
  type KubeApi,
  type PolicyKind,
} from '@palisade/operator';
import { createInjectedPod } from './support/cluster.js';
import { poll } from './support/poll.js';

const cacheDir = process.env['PALISADE_CACHE_DIR'] ?? join(homedir(), '.cache', 'palisade');
const kubeconfigPath =
  process.env['PALISADE_KUBECONFIG'] ?? join(cacheDir, 'cluster', 'admin.kubeconfig');
const repoRoot = join(import.meta.dirname, '..', '..');
const namespace = `palisade-it-${process.pid}`;

let kc: KubeConfig;
let core: CoreV1Api;
let custom: CustomObjectsApi;
let objects: KubernetesObjectApi;
let operator: Operator | undefined;
const writes: string[] = [];

beforeAll(async () => {
  if (!existsSync(kubeconfigPath)) {
    throw new Error(
      `no kubeconfig at ${kubeconfigPath}: start the local control plane with 'make cluster-up'`,
    );
  }
  kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  core = kc.makeApiClient(CoreV1Api);
  custom = kc.makeApiClient(CustomObjectsApi);
  objects = KubernetesObjectApi.makeApiClient(kc);
  try {
    await core.listNamespace({ limit: 1 });
  } catch (error) {
    throw new Error(
      `the API server of ${kubeconfigPath} does not answer ('make cluster-up'?): ${String(error)}`,
    );
  }
  // The CRDs, as the e2e suite installs them (server-side apply, idempotent).
  for (const crd of loadAllYaml(
    readFileSync(join(repoRoot, 'crds', 'generated', 'all.yaml'), 'utf8'),
  ) as KubernetesObject[]) {
    await objects.patch(
      crd,
      undefined,
      undefined,
      'palisade-integration-test',
      true,
      PatchStrategy.ServerSideApply,
    );
  }
  await poll('the CRDs to be served', async () => {
    await custom.listNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: 'default',
      plural: 'ratelimitpolicies',
    });
    return true;
  });
  await core.createNamespace({ body: { metadata: { name: namespace } } });
  // Without a controller-manager nobody creates the default ServiceAccount pods refer to.
  await core
    .createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'default' } } })
    .catch(() => undefined);
}, 60_000);

afterAll(async () => {
  await operator?.shutDown();
  await core?.deleteNamespace({ name: namespace }).catch(() => undefined);
});

async function createReadyPod(name: string, app: string, ip: string): Promise<void> {
  await createInjectedPod({ kc, core, custom }, namespace, { name, labels: { app }, ip });
}

function rateLimitPolicy(requests: number) {
  return {
    apiVersion: `${GROUP}/${VERSION}`,
    kind: 'RateLimitPolicy',
    metadata: { name: 'checkout-limits', namespace },
    spec: {
      selector: { matchLabels: { app: 'checkout' } },
      rules: [{ name: 'all', limit: { requests, period: '1m' }, key: { type: 'global' } }],
    },
  };
}

/** Requests of the first rate limit in the config that lists `pod`, or 'none'. */
async function enforcedLimit(pod: string): Promise<number | 'none' | undefined> {
  const list = await core.listNamespacedConfigMap({
    namespace,
    labelSelector: 'app.kubernetes.io/managed-by=palisade-operator',
  });
  const mine = list.items.filter((cm) => (cm.data?.[PODS_KEY] ?? '').split('\n').includes(pod));
  if (mine.length !== 1) return undefined;
  const config = JSON.parse(mine[0]?.data?.[CONFIG_KEY] ?? '{}') as {
    rateLimits?: { limit: { requests: number } }[];
  };
  return config.rateLimits?.[0]?.limit.requests ?? 'none';
}

describe('operator against a real API server', () => {
  it('delivers, updates and withdraws a policy, sets its status, and writes nothing when nothing changed', async () => {
    await createReadyPod('checkout-1', 'checkout', '10.244.0.11');
    await createReadyPod('checkout-2', 'checkout', '10.244.0.12');

    // This namespace only: a cluster-wide operator here would also write (ownerless) configs
    // for the injected pods of every other test running on a shared cluster.
    const informers = createKubeInformers({
      kubeConfig: kc,
      scheduler: systemScheduler,
      namespace,
      resyncMs: 3_600_000,
    });
    const client = new KubeApiClient(kc, informers);
    // Count API writes through the port.
    const api: KubeApi = {
      listPods: (ns) => client.listPods(ns),
      listResources: (kind, ns) => client.listResources(kind, ns),
      getResource: (kind, ns, name) => client.getResource(kind, ns, name),
      listConfigMaps: (ns) => client.listConfigMaps(ns),
      applyConfigMap: async (cm) => (
        writes.push(`apply ${cm.metadata.name}`),
        client.applyConfigMap(cm)
      ),
      deleteConfigMap: async (ns, name) => (
        writes.push(`delete ${name}`),
        client.deleteConfigMap(ns, name)
      ),
      applyStatus: async (kind, ns, name, status) => (
        writes.push(`status ${kind}/${name}`),
        client.applyStatus(kind, ns, name, status)
      ),
      deletePod: async (ns, name, grace) => (
        writes.push(`deletePod ${name}`),
        client.deletePod(ns, name, grace)
      ),
      // Per-namespace objects: no `sidecarClusterRole` below, so never called here.
      getRoleBinding: (ns, name) => client.getRoleBinding(ns, name),
      applyRoleBinding: async (rb) => (
        writes.push(`apply rolebinding ${rb.metadata.name}`),
        client.applyRoleBinding(rb)
      ),
      deleteRoleBinding: async (ns, name) => (
        writes.push(`delete rolebinding ${name}`),
        client.deleteRoleBinding(ns, name)
      ),
      getSecretMetadata: (ns, name) => client.getSecretMetadata(ns, name),
      createSecret: async (secret) => (
        writes.push(`create secret ${secret.metadata.name}`),
        client.createSecret(secret)
      ),
      setSecretOwners: async (ns, name, owners) => (
        writes.push(`owners secret ${name}`),
        client.setSecretOwners(ns, name, owners)
      ),
      deleteSecret: async (ns, name) => (
        writes.push(`delete secret ${name}`),
        client.deleteSecret(ns, name)
      ),
      getWebhookConfigurationUid: (name) => client.getWebhookConfigurationUid(name),
    };
    operator = new Operator({
      api,
      sources: {
        pods: informers.pods,
        configMaps: informers.configMaps,
        kinds: informers.kinds as ReadonlyMap<PolicyKind, typeof informers.pods>,
      },
      installation: {
        ports: { admin: 15000, inbound: 15006, outbound: 15001, raft: 15010 },
        app: { host: '127.0.0.1', defaultPort: 8080 },
      },
      scheduler: systemScheduler,
      random: new SeededRandom(1),
    });
    await operator.start();
    expect(operator.ready()).toBe(true);

    expect(await poll('a config for checkout-1', () => enforcedLimit('checkout-1'))).toBe('none');

    let t0 = performance.now();
    await custom.createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace,
      plural: 'ratelimitpolicies',
      body: rateLimitPolicy(100),
    });
    await poll('limit 100 on both pods', async () =>
      (await enforcedLimit('checkout-1')) === 100 && (await enforcedLimit('checkout-2')) === 100
        ? true
        : undefined,
    );
    const applyToConfigMs = performance.now() - t0;
    const status = await poll('Ready status', async () => {
      const rlp = (await custom.getNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace,
        plural: 'ratelimitpolicies',
        name: 'checkout-limits',
      })) as {
        status?: {
          observedGeneration?: number;
          matchedPods?: number;
          conditions?: { type: string; status: string }[];
        };
      };
      return rlp.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')
        ? rlp.status
        : undefined;
    });
    expect(status).toMatchObject({ observedGeneration: 1, matchedPods: 2 });

    t0 = performance.now();
    await custom.patchNamespacedCustomObject(
      {
        group: GROUP,
        version: VERSION,
        namespace,
        plural: 'ratelimitpolicies',
        name: 'checkout-limits',
        body: { spec: rateLimitPolicy(7).spec },
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    await poll('limit 7', async () =>
      (await enforcedLimit('checkout-2')) === 7 ? true : undefined,
    );
    const changeToConfigMs = performance.now() - t0;
    // Upper bounds (50 ms polling, two pods): the propagation benchmark proper is an e2e task.
    console.log(
      `policy create → config: ${Math.round(applyToConfigMs)} ms; change → config: ${Math.round(changeToConfigMs)} ms`,
    );
    await poll('one managed ConfigMap left', async () => {
      const list = await core.listNamespacedConfigMap({
        namespace,
        labelSelector: 'app.kubernetes.io/managed-by=palisade-operator',
      });
      return list.items.length === 1 ? true : undefined;
    });

    await custom.deleteNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace,
      plural: 'ratelimitpolicies',
      name: 'checkout-limits',
    });
    await poll('enforcement withdrawn', async () =>
      (await enforcedLimit('checkout-1')) === 'none' ? true : undefined,
    );

    // Quiet cluster: reconciling the namespace again must not write anything.
    await operator.whenIdle();
    writes.length = 0;
    operator.configs.enqueue(namespace);
    await operator.whenIdle();
    expect(writes).toEqual([]);
  }, 60_000);
});
