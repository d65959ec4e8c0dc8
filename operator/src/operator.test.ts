import { describe, expect, it } from '@jest/globals';
import type { PolicyKind } from './compiler/types.js';
import { ManualScheduler } from './core/clock.js';
import { SeededRandom } from './core/random.js';
import { Operator } from './operator.js';
import { CONFIG_KEY, PODS_KEY } from './reconcilers/config-map.js';
import { kubePod, kubeRateLimit, rateLimitSpec, testInstallation } from './testing/builders.js';
import { FakeKubeApi } from './testing/fake-kube-api.js';
import { FakeSource } from './testing/fake-source.js';

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

function setup(manualSync = false) {
  const api = new FakeKubeApi();
  const scheduler = new ManualScheduler(Date.UTC(2026, 0, 1, 12));
  const kindStore = (kind: PolicyKind) => (ns?: string) => api.resources.get(kind)?.list(ns) ?? [];
  const pods = new FakeSource((ns) => api.pods.list(ns), manualSync);
  const configMaps = new FakeSource((ns) => api.configMaps.list(ns));
  const kinds = new Map<PolicyKind, FakeSource>(
    (['RateLimitPolicy', 'CircuitBreaker', 'ChaosExperiment', 'Saga'] as const).map((k) => [
      k,
      new FakeSource(kindStore(k)),
    ]),
  );
  const operator = new Operator({
    api,
    sources: { pods, configMaps, kinds },
    installation: testInstallation,
    scheduler,
    random: new SeededRandom(1),
  });
  return { api, scheduler, operator, pods, kinds };
}

function requestsFor(api: FakeKubeApi, pod: string): number | undefined {
  const cm = api.configMaps
    .list('shop')
    .find((c) => (c.data?.[PODS_KEY] ?? '').split('\n').includes(pod));
  return JSON.parse(cm?.data?.[CONFIG_KEY] ?? '{}').rateLimits?.[0]?.limit?.requests;
}

describe('Operator wiring', () => {
  it('is not ready and runs nothing until every informer has synced', async () => {
    const t = setup(true);
    t.api.putPod(kubePod('checkout-1', { app: 'checkout' }));
    const starting = t.operator.start();
    await settle();
    expect(t.operator.ready()).toBe(false);
    expect(t.api.writes).toEqual([]);
    t.pods.sync();
    await starting;
    expect(t.operator.ready()).toBe(true);
    await t.operator.whenIdle();
    expect(t.api.configMaps.size).toBe(1);
  });

  it('apply, change and delete a policy: configs follow, status is set, unused objects are collected', async () => {
    const t = setup();
    for (const i of [1, 2]) t.api.putPod(kubePod(`checkout-${i}`, { app: 'checkout' }));
    t.api.putPod(kubePod('web-3', { app: 'web' }));
    await t.operator.start();
    await t.operator.whenIdle();
    expect(requestsFor(t.api, 'checkout-1')).toBeUndefined();
    // Two Raft groups (app=checkout, app=web), hence two objects before any policy.
    const initial = t.api.configMaps.list('shop').map((c) => c.metadata.name);
    expect(initial).toHaveLength(2);

    const policy = kubeRateLimit('limits', rateLimitSpec('checkout', 100));
    t.api.putResource(policy);
    t.kinds.get('RateLimitPolicy')?.emit('add', policy);
    await t.operator.whenIdle();
    expect(requestsFor(t.api, 'checkout-1')).toBe(100);
    expect(requestsFor(t.api, 'web-3')).toBeUndefined();
    const status = t.api.resources.get('RateLimitPolicy')?.get('limits', 'shop')?.status;
    expect(status?.conditions?.[0]).toMatchObject({ type: 'Ready', status: 'True' });
    expect(status?.matchedPods).toBe(2);

    const changed = kubeRateLimit('limits', rateLimitSpec('checkout', 7), 2);
    t.api.putResource(changed);
    t.kinds.get('RateLimitPolicy')?.emit('update', changed);
    await t.operator.whenIdle();
    expect(requestsFor(t.api, 'checkout-2')).toBe(7);
    expect(t.api.configMaps.size).toBe(2);

    t.api.resources.get('RateLimitPolicy')?.remove(changed);
    t.kinds.get('RateLimitPolicy')?.emit('delete', changed);
    await t.operator.whenIdle();
    expect(requestsFor(t.api, 'checkout-2')).toBeUndefined();
    // Back to the same content, hence the same objects; the policy's objects were collected.
    expect(t.api.configMaps.list('shop').map((c) => c.metadata.name)).toEqual(initial);
    t.api.takeWrites();

    // A resync that changes nothing writes nothing.
    for (const p of t.api.pods.list()) t.pods.emit('resync', p);
    await t.operator.whenIdle();
    expect(t.api.takeWrites()).toEqual([]);
    await t.operator.shutDown();
  });

  it('ignores pod updates that change nothing the compiler reads', async () => {
    const t = setup();
    const p = kubePod('checkout-1', { app: 'checkout' });
    t.api.putPod(p);
    await t.operator.start();
    await t.operator.whenIdle();
    const queued: string[] = [];
    const original = t.operator.configs.enqueue.bind(t.operator.configs);
    t.operator.configs.enqueue = (key: string) => {
      queued.push(key);
      original(key);
    };
    // A container restart: status changes, nothing the compiler reads does.
    t.pods.emit('update', {
      ...p,
      status: { ...p.status, containerStatuses: [{ restartCount: 1 }] },
    } as never);
    expect(queued).toEqual([]);
    // The pod becomes unready: that matters.
    const unready = kubePod('checkout-1', { app: 'checkout' }, { ready: false });
    t.api.putPod(unready);
    t.pods.emit('update', unready);
    expect(queued).toEqual(['shop']);
    await t.operator.whenIdle();
    await t.operator.shutDown();
  });
});
