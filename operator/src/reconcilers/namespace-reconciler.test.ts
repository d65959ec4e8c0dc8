import { describe, expect, it } from '@jest/globals';
import { ManualScheduler } from '../core/clock.js';
import { FakeKubeApi } from '../testing/fake-kube-api.js';
import { kubePod, kubeRateLimit, rateLimitSpec, testInstallation } from '../testing/builders.js';
import { createConfigsReconciler } from './configs-reconciler.js';
import { installationOwnerReference, type OwnerReference } from './installation-owner.js';
import { NamespaceCompiler } from './namespace-compiler.js';
import {
  RAFT_SECRET_KEY,
  RAFT_SECRET_NAME,
  SIDECAR_ROLE_BINDING_NAME,
} from './namespace-objects.js';
import type { NamespaceObjectWrite, SecretObject } from './namespace-provisioning.js';
import { createNamespaceReconciler } from './namespace-reconciler.js';

const never = new AbortController().signal;
const role = 'palisade-palisade-system-sidecar';

function setup() {
  const api = new FakeKubeApi();
  let owners: OwnerReference[] = [];
  const told: NamespaceObjectWrite[] = [];
  const reconcile = createNamespaceReconciler({
    api,
    sidecarClusterRole: role,
    owners: () => owners,
    onWrite: (write) => told.push(write),
  });
  api.putPod(kubePod('checkout-1', { app: 'checkout' }));
  return { api, reconcile, told, setOwners: (o: OwnerReference[]) => (owners = o) };
}

describe('namespace reconciler', () => {
  it('creates the RoleBinding and a 32-byte random key for a namespace with injected pods', async () => {
    const { api, reconcile } = setup();
    await reconcile('shop', never);
    expect(api.takeWrites().map((w) => w.op)).toEqual(['applyRoleBinding', 'createSecret']);
    expect(api.roleBindings.get(SIDECAR_ROLE_BINDING_NAME, 'shop')?.roleRef.name).toBe(role);
    const secret = api.secrets.get(RAFT_SECRET_NAME, 'shop') as SecretObject;
    expect(secret.type).toBe('Opaque');
    expect(Buffer.from(secret.data[RAFT_SECRET_KEY] ?? '', 'base64')).toHaveLength(32);
  });

  it('a resync over an unchanged namespace writes nothing', async () => {
    const { api, reconcile } = setup();
    await reconcile('shop', never);
    api.takeWrites();
    await reconcile('shop', never);
    await reconcile('shop', never);
    expect(api.takeWrites()).toEqual([]);
  });

  it('each namespace gets its own key; a key is never rewritten', async () => {
    const { api, reconcile } = setup();
    api.putPod(kubePod('web-1', { app: 'web' }, { namespace: 'blog' }));
    await reconcile('shop', never);
    await reconcile('blog', never);
    const key = (ns: string) =>
      (api.secrets.get(RAFT_SECRET_NAME, ns) as SecretObject).data[RAFT_SECRET_KEY];
    const shopKey = key('shop');
    expect(shopKey).not.toBe(key('blog'));
    api.putPod(kubePod('checkout-2', { app: 'checkout' }));
    await reconcile('shop', never);
    expect(key('shop')).toBe(shopKey);
  });

  it('the key never reaches the write reports', async () => {
    const { api, reconcile, told } = setup();
    await reconcile('shop', never);
    const key = (api.secrets.get(RAFT_SECRET_NAME, 'shop') as SecretObject).data[RAFT_SECRET_KEY];
    expect(JSON.stringify([told, api.writes])).not.toContain(key);
  });

  it('deletes both when the last injected pod is gone', async () => {
    const { api, reconcile } = setup();
    await reconcile('shop', never);
    api.takeWrites();
    for (const pod of api.pods.list('shop')) api.pods.remove(pod);
    await reconcile('shop', never);
    expect(api.takeWrites().map((w) => w.op)).toEqual(['deleteRoleBinding', 'deleteSecret']);
    await reconcile('shop', never);
    expect(api.takeWrites()).toEqual([]);
  });

  it('a new installation owner re-owns both objects once, keeping the key', async () => {
    const { api, reconcile, setOwners } = setup();
    await reconcile('shop', never);
    const before = (api.secrets.get(RAFT_SECRET_NAME, 'shop') as SecretObject).data;
    api.takeWrites();
    const owner = installationOwnerReference('palisade-palisade-system', 'uid-1');
    setOwners([owner]);
    await reconcile('shop', never);
    expect(api.takeWrites().map((w) => w.op)).toEqual(['applyRoleBinding', 'setSecretOwners']);
    const secret = api.secrets.get(RAFT_SECRET_NAME, 'shop') as SecretObject;
    expect(secret.metadata.ownerReferences).toEqual([owner]);
    expect(secret.data).toEqual(before);
    expect(
      api.roleBindings.get(SIDECAR_ROLE_BINDING_NAME, 'shop')?.metadata.ownerReferences,
    ).toEqual([owner]);
    await reconcile('shop', never);
    expect(api.takeWrites()).toEqual([]);
  });
});

describe('configs reconciler with an installation owner', () => {
  it('writes ConfigMaps with the owner; a new owner rewrites each once', async () => {
    const api = new FakeKubeApi();
    const clock = new ManualScheduler(Date.UTC(2026, 0, 1, 12));
    const compiler = new NamespaceCompiler({ api, installation: testInstallation, memoize: false });
    let owners = [installationOwnerReference('palisade-palisade-system', 'uid-1')];
    const reconcile = createConfigsReconciler({ api, compiler, clock, owners: () => owners });
    api.putPod(kubePod('checkout-1', { app: 'checkout' }));
    api.putResource(kubeRateLimit('limits', rateLimitSpec('checkout', 100)));
    await reconcile('shop', never);
    expect(api.takeWrites().map((w) => w.op)).toEqual(['applyConfigMap']);
    expect(api.configMaps.list('shop').map((cm) => cm.metadata.ownerReferences)).toEqual([owners]);
    await reconcile('shop', never);
    expect(api.takeWrites()).toEqual([]);
    owners = [installationOwnerReference('palisade-palisade-system', 'uid-2')];
    await reconcile('shop', never);
    expect(api.takeWrites().map((w) => w.op)).toEqual(['applyConfigMap']);
    expect(api.configMaps.list('shop').map((cm) => cm.metadata.ownerReferences?.[0]?.uid)).toEqual([
      'uid-2',
    ]);
  });
});
