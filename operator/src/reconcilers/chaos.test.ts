import { describe, expect, it } from '@jest/globals';
import type { ChaosExperimentSpec } from '@palisade/crds';
import { ManualScheduler } from '../core/clock.js';
import { SeededRandom } from '../core/random.js';
import { pod } from '../compiler/fixtures.js';
import { FakeKubeApi } from '../testing/fake-kube-api.js';
import { kubeChaos, kubePod, testInstallation } from '../testing/builders.js';
import { planPodKill, selectTargets } from './chaos-planner.js';
import { createChaosReconciler } from './chaos-reconciler.js';
import { CONFIG_KEY, PODS_KEY } from './config-map.js';
import { createConfigsReconciler } from './configs-reconciler.js';
import type { ChaosStatus } from './kube-api.js';
import { NamespaceCompiler } from './namespace-compiler.js';
import { planRaftGroup } from '../compiler/raft-peers.js';

const never = new AbortController().signal;
const T0 = Date.UTC(2026, 0, 1, 12);

function spec(extra: Partial<ChaosExperimentSpec> = {}): ChaosExperimentSpec {
  return {
    selector: { matchLabels: { app: 'inventory' } },
    mode: { type: 'fixed', value: 2 },
    faults: [{ type: 'latency', delay: '300ms', percentage: 20, direction: 'inbound' }],
    duration: '60s',
    ...extra,
  };
}

function setup(chaosSpec: ChaosExperimentSpec, pods = 4) {
  const api = new FakeKubeApi();
  const clock = new ManualScheduler(T0);
  const compiler = new NamespaceCompiler({ api, installation: testInstallation, memoize: false });
  const reconcile = createChaosReconciler({ api, compiler, clock, random: new SeededRandom(7) });
  const configs = createConfigsReconciler({ api, compiler, clock });
  for (let i = 1; i <= pods; i++) api.putPod(kubePod(`inventory-${i}`, { app: 'inventory' }));
  api.putResource(kubeChaos('drill', chaosSpec));
  const status = () =>
    api.resources.get('ChaosExperiment')?.get('drill', 'shop')?.status as ChaosStatus;
  return { api, clock, reconcile, configs, status };
}

function faultedPods(api: FakeKubeApi): string[] {
  return api.configMaps
    .list('shop')
    .filter((cm) => JSON.parse(cm.data?.[CONFIG_KEY] ?? '{}').faults !== undefined)
    .flatMap((cm) => (cm.data?.[PODS_KEY] ?? '').split('\n'))
    .sort();
}

describe('selectTargets', () => {
  const candidates = [1, 2, 3, 4, 5, 6, 7].map((i) => pod(`p-${i}`, {}));
  it.each<[ChaosExperimentSpec['mode'], number]>([
    [{ type: 'all' }, 7],
    [{ type: 'one' }, 1],
    [{ type: 'fixed', value: 3 }, 3],
    [{ type: 'fixed', value: 30 }, 7],
    [{ type: 'fixed-percent', value: 50 }, 3],
  ])('%j targets %d pods, distinct and sorted', (mode, n) => {
    const targets = selectTargets(candidates, mode, new SeededRandom(1));
    expect(targets).toHaveLength(n);
    expect(new Set(targets).size).toBe(n);
    expect([...targets].sort()).toEqual(targets);
  });
  it('is reproducible for a seed and varies across seeds', () => {
    const pick = (seed: number) =>
      selectTargets(candidates, { type: 'fixed', value: 2 }, new SeededRandom(seed)).join();
    expect(pick(3)).toBe(pick(3));
    expect(new Set([1, 2, 3, 4, 5, 6, 7, 8].map(pick)).size).toBeGreaterThan(1);
  });
});

describe('ChaosExperiment lifecycle', () => {
  it('starts Running with targets fixed at start, delivers faults to them only, completes after duration', async () => {
    const t = setup(spec());
    const first = await t.reconcile('shop/drill', never);
    expect(t.status()).toMatchObject({
      phase: 'Running',
      startTime: '2026-01-01T12:00:00Z',
      matchedPods: 4,
    });
    expect(t.status().targets).toHaveLength(2);
    expect(first).toEqual({ requeueAfterMs: 60_000 });
    await t.configs('shop', never);
    expect(faultedPods(t.api)).toEqual(t.status().targets);

    // A new matching pod does not join a running experiment.
    t.api.putPod(kubePod('inventory-9', { app: 'inventory' }));
    t.clock.advance(30_000);
    expect(await t.reconcile('shop/drill', never)).toEqual({ requeueAfterMs: 30_000 });
    expect(t.status().targets).toHaveLength(2);

    t.clock.advance(30_000);
    await t.reconcile('shop/drill', never);
    expect(t.status()).toMatchObject({ phase: 'Completed', endTime: '2026-01-01T12:01:00Z' });
    await t.configs('shop', never);
    expect(faultedPods(t.api)).toEqual([]);
    t.api.takeWrites();
    t.clock.advance(600_000);
    expect(await t.reconcile('shop/drill', never)).toBeUndefined();
    expect(t.api.takeWrites()).toEqual([]);
  });

  it('pauses (faults withdrawn) and resumes without extending the run', async () => {
    const t = setup(spec());
    await t.reconcile('shop/drill', never);
    const drill = t.api.resources.get('ChaosExperiment')?.get('drill', 'shop');
    t.api.putResource({ ...drill!, spec: spec({ paused: true }) } as never);
    t.clock.advance(10_000);
    expect(await t.reconcile('shop/drill', never)).toEqual({ requeueAfterMs: 50_000 });
    expect(t.status().phase).toBe('Paused');
    await t.configs('shop', never);
    expect(faultedPods(t.api)).toEqual([]);
    t.api.putResource({
      ...t.api.resources.get('ChaosExperiment')!.get('drill', 'shop')!,
      spec: spec(),
    } as never);
    await t.reconcile('shop/drill', never);
    expect(t.status().phase).toBe('Running');
    expect(t.status().startTime).toBe('2026-01-01T12:00:00Z');
  });

  it('deleting a running experiment withdraws its faults', async () => {
    const t = setup(spec());
    await t.reconcile('shop/drill', never);
    await t.configs('shop', never);
    expect(faultedPods(t.api)).toHaveLength(2);
    t.api.resources
      .get('ChaosExperiment')
      ?.remove({ metadata: { namespace: 'shop', name: 'drill' } });
    await t.configs('shop', never);
    expect(faultedPods(t.api)).toEqual([]);
  });

  it('stays Pending with NoMatchingPods while nothing is selected', async () => {
    const t = setup(spec(), 0);
    await t.reconcile('shop/drill', never);
    expect(t.status()).toMatchObject({ phase: 'Pending', matchedPods: 0 });
    expect(t.status().conditions?.[0]).toMatchObject({
      type: 'Ready',
      status: 'False',
      reason: 'NoMatchingPods',
    });
  });
});

describe('podKill', () => {
  const killSpec = spec({
    mode: { type: 'all' },
    faults: [{ type: 'podKill', count: 1, interval: '10s', gracePeriodSeconds: 0 }],
    allowQuorumLoss: true,
  });

  it('kills one target per interval, writing status before each delete, never twice per round', async () => {
    const t = setup(killSpec, 3);
    expect(await t.reconcile('shop/drill', never)).toEqual({ requeueAfterMs: 10_000 });
    const writes = t.api.takeWrites();
    expect(writes.map((w) => w.op)).toEqual(['applyStatus', 'deletePod']);
    expect(writes[1]).toMatchObject({ gracePeriodSeconds: 0 });
    expect(t.status().injected).toEqual({ podKill: 1 });
    await t.reconcile('shop/drill', never);
    expect(t.api.takeWrites().filter((w) => w.op === 'deletePod')).toEqual([]);
    t.clock.advance(10_000);
    await t.reconcile('shop/drill', never);
    expect(t.api.takeWrites().filter((w) => w.op === 'deletePod')).toHaveLength(1);
    expect(t.api.pods.size).toBe(1);
  });

  it('planPodKill refuses to take a Raft group below a majority of ready voters', () => {
    const members = [1, 2, 3].map((i) => pod(`db-${i}`, { app: 'db' }));
    const groups = new Map([['shop/db', planRaftGroup('shop/db', 'shop', members, 15010)]]);
    const state = {
      start: 0,
      now: 0,
      killedSoFar: 0,
      targets: ['db-1', 'db-2', 'db-3'],
      pods: members,
      raftGroups: groups,
      random: new SeededRandom(1),
    };
    const fault = { type: 'podKill' as const, count: 3 };
    expect(planPodKill(fault, { ...state, allowQuorumLoss: false }).victims).toHaveLength(1);
    expect(planPodKill(fault, { ...state, allowQuorumLoss: true }).victims).toEqual([
      'db-1',
      'db-2',
      'db-3',
    ]);
  });

  it('planPodKill without interval kills once; rounds follow the kill count', () => {
    const members = [1, 2, 3].map((i) => pod(`w-${i}`, {}));
    const base = {
      start: 0,
      targets: ['w-1', 'w-2', 'w-3'],
      pods: members,
      raftGroups: new Map(),
      allowQuorumLoss: false,
      random: new SeededRandom(2),
    };
    expect(
      planPodKill({ type: 'podKill', count: 2 }, { ...base, now: 0, killedSoFar: 0 }).victims,
    ).toHaveLength(2);
    expect(
      planPodKill({ type: 'podKill', count: 2 }, { ...base, now: 99_000, killedSoFar: 2 }).victims,
    ).toEqual([]);
    expect(
      planPodKill(
        { type: 'podKill', count: 1, interval: '10s' },
        { ...base, now: 25_000, killedSoFar: 1 },
      ),
    ).toMatchObject({
      victims: [expect.any(String)],
      nextRoundInMs: 5_000,
    });
  });
});
