import { afterEach, describe, expect, it } from '@jest/globals';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Condition } from '@palisade/crds';
import { ManualScheduler } from '../core/clock.js';
import { FakeKubeApi } from '../testing/fake-kube-api.js';
import {
  breakerSpec,
  kubeBreaker,
  kubePod,
  kubeRateLimit,
  kubeSaga,
  rateLimitSpec,
  testInstallation,
} from '../testing/builders.js';
import type { CommonStatus, SagaStatus } from './kube-api.js';
import { NamespaceCompiler } from './namespace-compiler.js';
import { createPolicyReconciler } from './policy-reconciler.js';
import { RedisHealth } from './redis-health.js';
import { SagaInstancesObserver, type SagaScrapeFailure } from './saga-instances-observer.js';
import { httpMetricsReader } from './sidecar-scrape.js';
import type { InstallationSettings } from '../compiler/types.js';

const never = new AbortController().signal;

function setup(
  kind: 'RateLimitPolicy' | 'CircuitBreaker' | 'Saga',
  installation: InstallationSettings = testInstallation,
) {
  const api = new FakeKubeApi();
  const clock = new ManualScheduler(Date.UTC(2026, 0, 1, 12));
  const compiler = new NamespaceCompiler({ api, installation, memoize: false });
  const reconcile = createPolicyReconciler({ kind, api, compiler, installation, clock });
  return { api, clock, reconcile };
}

function statusOf(
  api: FakeKubeApi,
  kind: 'RateLimitPolicy' | 'CircuitBreaker' | 'Saga',
  name: string,
): CommonStatus | undefined {
  return api.resources.get(kind)?.get(name, 'shop')?.status;
}

function ready(status: CommonStatus | undefined): Condition | undefined {
  return status?.conditions?.find((c) => c.type === 'Ready');
}

describe('RateLimitPolicy status', () => {
  it('reports Ready/Enforced with matchedPods and observedGeneration, then writes nothing more', async () => {
    const { api, reconcile } = setup('RateLimitPolicy');
    api.putPod(kubePod('checkout-1', { app: 'checkout' }));
    api.putPod(kubePod('checkout-2', { app: 'checkout' }));
    api.putResource(kubeRateLimit('limits', rateLimitSpec('checkout'), 3));
    await reconcile('shop/limits', never);
    const status = statusOf(api, 'RateLimitPolicy', 'limits');
    expect(status).toMatchObject({ observedGeneration: 3, matchedPods: 2 });
    expect(ready(status)).toMatchObject({
      status: 'True',
      reason: 'Enforced',
      observedGeneration: 3,
      lastTransitionTime: '2026-01-01T12:00:00Z',
    });
    expect(api.takeWrites()).toHaveLength(1);
    await reconcile('shop/limits', never);
    expect(api.takeWrites()).toEqual([]);
  });

  it('NoMatchingPods, then Enforced when a pod appears; lastTransitionTime moves only on the flip', async () => {
    const { api, clock, reconcile } = setup('RateLimitPolicy');
    api.putResource(kubeRateLimit('limits', rateLimitSpec('checkout')));
    await reconcile('shop/limits', never);
    expect(ready(statusOf(api, 'RateLimitPolicy', 'limits'))).toMatchObject({
      status: 'False',
      reason: 'NoMatchingPods',
    });
    clock.advance(60_000);
    api.putPod(kubePod('checkout-1', { app: 'checkout' }));
    await reconcile('shop/limits', never);
    const flipped = ready(statusOf(api, 'RateLimitPolicy', 'limits'));
    expect(flipped).toMatchObject({ status: 'True', lastTransitionTime: '2026-01-01T12:01:00Z' });
    clock.advance(60_000);
    api.putPod(kubePod('checkout-2', { app: 'checkout' }));
    await reconcile('shop/limits', never);
    expect(ready(statusOf(api, 'RateLimitPolicy', 'limits'))).toMatchObject({
      status: 'True',
      message: 'enforced on 2 of 2 selected pods',
      lastTransitionTime: '2026-01-01T12:01:00Z',
    });
  });

  it('InvalidSelector names the requirement', async () => {
    const { api, reconcile } = setup('RateLimitPolicy');
    api.putResource(
      kubeRateLimit('bad', {
        ...rateLimitSpec('x'),
        selector: { matchExpressions: [{ key: 'app', operator: 'Exists', values: ['x'] }] },
      }),
    );
    await reconcile('shop/bad', never);
    expect(ready(statusOf(api, 'RateLimitPolicy', 'bad'))).toMatchObject({
      status: 'False',
      reason: 'InvalidSelector',
      message: expect.stringContaining('matchExpressions[0]'),
    });
  });

  it('RedisNotConfigured for a global rule without any Redis', async () => {
    const noRedis: InstallationSettings = { ...testInstallation, redis: undefined };
    const { api, reconcile } = setup('RateLimitPolicy', noRedis);
    api.putPod(kubePod('checkout-1', { app: 'checkout' }));
    api.putResource(kubeRateLimit('limits', rateLimitSpec('checkout', 10, 'global')));
    await reconcile('shop/limits', never);
    expect(ready(statusOf(api, 'RateLimitPolicy', 'limits'))?.reason).toBe('RedisNotConfigured');
  });

  it('RedisUnavailable while the Redis of a global rule does not answer, re-checked on requeue', async () => {
    const api = new FakeKubeApi();
    const clock = new ManualScheduler(Date.UTC(2026, 0, 1, 12));
    const installation = testInstallation;
    const compiler = new NamespaceCompiler({ api, installation, memoize: false });
    let up = false;
    const checked: string[] = [];
    const redis = new RedisHealth({
      clock,
      intervalMs: 5000,
      check: (url) => (
        checked.push(url),
        up ? Promise.resolve() : Promise.reject(new Error('ECONNREFUSED'))
      ),
    });
    const reconcile = createPolicyReconciler({
      kind: 'RateLimitPolicy',
      api,
      compiler,
      installation,
      clock,
      redis,
    });
    api.putPod(kubePod('checkout-1', { app: 'checkout' }));
    api.putResource(kubeRateLimit('limits', rateLimitSpec('checkout', 10, 'global')));
    expect(await reconcile('shop/limits', never)).toEqual({ requeueAfterMs: 5000 });
    const down = ready(statusOf(api, 'RateLimitPolicy', 'limits'));
    expect(down).toMatchObject({ status: 'False', reason: 'RedisUnavailable' });
    expect(down?.message).toContain('ECONNREFUSED');
    expect(checked).toEqual([installation.redis?.url]);
    up = true;
    clock.advance(5000);
    await reconcile('shop/limits', never);
    expect(ready(statusOf(api, 'RateLimitPolicy', 'limits'))).toMatchObject({
      status: 'True',
      reason: 'Enforced',
    });
    // A local-only policy needs no Redis: no check, no requeue.
    api.putResource(kubeRateLimit('local', rateLimitSpec('checkout', 10, 'local')));
    expect(await reconcile('shop/local', never)).toBeUndefined();
    expect(checked).toHaveLength(2);
  });

  it('does nothing for a deleted resource', async () => {
    const { api, reconcile } = setup('RateLimitPolicy');
    await reconcile('shop/gone', never);
    expect(api.takeWrites()).toEqual([]);
  });
});

describe('CircuitBreaker status', () => {
  it('the newer of two breakers on the same target is not Ready; both say Conflicting', async () => {
    const { api, reconcile } = setup('CircuitBreaker');
    api.putPod(kubePod('checkout-1', { app: 'checkout' }));
    api.putResource(kubeBreaker('old', breakerSpec('checkout', 'payments.shop.svc'), 0));
    api.putResource(kubeBreaker('new', breakerSpec('checkout', 'payments.shop.svc'), 5));
    await reconcile('shop/old', never);
    await reconcile('shop/new', never);
    const oldStatus = statusOf(api, 'CircuitBreaker', 'old');
    const newStatus = statusOf(api, 'CircuitBreaker', 'new');
    expect(ready(oldStatus)).toMatchObject({ status: 'True', reason: 'Enforced' });
    expect(oldStatus?.conditions?.find((c) => c.type === 'Conflicting')).toMatchObject({
      status: 'True',
      reason: 'ConflictingCircuitBreakers',
    });
    expect(ready(newStatus)).toMatchObject({
      status: 'False',
      reason: 'ConflictingCircuitBreakers',
      message: expect.stringContaining('shop/old is older'),
    });
  });

  it('Conflicting is False without a collision', async () => {
    const { api, reconcile } = setup('CircuitBreaker');
    api.putPod(kubePod('checkout-1', { app: 'checkout' }));
    api.putResource(kubeBreaker('only', breakerSpec('checkout', 'payments.shop.svc')));
    await reconcile('shop/only', never);
    expect(
      statusOf(api, 'CircuitBreaker', 'only')?.conditions?.map((c) => `${c.type}=${c.status}`),
    ).toEqual(['Ready=True', 'Conflicting=False']);
  });
});

describe('Saga status', () => {
  const spec = {
    selector: { matchLabels: { role: 'orders' } },
    steps: [{ name: 'a', action: { method: 'POST' as const, url: 'http://x.svc/a' } }],
  };

  it('SpansRaftGroups when the selected pods are in two groups', async () => {
    const { api, reconcile } = setup('Saga');
    api.putPod(kubePod('a-1', { role: 'orders', app: 'a' }));
    api.putPod(kubePod('b-2', { role: 'orders', app: 'b' }));
    api.putResource(kubeSaga('place-order', spec));
    await reconcile('shop/place-order', never);
    expect(ready(statusOf(api, 'Saga', 'place-order'))?.reason).toBe('SpansRaftGroups');
  });

  it('InvalidSpec names the step template that reads a later step', async () => {
    const { api, reconcile } = setup('Saga');
    api.putPod(kubePod('a-1', { role: 'orders', app: 'a' }));
    api.putResource(
      kubeSaga('bad-template', {
        ...spec,
        steps: [
          {
            name: 'a',
            action: { method: 'POST', url: 'http://x.svc/{{steps.b.response.body.id}}' },
          },
          { name: 'b', action: { method: 'POST', url: 'http://x.svc/b' } },
        ],
      }),
    );
    await reconcile('shop/bad-template', never);
    expect(ready(statusOf(api, 'Saga', 'bad-template'))).toMatchObject({
      status: 'False',
      reason: 'InvalidSpec',
      message: expect.stringMatching(/^spec\.steps\[0\]\.action\.url: .*step "b"/),
    });
  });

  it('keeps instance counts it does not read (no observer), without rewriting them', async () => {
    const { api, reconcile } = setup('Saga');
    api.putPod(kubePod('a-1', { role: 'orders', app: 'a' }));
    api.putResource(kubeSaga('place-order', spec));
    await reconcile('shop/place-order', never);
    expect(ready(statusOf(api, 'Saga', 'place-order'))?.reason).toBe('Enforced');
    const current = api.resources.get('Saga')?.get('place-order', 'shop');
    api.putResource({
      ...current!,
      kind: 'Saga',
      status: { ...current!.status, instances: { running: 3 } },
    } as never);
    api.takeWrites();
    await reconcile('shop/place-order', never);
    expect(api.takeWrites()).toEqual([]);
  });
});

/**
 * Real sidecar-like /metrics endpoints on 127.0.0.1, one port per pod: `texts` holds what each
 * pod answers; a pod without text answers 503.
 */
async function metricsEndpoints(pods: readonly string[]) {
  const texts = new Map<string, string>();
  const ports = new Map<string, number>();
  const servers: Server[] = [];
  for (const pod of pods) {
    const server = createServer((request, response) => {
      const text = texts.get(pod);
      response.writeHead(text === undefined ? 503 : 200, { 'content-type': 'text/plain' });
      response.end(text ?? 'starting');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    ports.set(pod, (server.address() as AddressInfo).port);
    servers.push(server);
  }
  const close = () =>
    Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  return { texts, ports, close };
}

/** What a Raft member's sidecar exposes: its role, applied index and `shop/place-order` counts. */
function memberMetrics(role: string, applied: number, states: Record<string, number>): string {
  return [
    `palisade_raft_role{role="${role}"} 1`,
    'palisade_raft_term 2',
    `palisade_raft_applied_index ${applied}`,
    ...Object.entries(states).map(
      ([state, n]) => `palisade_saga_instances{saga="shop/place-order",state="${state}"} ${n}`,
    ),
  ].join('\n');
}

describe('Saga status.instances', () => {
  const spec = {
    selector: { matchLabels: { app: 'orders' } },
    steps: [{ name: 'a', action: { method: 'POST' as const, url: 'http://x.svc/a' } }],
  };
  const PODS = ['orders-1', 'orders-2', 'orders-3'];
  let close: () => Promise<unknown> = async () => undefined;
  afterEach(() => close());

  async function sagaSetup() {
    const api = new FakeKubeApi();
    const clock = new ManualScheduler(Date.UTC(2026, 0, 1, 12));
    const compiler = new NamespaceCompiler({ api, installation: testInstallation, memoize: false });
    const endpoints = await metricsEndpoints(PODS);
    close = endpoints.close;
    const failures: SagaScrapeFailure[] = [];
    const reconcile = createPolicyReconciler({
      kind: 'Saga',
      api,
      compiler,
      installation: testInstallation,
      clock,
      sagaInstances: {
        observer: new SagaInstancesObserver({
          reader: httpMetricsReader({
            port: (pod) => endpoints.ports.get(pod.name) ?? 1,
            timeoutMs: 500,
          }),
          clock,
          onFailure: (failure) => failures.push(failure),
        }),
        intervalMs: 5000,
        maxPods: 5,
      },
    });
    for (const pod of PODS) api.putPod(kubePod(pod, { app: 'orders' }, { ip: '127.0.0.1' }));
    api.putResource(kubeSaga('place-order', spec));
    const status = () =>
      api.resources.get('Saga')?.get('place-order', 'shop')?.status as SagaStatus | undefined;
    return { api, clock, reconcile, texts: endpoints.texts, failures, status };
  }

  it('writes the counts of the member that applied the most, once, and looks again every interval', async () => {
    const { api, reconcile, texts, status } = await sagaSetup();
    texts.set('orders-1', memberMetrics('leader', 20, { Running: 1, Completed: 3 }));
    texts.set('orders-2', memberMetrics('follower', 22, { Completed: 4, Compensated: 2 }));
    texts.set('orders-3', memberMetrics('follower', 19, { Running: 2, Completed: 2 }));
    expect(await reconcile('shop/place-order', never)).toEqual({ requeueAfterMs: 5000 });
    expect(status()?.instances).toEqual({
      running: 0,
      completed: 4,
      compensating: 0,
      compensated: 2,
      failed: 0,
      needsAttention: 0,
    });
    expect(ready(status())?.reason).toBe('Enforced');
    expect(api.takeWrites()).toHaveLength(1);
    // Same counts: no write.
    expect(await reconcile('shop/place-order', never)).toEqual({ requeueAfterMs: 5000 });
    expect(api.takeWrites()).toEqual([]);
    // The group moved on: one more completed.
    texts.set('orders-1', memberMetrics('leader', 25, { Completed: 5, Compensated: 2 }));
    await reconcile('shop/place-order', never);
    expect(status()?.instances).toMatchObject({ completed: 5, compensated: 2 });
    expect(api.takeWrites()).toHaveLength(1);
  });

  it('keeps the last counts and Ready when no sidecar answers, warning once a minute', async () => {
    const { api, clock, reconcile, texts, failures, status } = await sagaSetup();
    texts.set('orders-1', memberMetrics('leader', 9, { Completed: 7 }));
    await reconcile('shop/place-order', never);
    expect(status()?.instances).toMatchObject({ completed: 7 });
    api.takeWrites();
    texts.clear();
    // matchedPods changes meanwhile: the status is written, and must still carry the counts.
    api.pods.remove({ metadata: { namespace: 'shop', name: 'orders-3' } });
    await reconcile('shop/place-order', never);
    expect(status()?.instances).toMatchObject({ completed: 7 });
    expect(ready(status())?.status).toBe('True');
    expect(failures).toEqual([
      {
        saga: 'shop/place-order',
        // Two ready pods make one voter (an odd count): only it is scraped.
        reason: 'orders-1: GET /metrics: HTTP 503',
        level: 'warn',
      },
    ]);
    clock.advance(30_000);
    await reconcile('shop/place-order', never);
    clock.advance(30_000);
    await reconcile('shop/place-order', never);
    expect(failures.map((f) => f.level)).toEqual(['warn', 'debug', 'warn']);
    expect(status()?.instances).toMatchObject({ completed: 7 });
  });

  it('scrapes nothing and does not look again when the Saga selects no pod', async () => {
    const { api, reconcile, failures, status } = await sagaSetup();
    for (const pod of PODS) api.pods.remove({ metadata: { namespace: 'shop', name: pod } });
    expect(await reconcile('shop/place-order', never)).toBeUndefined();
    expect(ready(status())?.reason).toBe('NoMatchingPods');
    expect(status()?.instances).toBeUndefined();
    expect(failures).toEqual([]);
  });
});
