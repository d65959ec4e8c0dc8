import { describe, expect, it } from '@jest/globals';
import type { PolicyKind } from './compiler/types.js';
import { ManualScheduler } from './core/clock.js';
import { SeededRandom } from './core/random.js';
import { Operator } from './operator.js';
import {
  installationOwnerReference,
  type OwnerReference,
} from './reconcilers/installation-owner.js';
import { RAFT_SECRET_NAME, SIDECAR_ROLE_BINDING_NAME } from './reconcilers/namespace-objects.js';
import { desiredRoleBinding, desiredSecretMetadata } from './reconcilers/namespace-provisioning.js';
import { kubePod, testInstallation } from './testing/builders.js';
import { FakeKubeApi } from './testing/fake-kube-api.js';
import { FakeSource } from './testing/fake-source.js';

function setup() {
  const api = new FakeKubeApi();
  let owners: OwnerReference[] = [];
  const pods = new FakeSource((ns) => api.pods.list(ns));
  const roleBindings = new FakeSource((ns) => api.roleBindings.list(ns));
  const kinds = new Map<PolicyKind, FakeSource>(
    (['RateLimitPolicy', 'CircuitBreaker', 'ChaosExperiment', 'Saga'] as const).map((k) => [
      k,
      new FakeSource(() => []),
    ]),
  );
  const operator = new Operator({
    api,
    sources: {
      pods,
      configMaps: new FakeSource((ns) => api.configMaps.list(ns)),
      kinds,
      roleBindings,
    },
    installation: testInstallation,
    scheduler: new ManualScheduler(Date.UTC(2026, 0, 1, 12)),
    random: new SeededRandom(1),
    sidecarClusterRole: 'palisade-palisade-system-sidecar',
    owners: () => owners,
  });
  return { api, operator, pods, roleBindings, setOwners: (o: OwnerReference[]) => (owners = o) };
}

describe('Operator wiring of the per-namespace objects', () => {
  it('a pod event provisions its namespace; its deletion removes the objects', async () => {
    const t = setup();
    await t.operator.start();
    const pod = kubePod('checkout-1', { app: 'checkout' });
    t.api.putPod(pod);
    t.pods.emit('add', pod);
    await t.operator.whenIdle();
    expect(t.api.roleBindings.get(SIDECAR_ROLE_BINDING_NAME, 'shop')).toBeDefined();
    expect(t.api.secrets.get(RAFT_SECRET_NAME, 'shop')).toBeDefined();
    t.api.pods.remove(pod);
    t.pods.emit('delete', pod);
    await t.operator.whenIdle();
    expect(t.api.roleBindings.size + t.api.secrets.size).toBe(0);
  });

  it('a RoleBinding left in a namespace without pods (operator was down) is cleaned up at start', async () => {
    const t = setup();
    t.api.roleBindings.upsert(desiredRoleBinding('shop', 'palisade-palisade-system-sidecar', []));
    t.api.secrets.upsert(desiredSecretMetadata('shop', []));
    await t.operator.start();
    await t.operator.whenIdle();
    expect(t.api.takeWrites().map((w) => w.op)).toEqual(['deleteRoleBinding', 'deleteSecret']);
  });

  it('ownerChanged re-owns every object of every namespace once', async () => {
    const t = setup();
    t.api.putPod(kubePod('checkout-1', { app: 'checkout' }));
    t.api.putPod(kubePod('web-1', { app: 'web' }, { namespace: 'blog' }));
    await t.operator.start();
    await t.operator.whenIdle();
    t.api.takeWrites();
    t.setOwners([installationOwnerReference('palisade-palisade-system', 'uid-1')]);
    t.operator.ownerChanged();
    await t.operator.whenIdle();
    const writes = t.api.takeWrites().map((w) => `${w.op} ${w.namespace}`);
    expect(writes.sort()).toEqual(
      [
        'applyConfigMap blog',
        'applyConfigMap shop',
        'applyRoleBinding blog',
        'applyRoleBinding shop',
        'setSecretOwners blog',
        'setSecretOwners shop',
      ].sort(),
    );
  });
});
