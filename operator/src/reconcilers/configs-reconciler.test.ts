import { describe, expect, it } from '@jest/globals';
import { validateSidecarConfig } from '@palisade/crds';
import { sidecarConfigForPod } from '../compiler/compile.js';
import type { SharedSidecarConfig } from '../compiler/types.js';
import { ManualScheduler } from '../core/clock.js';
import { Controller } from '../queue/controller.js';
import { FakeKubeApi } from '../testing/fake-kube-api.js';
import { kubePod, kubeRateLimit, rateLimitSpec, testInstallation } from '../testing/builders.js';
import { CONFIG_KEY, PODS_KEY, type ConfigMapObject } from './config-map.js';
import { createConfigsReconciler } from './configs-reconciler.js';
import { NamespaceCompiler } from './namespace-compiler.js';

const never = new AbortController().signal;

function setup() {
  const api = new FakeKubeApi();
  const clock = new ManualScheduler(Date.UTC(2026, 0, 1, 12));
  const compiler = new NamespaceCompiler({ api, installation: testInstallation, memoize: false });
  const reconcile = createConfigsReconciler({ api, compiler, clock });
  for (const i of [1, 2, 3]) api.putPod(kubePod(`checkout-${i}`, { app: 'checkout' }));
  for (const i of [4, 5]) api.putPod(kubePod(`payments-${i}`, { app: 'payments' }));
  api.putResource(kubeRateLimit('limits', rateLimitSpec('checkout', 100)));
  return { api, clock, compiler, reconcile };
}

function configFor(
  api: FakeKubeApi,
  pod: string,
): { cm: ConfigMapObject; config: SharedSidecarConfig } {
  const listing = api.configMaps
    .list('shop')
    .filter((cm) => (cm.data?.[PODS_KEY] ?? '').split('\n').includes(pod));
  expect(listing).toHaveLength(1);
  const cm = listing[0] as ConfigMapObject;
  return { cm, config: JSON.parse(cm.data?.[CONFIG_KEY] ?? '') as SharedSidecarConfig };
}

describe('configs reconciler', () => {
  it('writes one ConfigMap per distinct config; each pod finds exactly one, valid for it', async () => {
    const { api, reconcile } = setup();
    await reconcile('shop', never);
    expect(api.takeWrites().map((w) => w.op)).toEqual(['applyConfigMap', 'applyConfigMap']);
    for (const pod of ['checkout-1', 'checkout-2', 'checkout-3', 'payments-4', 'payments-5']) {
      const { cm, config } = configFor(api, pod);
      expect(cm.metadata.name).toBe(`palisade-config-${config.version}`);
      const full = validateSidecarConfig(sidecarConfigForPod(config, pod));
      expect(full.ok).toBe(true);
    }
    expect(configFor(api, 'checkout-1').config.rateLimits?.[0]?.limit.requests).toBe(100);
  });

  it('a second pass over an unchanged namespace writes nothing', async () => {
    const { api, reconcile } = setup();
    await reconcile('shop', never);
    api.takeWrites();
    await reconcile('shop', never);
    await reconcile('shop', never);
    expect(api.takeWrites()).toEqual([]);
  });

  it('a policy change creates the new object before deleting the unused one', async () => {
    const { api, reconcile } = setup();
    await reconcile('shop', never);
    const before = configFor(api, 'checkout-1').cm.metadata.name;
    api.takeWrites();
    api.putResource(kubeRateLimit('limits', rateLimitSpec('checkout', 5), 2));
    await reconcile('shop', never);
    const writes = api.takeWrites();
    expect(writes.map((w) => `${w.op} ${'name' in w ? w.name : ''}`)).toEqual([
      `applyConfigMap ${configFor(api, 'checkout-1').cm.metadata.name}`,
      `deleteConfigMap ${before}`,
    ]);
    expect(configFor(api, 'checkout-1').config.rateLimits?.[0]?.limit.requests).toBe(5);
  });

  it('deleting the last policy and pods garbage-collects every managed ConfigMap', async () => {
    const { api, reconcile } = setup();
    await reconcile('shop', never);
    for (const p of api.pods.list()) api.pods.remove(p);
    await reconcile('shop', never);
    expect(api.configMaps.size).toBe(0);
  });

  it('leaves pods of other namespaces and unmanaged ConfigMaps alone', async () => {
    const { api, reconcile } = setup();
    api.putPod(kubePod('web-1', { app: 'web' }, { namespace: 'other' }));
    api.configMaps.upsert({
      metadata: { name: 'app-settings', namespace: 'shop' },
      data: { a: 'b' },
    });
    await reconcile('shop', never);
    expect(api.configMaps.list('other')).toEqual([]);
    expect(api.configMaps.get('app-settings', 'shop')?.data).toEqual({ a: 'b' });
  });

  it('converges after a failed write when the controller retries with backoff', async () => {
    const { api, reconcile } = setup();
    const scheduler = new ManualScheduler();
    const outcomes: string[] = [];
    const controller = new Controller({
      name: 'configs',
      scheduler,
      reconcile,
      onReconciled: (_key, outcome) => outcomes.push(outcome.result),
    });
    controller.start();
    api.failNext(Object.assign(new Error('etcdserver: request timed out'), { statusCode: 500 }));
    controller.enqueue('shop');
    await controller.queue.whenIdle();
    expect(outcomes).toEqual(['error']);
    scheduler.advance(5);
    await controller.queue.whenIdle();
    await controller.shutDown();
    expect(outcomes).toEqual(['error', 'success']);
    expect(api.configMaps.size).toBe(2);
  });
});
