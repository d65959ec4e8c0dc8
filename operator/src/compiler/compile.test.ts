import { describe, expect, it } from '@jest/globals';
import { validateSidecarConfig } from '@palisade/crds';
import { canonicalJson, contentHash } from './canonical-json.js';
import { compileSidecarConfigs, sidecarConfigForPod } from './compile.js';
import { breaker, experiment, installation, pod, rateLimit, saga } from './fixtures.js';
import { policyKey, type CompileInput, type CompileOutput, type PolicySet } from './types.js';

const noPolicies: PolicySet = { rateLimits: [], circuitBreakers: [], chaos: [], sagas: [] };

function compile(pods: CompileInput['pods'], policies: Partial<PolicySet> = {}): CompileOutput {
  return compileSidecarConfigs({ pods, policies: { ...noPolicies, ...policies }, installation });
}

function configOf(out: CompileOutput, podKey: string) {
  const hash = out.podConfig.get(podKey);
  const [namespace] = podKey.split('/');
  return out.configs.find((c) => c.hash === hash && c.namespace === namespace);
}

function expectAllValid(out: CompileOutput): void {
  for (const c of out.configs) {
    // The JSON assembled from cached pieces is exactly the canonical form, and the hash its hash.
    expect(c.json).toBe(canonicalJson(c.config));
    expect(c.hash).toBe(contentHash({ ...c.config, version: undefined }));
    for (const podName of c.pods) {
      const r = validateSidecarConfig(sidecarConfigForPod(c.config, podName));
      if (!r.ok) throw new Error(`config ${c.hash} for ${podName}: ${JSON.stringify(r.errors)}`);
    }
  }
}

const checkout = [1, 2, 3].map((i) => pod(`checkout-${i}`, { app: 'checkout' }));
const payments = [4, 5].map((i) => pod(`payments-${i}`, { app: 'payments' }));

describe('compileSidecarConfigs: sharing and versions', () => {
  it('pods with the same effective policy set share one content-hashed object', () => {
    const out = compile([...checkout, ...payments], {
      rateLimits: [rateLimit('checkout-limits', { matchLabels: { app: 'checkout' } })],
    });
    const hashes = new Set(checkout.map((p) => out.podConfig.get(`shop/${p.name}`)));
    expect(hashes.size).toBe(1);
    const shared = configOf(out, 'shop/checkout-1');
    expect(shared?.pods).toEqual(['checkout-1', 'checkout-2', 'checkout-3']);
    expect(shared?.config.version).toBe(shared?.hash);
    expect(shared?.config.rateLimits?.map((r) => `${r.policy}:${r.name}`)).toEqual([
      'shop/checkout-limits:all',
    ]);
    expect(configOf(out, 'shop/payments-4')?.config.rateLimits).toBeUndefined();
    expect(out.configs).toHaveLength(2);
    expectAllValid(out);
  });

  it('is deterministic: input order does not change any hash', () => {
    const policies = {
      rateLimits: [
        rateLimit('a', { matchLabels: { app: 'checkout' } }),
        rateLimit('b', { matchExpressions: [{ key: 'app', operator: 'Exists' }] }, 7),
      ],
    };
    const one = compile([...checkout, ...payments], policies);
    const two = compile([...payments, ...checkout].reverse(), {
      rateLimits: [...policies.rateLimits].reverse(),
    });
    expect([...two.podConfig].sort()).toEqual([...one.podConfig].sort());
    expect(two.configs).toEqual(one.configs);
  });

  it('changes the version of exactly the affected objects when a policy changes', () => {
    const before = compile([...checkout, ...payments], {
      rateLimits: [rateLimit('l', { matchLabels: { app: 'checkout' } }, 100)],
    });
    const after = compile([...checkout, ...payments], {
      rateLimits: [rateLimit('l', { matchLabels: { app: 'checkout' } }, 200)],
    });
    expect(after.podConfig.get('shop/checkout-1')).not.toBe(
      before.podConfig.get('shop/checkout-1'),
    );
    expect(after.podConfig.get('shop/payments-4')).toBe(before.podConfig.get('shop/payments-4'));
    expect(configOf(after, 'shop/checkout-1')?.config.rateLimits?.[0]?.limit.requests).toBe(200);
  });

  it('keeps namespaces apart: a policy selects pods of its own namespace only', () => {
    const other = pod('checkout-9', { app: 'checkout' }, { namespace: 'other' });
    const out = compile([...checkout, other], {
      rateLimits: [rateLimit('l', { matchLabels: { app: 'checkout' } })],
    });
    expect(configOf(out, 'other/checkout-9')?.config.rateLimits).toBeUndefined();
    expect(out.diagnostics.get(policyKey('RateLimitPolicy', 'shop', 'l'))?.matchedPods).toBe(3);
  });

  it('gives pods with a different app port a different object and leaves terminating pods out', () => {
    const out = compile([
      pod('web-1', { tier: 'web' }, { appPort: 9090 }),
      pod('web-2', { tier: 'web' }),
      pod('web-3', { tier: 'web' }, { terminating: true }),
    ]);
    expect(configOf(out, 'shop/web-1')?.config.app).toEqual({ host: '127.0.0.1', port: 9090 });
    expect(configOf(out, 'shop/web-2')?.config.app.port).toBe(8080);
    expect(out.podConfig.has('shop/web-3')).toBe(false);
  });

  it('carries installation settings: listeners, redis, tracing, policy failureMode', () => {
    const out = compile(checkout, {
      rateLimits: [rateLimit('l', { matchLabels: { app: 'checkout' } })],
    });
    const c = configOf(out, 'shop/checkout-1')?.config;
    expect(c?.listeners).toEqual({ admin: 15000, inbound: 15006, outbound: 15001, raft: 15010 });
    expect(c?.redis).toEqual({ url: 'redis://redis.palisade:6379' });
    expect(c?.tracing?.sampleRatio).toBe(0.01);
    expect(c?.rateLimits?.[0]?.failureMode).toBe('open');
  });
});

describe('compileSidecarConfigs: diagnostics', () => {
  it('counts matched pods and reports no match as matchedPods 0', () => {
    const out = compile(checkout, {
      rateLimits: [
        rateLimit('hit', { matchLabels: { app: 'checkout' } }),
        rateLimit('miss', { matchLabels: { app: 'nobody' } }),
      ],
    });
    expect(out.diagnostics.get('RateLimitPolicy/shop/hit')).toMatchObject({
      matchedPods: 3,
      enforcedPods: 3,
    });
    expect(out.diagnostics.get('RateLimitPolicy/shop/miss')).toMatchObject({
      matchedPods: 0,
      enforcedPods: 0,
    });
  });

  it('reports an invalid selector and enforces nothing for it', () => {
    const bad = rateLimit('bad', {
      matchExpressions: [{ key: 'app', operator: 'In', values: [] }],
    });
    const out = compile(checkout, { rateLimits: [bad] });
    expect(out.diagnostics.get('RateLimitPolicy/shop/bad')?.invalidSelector).toMatch(
      /needs at least one value/,
    );
    expect(configOf(out, 'shop/checkout-1')?.config.rateLimits).toBeUndefined();
  });

  it('enforces only the older of two CircuitBreakers for the same target and reports both sides', () => {
    const older = breaker(
      'payments-old',
      { matchLabels: { app: 'checkout' } },
      'payments.shop.svc',
      0,
    );
    const newer = breaker(
      'payments-new',
      { matchExpressions: [{ key: 'app', operator: 'In', values: ['checkout'] }] },
      'payments.shop.svc',
      5,
    );
    const other = breaker(
      'inventory',
      { matchLabels: { app: 'checkout' } },
      'inventory.shop.svc',
      9,
    );
    const out = compile(checkout, { circuitBreakers: [newer, other, older] });
    const c = configOf(out, 'shop/checkout-1')?.config;
    expect(c?.circuitBreakers?.map((b) => b.policy)).toEqual([
      'shop/inventory',
      'shop/payments-old',
    ]);
    expect(out.diagnostics.get('CircuitBreaker/shop/payments-new')).toMatchObject({
      matchedPods: 3,
      enforcedPods: 0,
      conflicts: [
        { reason: 'ConflictingCircuitBreakers', other: 'shop/payments-old', won: false, pods: 3 },
      ],
    });
    expect(out.diagnostics.get('CircuitBreaker/shop/payments-old')).toMatchObject({
      enforcedPods: 3,
      conflicts: [
        { reason: 'ConflictingCircuitBreakers', other: 'shop/payments-new', won: true, pods: 3 },
      ],
    });
    expect(out.diagnostics.get('CircuitBreaker/shop/inventory')?.conflicts).toEqual([]);
    expectAllValid(out);
  });

  it('counts a partial conflict only on the pods where both breakers apply', () => {
    const a = breaker('a', { matchLabels: { app: 'checkout' } }, 'h', 0);
    const b = breaker('b', { matchExpressions: [{ key: 'app', operator: 'Exists' }] }, 'h', 1);
    const out = compile([...checkout, ...payments], { circuitBreakers: [a, b] });
    expect(out.diagnostics.get('CircuitBreaker/shop/b')).toMatchObject({
      matchedPods: 5,
      enforcedPods: 2,
    });
    expect(out.diagnostics.get('CircuitBreaker/shop/b')?.conflicts[0]?.pods).toBe(3);
  });
});

describe('compileSidecarConfigs: chaos', () => {
  const sel = { matchLabels: { app: 'checkout' } };

  it('delivers the non-podKill faults of a Running experiment to its fixed targets only', () => {
    const out = compile(checkout, {
      chaos: [experiment('drill', sel, { phase: 'Running', targets: ['checkout-2', 'gone-pod'] })],
    });
    expect(configOf(out, 'shop/checkout-2')?.config.faults).toEqual([
      {
        experiment: 'shop/drill',
        type: 'latency',
        delay: '300ms',
        percentage: 20,
        direction: 'inbound',
      },
    ]);
    expect(configOf(out, 'shop/checkout-1')?.config.faults).toBeUndefined();
    expect(out.diagnostics.get('ChaosExperiment/shop/drill')).toMatchObject({
      matchedPods: 3,
      enforcedPods: 1,
    });
    expectAllValid(out);
  });

  it('delivers abort (direction, route match) and partition entries; podKill stays with the operator', () => {
    const out = compile(checkout, {
      chaos: [
        experiment(
          'cut',
          sel,
          { phase: 'Running', targets: ['checkout-1'] },
          {
            faults: [
              {
                type: 'abort',
                httpStatus: 503,
                percentage: 10,
                direction: 'outbound',
                match: { pathPrefix: '/pay' },
              },
              { type: 'partition', target: 'raft' },
              { type: 'podKill', count: 1 },
            ],
          },
        ),
        experiment(
          'kill-only',
          sel,
          { phase: 'Running', targets: ['checkout-2'] },
          {
            faults: [{ type: 'podKill', count: 1 }],
          },
        ),
      ],
    });
    expect(configOf(out, 'shop/checkout-1')?.config.faults).toEqual([
      {
        experiment: 'shop/cut',
        type: 'abort',
        httpStatus: 503,
        percentage: 10,
        direction: 'outbound',
        match: { pathPrefix: '/pay' },
      },
      { experiment: 'shop/cut', type: 'partition', target: 'raft' },
    ]);
    expect(configOf(out, 'shop/checkout-2')?.config.faults).toBeUndefined();
    expectAllValid(out);
  });

  it.each(['Pending', 'Paused', 'Completed', 'Aborted'] as const)(
    'delivers nothing while %s',
    (phase) => {
      const out = compile(checkout, {
        chaos: [experiment('drill', sel, { phase, targets: ['checkout-2'] })],
      });
      expect(out.configs.every((c) => c.config.faults === undefined)).toBe(true);
    },
  );
});

describe('compileSidecarConfigs: Raft groups and sagas', () => {
  it('leaves a saga with a bad template out of every config and says why', () => {
    const orders = [1, 2].map((i) => pod(`orders-${i}`, { app: 'orders' }));
    const good = saga('good', { matchLabels: { app: 'orders' } });
    const bad = saga('bad', { matchLabels: { app: 'orders' } });
    const broken = {
      ...bad,
      spec: {
        ...bad.spec,
        steps: [{ name: 'a', action: { method: 'POST' as const, url: 'http://x/{{input.y' } }],
      },
    };
    const out = compile(orders, { sagas: [good, broken] });
    expect(out.configs[0]?.config.sagas?.map((s) => s.name)).toEqual(['shop/good']);
    expect(out.diagnostics.get('Saga/shop/bad')).toMatchObject({
      matchedPods: 2,
      enforcedPods: 0,
      invalidSpec: expect.stringMatching(/^spec\.steps\[0\]\.action\.url: /),
    });
    expectAllValid(out);
  });

  it('gives every member the group peer list, voters the oldest ready pods', () => {
    const orders = [1, 2, 3, 4, 5, 6, 7].map((i) =>
      pod(`orders-${i}`, { app: 'orders' }, { ready: i !== 1 }),
    );
    const out = compile(orders, {
      sagas: [saga('place-order', { matchLabels: { app: 'orders' } })],
    });
    const plan = out.raftGroups.get('shop/orders');
    expect(plan?.voters).toEqual(['orders-2', 'orders-3', 'orders-4', 'orders-5', 'orders-6']);
    expect(out.configs).toHaveLength(1);
    const shared = out.configs[0]?.config;
    expect(shared?.raft?.group).toBe('shop/orders');
    expect(shared?.raft?.peers).toHaveLength(7);
    expect(shared?.raft?.secretFile).toBe('/var/run/palisade/raft-secret');
    expect(shared?.sagas?.map((s) => s.name)).toEqual(['shop/place-order']);
    expect(sidecarConfigForPod(shared!, 'orders-3').raft?.id).toBe('orders-3');
    expect(out.diagnostics.get('Saga/shop/place-order')).toMatchObject({
      raftGroups: ['shop/orders'],
      podsWithoutRaftGroup: 0,
    });
    expectAllValid(out);
  });

  it('reports a saga whose pods span several groups or none', () => {
    const pods = [
      pod('a-1', { role: 'x', app: 'a' }),
      pod('b-2', { role: 'x', app: 'b' }),
      pod('c-3', { role: 'x' }),
    ];
    const out = compile(pods, { sagas: [saga('s', { matchLabels: { role: 'x' } })] });
    expect(out.diagnostics.get('Saga/shop/s')).toMatchObject({
      raftGroups: ['shop/a', 'shop/b'],
      podsWithoutRaftGroup: 1,
    });
    expect(configOf(out, 'shop/c-3')?.config.raft).toBeUndefined();
  });

  it('changes the group members’ version when membership changes, not other groups’', () => {
    const a = [1, 2].map((i) => pod(`a-${i}`, { app: 'a' }));
    const b = [3].map((i) => pod(`b-${i}`, { app: 'b' }));
    const before = compile([...a, ...b]);
    const after = compile([...a, ...b, pod('a-4', { app: 'a' })]);
    expect(after.podConfig.get('shop/a-1')).not.toBe(before.podConfig.get('shop/a-1'));
    expect(after.podConfig.get('shop/b-3')).toBe(before.podConfig.get('shop/b-3'));
  });
});
