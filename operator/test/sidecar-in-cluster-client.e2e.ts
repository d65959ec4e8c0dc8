// The sidecar's in-pod ConfigMap client (sidecar/src/kube-config/in-cluster-client.ts) against the
// local API server (e2e project), authenticated as a pod is: a ServiceAccount token in a file and
// the cluster CA. Real pods run it on the node (e2e/src/*.node.ts); this pins its answers to the
// API server's: list, watch events, 410 on a stale resume point, 401/403 as typed errors, a token
// rotated in place, and the reflector above it following changes.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemRandom } from '../../sidecar/src/core/random.js';
import { ConfigMapReflector } from '../../sidecar/src/kube-config/config-map-reflector.js';
import {
  KubeApiError,
  inClusterConfigMapClient,
  type ClusterAccess,
} from '../../sidecar/src/kube-config/in-cluster-client.js';
import { CONFIG_MAP_SELECTOR } from '../../sidecar/src/kube-config/select-config.js';
import { desiredConfigMap } from '../src/reconcilers/config-map.js';
import { poll } from './support/poll.js';
import {
  apiServerAddress,
  connectCluster,
  createNamespace,
  type Cluster,
} from './support/cluster.js';

const namespace = `palisade-icc-${process.pid}`;
const scratch = mkdtempSync(join(tmpdir(), 'palisade-icc-'));
const tokenFile = join(scratch, 'token');
let cluster: Cluster;
let access: ClusterAccess;

/** A ConfigMap the operator would write for `hash`, listing pod `p-1`. */
function configMap(hash: string) {
  const config = { version: hash, app: { host: '127.0.0.1', port: 8080 } };
  return desiredConfigMap(
    { namespace, hash, config, json: JSON.stringify(config), pods: ['p-1'] },
    1,
  );
}

async function tokenOf(serviceAccount: string): Promise<string> {
  const request = await cluster.core.createNamespacedServiceAccountToken({
    namespace,
    name: serviceAccount,
    body: { spec: { audiences: [], expirationSeconds: 3600 } },
  });
  if (request.status?.token === undefined) throw new Error('no token issued');
  return request.status.token;
}

beforeAll(async () => {
  cluster = connectCluster();
  await createNamespace(cluster, namespace);
  const rbac = cluster.kc.makeApiClient(RbacAuthorizationV1Api);
  await rbac.createNamespacedRole({
    namespace,
    body: {
      metadata: { name: 'config-reader' },
      rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['list', 'watch'] }],
    },
  });
  await rbac.createNamespacedRoleBinding({
    namespace,
    body: {
      metadata: { name: 'config-reader' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'config-reader' },
      subjects: [{ kind: 'ServiceAccount', name: 'reader', namespace }],
    },
  });
  for (const name of ['reader', 'nobody'])
    await cluster.core.createNamespacedServiceAccount({ namespace, body: { metadata: { name } } });
  writeFileSync(tokenFile, await tokenOf('reader'), { mode: 0o600 });
  const ca = cluster.kc.getCurrentCluster()?.caData;
  if (ca === undefined) throw new Error('the admin kubeconfig has no CA data');
  access = { ...apiServerAddress(), ca: Buffer.from(ca, 'base64'), tokenFile };
  await cluster.core.createNamespacedConfigMap({ namespace, body: configMap('icc0000000000001') });
});

afterAll(async () => {
  await cluster.core.deleteNamespace({ name: namespace }).catch(() => undefined);
  rmSync(scratch, { recursive: true, force: true });
});

const client = () => inClusterConfigMapClient(access, namespace, CONFIG_MAP_SELECTOR, () => 60);

describe('the in-cluster ConfigMap client', () => {
  it('lists the selected ConfigMaps and watches what changes after the list', async () => {
    const { items, resourceVersion } = await client().list();
    expect(items.map((o) => (o as { metadata: { name: string } }).metadata.name)).toEqual([
      'palisade-config-icc0000000000001',
    ]);
    expect(resourceVersion).toMatch(/^[0-9]+$/);

    const events: string[] = [];
    const ends: unknown[] = [];
    const watch = await client().watch(
      resourceVersion,
      (type, object) => {
        if (type !== 'BOOKMARK')
          events.push(`${type} ${(object as { metadata: { name: string } }).metadata.name}`);
      },
      (error) => ends.push(error),
    );
    await cluster.core.createNamespacedConfigMap({
      namespace,
      body: configMap('icc0000000000002'),
    });
    await cluster.core.createNamespacedConfigMap({
      namespace,
      body: { metadata: { name: 'not-selected' }, data: {} },
    });
    await cluster.core.deleteNamespacedConfigMap({
      namespace,
      name: 'palisade-config-icc0000000000002',
    });
    await poll('the watch events', async () => (events.length >= 2 ? events : undefined), 20_000);
    expect(events).toEqual([
      'ADDED palisade-config-icc0000000000002',
      'DELETED palisade-config-icc0000000000002',
    ]);
    watch.abort();
    watch.abort();
    expect(ends).toEqual([null]);
  });

  it('answers a stale resume point with 410 Gone, as the reflector expects', async () => {
    const gone: unknown[] = [];
    try {
      const watch = await client().watch(
        '1',
        (type, object) => {
          if (type === 'ERROR') gone.push((object as { code?: number }).code);
        },
        () => undefined,
      );
      await poll('the ERROR event', async () => (gone.length > 0 ? gone : undefined), 20_000);
      watch.abort();
    } catch (error) {
      gone.push((error as KubeApiError).statusCode);
    }
    expect(gone[0]).toBe(410);
  });

  it('refuses with the status: 401 for a bad token, 403 without the role, and reads a rotated token', async () => {
    writeFileSync(tokenFile, 'not-a-token');
    await expect(client().list()).rejects.toMatchObject({ statusCode: 401 });
    writeFileSync(tokenFile, await tokenOf('nobody'));
    const refused = await client()
      .list()
      .then(
        () => null,
        (error: unknown) => error,
      );
    expect(refused).toBeInstanceOf(KubeApiError);
    expect(refused).toMatchObject({ statusCode: 403, message: expect.stringMatching(/forbidden/) });
    writeFileSync(tokenFile, await tokenOf('reader'));
    expect((await client().list()).items.length).toBe(1);
  });

  it('drives the reflector: synced from the list, then following a change', async () => {
    const seen: string[][] = [];
    const reflector = new ConfigMapReflector({
      client: client(),
      random: systemRandom,
      onChange: (objects) => seen.push([...objects].map((o) => o.name).sort()),
    });
    reflector.start();
    try {
      expect(await reflector.whenSynced(20_000)).toBe(true);
      await cluster.core.createNamespacedConfigMap({
        namespace,
        body: configMap('icc0000000000003'),
      });
      const last = await poll(
        'the new ConfigMap in the cache',
        async () => seen.find((names) => names.includes('palisade-config-icc0000000000003')),
        20_000,
      );
      expect(last).toEqual([
        'palisade-config-icc0000000000001',
        'palisade-config-icc0000000000003',
      ]);
    } finally {
      await reflector.stop();
    }
  });
});
