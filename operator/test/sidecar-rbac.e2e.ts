// Least privilege of a Kubernetes-mode sidecar (e2e project): the sidecar runs with a real
// ServiceAccount token bound — as decision 0014 has the operator do per namespace — to the
// chart's own sidecar ClusterRole (rendered from charts/palisade with helm), and gets its config;
// the same token cannot read another namespace's ConfigMaps, write any, or read Secrets.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CoreV1Api,
  KubeConfig,
  RbacAuthorizationV1Api,
  loadAllYaml,
  type V1ClusterRole,
} from '@kubernetes/client-node';
import { helm } from '../../e2e/src/support/kubectl.js';
import { useSidecarHarness } from '../../sidecar/test/support/sidecar-harness.js';
import { startSidecarProcess, waitFor } from '../../sidecar/test/support/sidecar-process.js';
import { desiredConfigMap } from '../src/reconcilers/config-map.js';
import { connectCluster, createNamespace, type Cluster } from './support/cluster.js';

const namespace = `palisade-rbac-${process.pid}`;
const other = `palisade-rbac-other-${process.pid}`;
const roleName = `palisade-e2e-sidecar-${process.pid}`;
const { echo, defer } = useSidecarHarness();
const scratch = mkdtempSync(join(tmpdir(), 'palisade-rbac-'));
let cluster: Cluster;
let rbac: RbacAuthorizationV1Api;

beforeAll(async () => {
  cluster = connectCluster();
  rbac = cluster.kc.makeApiClient(RbacAuthorizationV1Api);
  await createNamespace(cluster, namespace);
  await createNamespace(cluster, other);
});

afterAll(async () => {
  await rbac.deleteClusterRole({ name: roleName }).catch(() => undefined);
  for (const name of [namespace, other])
    await cluster.core.deleteNamespace({ name }).catch(() => undefined);
  rmSync(scratch, { recursive: true, force: true });
});

/** The chart's sidecar ClusterRole, as `helm template` renders it. */
async function chartSidecarRole(): Promise<V1ClusterRole> {
  const rendered = await helm([
    'template',
    'palisade',
    join(import.meta.dirname, '..', '..', 'charts', 'palisade'),
    '--namespace',
    'palisade-system',
    '--show-only',
    'templates/rbac.yaml',
  ]);
  expect(rendered.code).toBe(0);
  const role = (loadAllYaml(rendered.stdout) as V1ClusterRole[]).find(
    (o) =>
      o.kind === 'ClusterRole' && o.metadata?.labels?.['app.kubernetes.io/component'] === 'sidecar',
  );
  if (role === undefined) throw new Error('the chart renders no sidecar ClusterRole');
  return role;
}

/** A kubeconfig that authenticates with `token` (server and CA from the admin kubeconfig). */
function tokenKubeconfig(token: string): string {
  const admin = cluster.kc.getCurrentCluster();
  if (admin === null) throw new Error('no current cluster');
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: admin.server, caData: admin.caData, skipTLSVerify: false }],
    users: [{ name: 'sidecar', token }],
    contexts: [{ name: 'c', cluster: 'c', user: 'sidecar' }],
    currentContext: 'c',
  });
  const path = join(scratch, 'sidecar.kubeconfig');
  writeFileSync(path, kc.exportConfig(), { mode: 0o600 });
  return path;
}

/** The status code of a refused call (0 when it succeeded). */
async function refusal(call: () => Promise<unknown>): Promise<number> {
  try {
    await call();
    return 0;
  } catch (error) {
    return (error as { code?: number }).code ?? -1;
  }
}

describe('the sidecar service account', () => {
  it('reads its config with the chart role bound in its namespace, and nothing more', async () => {
    const chartRole = await chartSidecarRole();
    await rbac.createClusterRole({
      body: { metadata: { name: roleName }, rules: chartRole.rules ?? [] },
    });
    // Decision 0014: one RoleBinding per namespace with injected pods, for its service accounts.
    await rbac.createNamespacedRoleBinding({
      namespace,
      body: {
        metadata: { name: 'palisade-sidecar' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: roleName },
        subjects: [
          {
            kind: 'Group',
            apiGroup: 'rbac.authorization.k8s.io',
            name: `system:serviceaccounts:${namespace}`,
          },
        ],
      },
    });
    await cluster.core.createNamespacedServiceAccount({
      namespace,
      body: { metadata: { name: 'app' } },
    });
    const token = await waitFor('a token', async () => {
      const request = await cluster.core.createNamespacedServiceAccountToken({
        namespace,
        name: 'app',
        body: { spec: { audiences: [], expirationSeconds: 3600 } },
      });
      return request.status?.token;
    });
    const kubeconfig = tokenKubeconfig(token);

    const app = await echo();
    const config = { version: 'rbac000000000000', app: { host: '127.0.0.1', port: app.port } };
    await cluster.core.createNamespacedConfigMap({
      namespace,
      body: desiredConfigMap(
        { namespace, hash: config.version, config, json: JSON.stringify(config), pods: ['rbac-1'] },
        1,
      ),
    });
    const sc = await startSidecarProcess({
      config: { version: 'unused', app: config.app },
      kubernetes: { kubeconfig, namespace, podName: 'rbac-1' },
    });
    defer(() => sc.stop());
    const view = JSON.parse((await sc.admin('/config')).body) as { version: string };
    expect(view.version).toBe('rbac000000000000');
    expect((await sc.admin('/readyz')).status).toBe(200);

    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfig);
    const asSidecar = kc.makeApiClient(CoreV1Api);
    expect(await refusal(() => asSidecar.listNamespacedConfigMap({ namespace }))).toBe(0);
    expect(await refusal(() => asSidecar.listNamespacedConfigMap({ namespace: other }))).toBe(403);
    expect(
      await refusal(() =>
        asSidecar.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'x' } } }),
      ),
    ).toBe(403);
    expect(
      await refusal(() =>
        asSidecar.deleteNamespacedConfigMap({
          namespace,
          name: 'palisade-config-rbac000000000000',
        }),
      ),
    ).toBe(403);
    expect(await refusal(() => asSidecar.listNamespacedSecret({ namespace }))).toBe(403);
    expect(await refusal(() => asSidecar.listNamespacedPod({ namespace }))).toBe(403);
  }, 90_000);
});
