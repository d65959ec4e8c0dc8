import { describe, expect, it } from '@jest/globals';
import type { ChaosExperimentSpec } from '@palisade/crds';
import { ManualScheduler } from '../core/clock.js';
import { SeededRandom } from '../core/random.js';
import { pod } from '../compiler/fixtures.js';
import { FakeKubeApi } from '../testing/fake-kube-api.js';
import { kubeChaos, kubePod, testInstallation } from '../testing/builders.js';
import type { PodInfo } from '../compiler/types.js';
import { ChaosObserver } from './chaos-observer.js';
import type { SidecarMetricsReader } from './sidecar-scrape.js';
import { MAX_RUN_HISTORY, planPodKill, selectTargets } from './chaos-planner.js';
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

/** Sidecar metrics as a test sets them: Prometheus text by pod name (absent: not answering). */
class MetricsBoard implements SidecarMetricsReader {
  readonly texts = new Map<string, string>();
  read(pod: PodInfo): Promise<string> {
    const text = this.texts.get(pod.name);
    return text === undefined ? Promise.reject(new Error('down')) : Promise.resolve(text);
  }
}

function setup(chaosSpec: ChaosExperimentSpec, pods = 4) {
  const api = new FakeKubeApi();
  const clock = new ManualScheduler(T0);
  const compiler = new NamespaceCompiler({ api, installation: testInstallation, memoize: false });
  const metrics = new MetricsBoard();
  // A fresh reconciler is a restarted operator: it shares nothing with the last one but status.
  const restart = () =>
    createChaosReconciler({
      api,
      compiler,
      clock,
      random: new SeededRandom(7),
      observer: new ChaosObserver({ reader: metrics, clock }),
    });
  const reconcile = restart();
  const configs = createConfigsReconciler({ api, compiler, clock });
  for (let i = 1; i <= pods; i++) api.putPod(kubePod(`inventory-${i}`, { app: 'inventory' }));
  api.putResource(kubeChaos('drill', chaosSpec));
  const status = () =>
    api.resources.get('ChaosExperiment')?.get('drill', 'shop')?.status as ChaosStatus;
  return { api, clock, reconcile, restart, configs, status, metrics };
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
      roundsDone: 0,
      candidates: ['db-1', 'db-2', 'db-3'],
      noCandidateReason: 'none',
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
    // One voter already down: the guard spares the others and the round is skipped, saying why.
    const oneDown = members.map((m) => (m.name === 'db-3' ? { ...m, ready: false } : m));
    expect(
      planPodKill(
        { type: 'podKill', count: 1 },
        { ...state, candidates: ['db-1'], pods: oneDown, allowQuorumLoss: false },
      ),
    ).toEqual({
      due: true,
      victims: [],
      skipReason: expect.stringContaining('db-1 (Raft group shop/db: 2 of 3 voters ready)'),
    });
  });

  it('planPodKill: one round at start and one per interval, counted whether it killed or not', () => {
    const members = [1, 2, 3].map((i) => pod(`w-${i}`, {}));
    const base = {
      start: 0,
      candidates: ['w-1', 'w-2', 'w-3'],
      noCandidateReason: 'nothing to kill',
      pods: members,
      raftGroups: new Map(),
      allowQuorumLoss: false,
      random: new SeededRandom(2),
    };
    expect(
      planPodKill({ type: 'podKill', count: 2 }, { ...base, now: 0, roundsDone: 0 }),
    ).toMatchObject({ due: true, victims: [expect.any(String), expect.any(String)] });
    // Without interval there is one round only.
    expect(
      planPodKill({ type: 'podKill', count: 2 }, { ...base, now: 99_000, roundsDone: 1 }),
    ).toEqual({ due: false, victims: [] });
    const every10s = { type: 'podKill' as const, count: 1, interval: '10s' };
    expect(planPodKill(every10s, { ...base, now: 25_000, roundsDone: 1 })).toMatchObject({
      due: true,
      victims: [expect.any(String)],
      nextRoundInMs: 5_000,
    });
    expect(planPodKill(every10s, { ...base, now: 25_000, roundsDone: 3 })).toEqual({
      due: false,
      victims: [],
      nextRoundInMs: 5_000,
    });
    // Candidates that are gone (killed earlier, replaced by new pods) leave the round empty.
    expect(
      planPodKill(every10s, { ...base, now: 25_000, roundsDone: 2, candidates: ['w-9'] }),
    ).toEqual({ due: true, victims: [], skipReason: 'nothing to kill', nextRoundInMs: 5_000 });
  });
});

describe('podKill target raftLeader', () => {
  const leaderSpec = spec({
    mode: { type: 'all' },
    faults: [
      { type: 'podKill', target: 'raftLeader', count: 1, interval: '10s', gracePeriodSeconds: 0 },
    ],
  });
  const raftMetrics = (role: string, term: number) =>
    ['leader', 'candidate', 'follower']
      .map((r) => `palisade_raft_role{role="${r}"} ${r === role ? 1 : 0}`)
      .concat(`palisade_raft_term ${term}`)
      .join('\n');
  const deleted = (t: ReturnType<typeof setup>) =>
    t.api
      .takeWrites()
      .filter((w) => w.op === 'deletePod')
      .map((w) => (w as { name: string }).name);

  it('kills the pod whose sidecar leads the group each round, re-resolved among the pods selected then', async () => {
    const t = setup(leaderSpec, 3);
    t.metrics.texts.set('inventory-1', raftMetrics('follower', 4));
    t.metrics.texts.set('inventory-2', raftMetrics('leader', 4));
    t.metrics.texts.set('inventory-3', raftMetrics('follower', 4));
    expect(await t.reconcile('shop/drill', never)).toEqual({ requeueAfterMs: 10_000 });
    expect(deleted(t)).toEqual(['inventory-2']);
    expect(t.status()).toMatchObject({
      phase: 'Running',
      injected: { podKill: 1 },
      podKillRounds: { done: 1, skipped: 0 },
    });
    // The Deployment replaces it; a pod that was not a target at the start now leads.
    t.api.putPod(kubePod('inventory-4', { app: 'inventory' }));
    t.metrics.texts.delete('inventory-2');
    t.metrics.texts.set('inventory-3', raftMetrics('leader', 5));
    t.metrics.texts.set('inventory-4', raftMetrics('follower', 5));
    t.metrics.texts.set('inventory-1', raftMetrics('follower', 5));
    await t.reconcile('shop/drill', never);
    expect(deleted(t)).toEqual([]);
    t.clock.advance(10_000);
    await t.reconcile('shop/drill', never);
    expect(deleted(t)).toEqual(['inventory-3']);
    expect(t.status()).toMatchObject({
      injected: { podKill: 2 },
      podKillRounds: { done: 2, skipped: 0 },
    });
  });

  it('skips a round with no observable leader and says so in status', async () => {
    const t = setup(leaderSpec, 3);
    // An election under way: the pod still claiming leadership is behind a higher term.
    t.metrics.texts.set('inventory-1', raftMetrics('leader', 4));
    t.metrics.texts.set('inventory-2', raftMetrics('candidate', 5));
    await t.reconcile('shop/drill', never);
    expect(deleted(t)).toEqual([]);
    expect(t.status()).toMatchObject({
      phase: 'Running',
      injected: {},
      podKillRounds: {
        done: 1,
        skipped: 1,
        lastSkipReason: 'no Raft leader observed among the selected pods',
      },
    });
    // Not retried within the round: the next chance is the next interval.
    t.metrics.texts.set('inventory-2', raftMetrics('leader', 5));
    await t.reconcile('shop/drill', never);
    expect(deleted(t)).toEqual([]);
    t.clock.advance(10_000);
    await t.reconcile('shop/drill', never);
    expect(deleted(t)).toEqual(['inventory-2']);
    expect(t.status().podKillRounds).toMatchObject({ done: 2, skipped: 1 });
  });

  it('keeps the quorum guard: a leader that is the only voter left is spared', async () => {
    const t = setup(leaderSpec, 3);
    t.metrics.texts.set('inventory-1', raftMetrics('follower', 2));
    t.metrics.texts.set('inventory-2', raftMetrics('leader', 2));
    t.metrics.texts.set('inventory-3', raftMetrics('follower', 2));
    await t.reconcile('shop/drill', never);
    expect(deleted(t)).toEqual(['inventory-2']);
    // The replacement is not ready yet: two ready pods make a group of one voter (the oldest),
    // and it leads; killing it would leave the group without a majority.
    t.api.putPod(kubePod('inventory-4', { app: 'inventory' }, { ready: false }));
    t.metrics.texts.delete('inventory-2');
    t.metrics.texts.set('inventory-1', raftMetrics('leader', 3));
    t.metrics.texts.set('inventory-3', raftMetrics('follower', 3));
    t.clock.advance(10_000);
    await t.reconcile('shop/drill', never);
    expect(deleted(t)).toEqual([]);
    expect(t.status().podKillRounds).toEqual({
      done: 2,
      skipped: 1,
      lastSkipReason:
        'killing would leave a Raft group without a majority of ready voters: ' +
        'inventory-1 (Raft group shop/inventory: 1 of 1 voters ready)',
    });
  });
});

describe('schedule', () => {
  it('waits for the first tick, runs, keeps a bounded history, starts again at the next tick', async () => {
    const t = setup(spec({ schedule: '*/15 * * * *', duration: '60s' }));
    // Created at 00:00; the ticks missed before 12:02 are skipped: the next one is 12:15.
    t.clock.advance(2 * 60_000);
    expect(await t.reconcile('shop/drill', never)).toEqual({ requeueAfterMs: 13 * 60_000 });
    expect(t.status()).toMatchObject({ phase: 'Pending' });
    expect(t.status().conditions?.[0]).toMatchObject({
      reason: 'Scheduled',
      message: 'next run at 2026-01-01T12:15:00Z',
    });
    t.clock.advance(13 * 60_000);
    for (let run = 1; run <= MAX_RUN_HISTORY + 2; run++) {
      await t.reconcile('shop/drill', never);
      expect(t.status()).toMatchObject({ phase: 'Running' });
      t.clock.advance(60_000);
      await t.reconcile('shop/drill', never);
      expect(t.status().phase).toBe('Completed');
      expect(await t.reconcile('shop/drill', never)).toEqual({ requeueAfterMs: 14 * 60_000 });
      t.clock.advance(14 * 60_000);
    }
    const runs = t.status().runs ?? [];
    expect(runs).toHaveLength(MAX_RUN_HISTORY);
    expect(runs[runs.length - 1]).toEqual({
      startTime: '2026-01-01T15:00:00Z',
      endTime: '2026-01-01T15:01:00Z',
      phase: 'Completed',
    });
  });

  it('starts no new run while paused, and reports a schedule that cannot be parsed', async () => {
    const t = setup(spec({ schedule: '*/15 * * * *', paused: true }));
    t.clock.advance(60 * 60_000);
    await t.reconcile('shop/drill', never);
    expect(t.status().phase).toBe('Pending');
    const bad = setup(spec({ schedule: '*/15 * * 13 *' }));
    await bad.reconcile('shop/drill', never);
    expect(bad.status().conditions?.[0]).toMatchObject({
      status: 'False',
      reason: 'InvalidSchedule',
      message: 'spec.schedule: month "13": out of range 1-12',
    });
  });
});

describe('guards', () => {
  const breakerOpen = (state: 0 | 1) =>
    `palisade_circuit_breaker_state{breaker="shop/payments",target="payments"} ${state}\n`;
  const requests = (ok: number, failed: number) =>
    `palisade_requests_total{direction="inbound",route="default",code="200"} ${ok}\n` +
    `palisade_requests_total{direction="inbound",route="default",code="503"} ${failed}\n`;

  it('refuses to partition a majority of Raft voters unless allowQuorumLoss', async () => {
    const partition = spec({
      mode: { type: 'fixed', value: 2 },
      faults: [{ type: 'partition', target: 'raft' }],
    });
    const t = setup(partition, 3);
    await t.reconcile('shop/drill', never);
    expect(t.status().phase).toBe('Pending');
    expect(t.status().conditions?.[0]).toMatchObject({
      status: 'False',
      reason: 'QuorumLossRefused',
    });
    const drill = t.api.resources.get('ChaosExperiment')!.get('drill', 'shop')!;
    t.api.putResource({ ...drill, spec: { ...partition, allowQuorumLoss: true } } as never);
    await t.reconcile('shop/drill', never);
    expect(t.status()).toMatchObject({ phase: 'Running', injected: { partition: 2 } });
  });

  it('aborts when the named breaker opens, withdraws the faults, and says why', async () => {
    const t = setup(spec({ abortWhen: { circuitBreakerOpens: 'payments' } }));
    await t.reconcile('shop/drill', never);
    for (let i = 1; i <= 4; i++) t.metrics.texts.set(`inventory-${i}`, breakerOpen(0));
    expect(await t.reconcile('shop/drill', never)).toEqual({ requeueAfterMs: 2000 });
    expect(t.status().phase).toBe('Running');
    t.metrics.texts.set('inventory-3', breakerOpen(1));
    t.clock.advance(2000);
    await t.reconcile('shop/drill', never);
    expect(t.status()).toMatchObject({ phase: 'Aborted', endTime: '2026-01-01T12:00:02Z' });
    expect(t.status().conditions?.[0]).toMatchObject({
      type: 'Ready',
      status: 'False',
      reason: 'CircuitBreakerOpened',
    });
    await t.configs('shop', never);
    expect(faultedPods(t.api)).toEqual([]);
  });

  it('aborts on the error ratio of the targets over the window, also after an operator restart', async () => {
    const t = setup(spec({ mode: { type: 'all' }, abortWhen: { errorRatio: 0.5, window: '10s' } }));
    await t.reconcile('shop/drill', never);
    const all = (ok: number, failed: number) => {
      for (let i = 1; i <= 4; i++) t.metrics.texts.set(`inventory-${i}`, requests(ok, failed));
    };
    all(100, 0);
    await t.reconcile('shop/drill', never);
    t.clock.advance(2000);
    all(200, 90); // 90 of 190 new requests failed: below 0.5
    await t.reconcile('shop/drill', never);
    expect(t.status().phase).toBe('Running');
    const restarted = t.restart(); // its first scrape is a new baseline
    t.clock.advance(2000);
    await restarted('shop/drill', never);
    t.clock.advance(2000);
    all(210, 190); // +10 ok, +100 failed per pod
    await restarted('shop/drill', never);
    expect(t.status().phase).toBe('Aborted');
    expect(t.status().conditions?.[0]).toMatchObject({
      reason: 'ErrorRatioExceeded',
      message: 'abortWhen: 400 of 440 requests failed (5xx) over 10s: 0.909 ≥ 0.5',
    });
  });
});

describe('expectations', () => {
  it('latches a breaker opening and 429s in status and ends Verified True', async () => {
    const t = setup(
      spec({
        expect: [{ type: 'circuitOpens', circuitBreaker: 'payments' }, { type: 'rateLimited' }],
      }),
    );
    await t.reconcile('shop/drill', never);
    t.metrics.texts.set('inventory-1', 'palisade_rate_limited_total{policy="shop/l",rule="r"} 0\n');
    await t.reconcile('shop/drill', never);
    expect(t.status().conditions?.find((c) => c.type === 'Verified')).toMatchObject({
      status: 'Unknown',
      reason: 'Observing',
    });
    t.clock.advance(2000);
    t.metrics.texts.set(
      'inventory-1',
      'palisade_rate_limited_total{policy="shop/l",rule="r"} 3\n' +
        'palisade_circuit_breaker_state{breaker="shop/payments",target="p"} 1\n',
    );
    await t.reconcile('shop/drill', never);
    // The breaker closes again and the operator restarts: what was seen stays seen.
    t.metrics.texts.set(
      'inventory-1',
      'palisade_circuit_breaker_state{breaker="shop/payments",target="p"} 0\n',
    );
    const restarted = t.restart();
    t.clock.advance(58_000);
    await restarted('shop/drill', never);
    expect(t.status().phase).toBe('Completed');
    expect(t.status().expectations).toEqual([
      {
        type: 'circuitOpens',
        subject: 'payments',
        met: true,
        observedTime: '2026-01-01T12:00:02Z',
        message: 'CircuitBreaker payments opened',
      },
      {
        type: 'rateLimited',
        met: true,
        observedTime: '2026-01-01T12:00:02Z',
        message: '3 requests answered 429',
      },
    ]);
    expect(t.status().conditions?.find((c) => c.type === 'Verified')).toMatchObject({
      status: 'True',
      reason: 'ExpectationsMet',
    });
  });

  it('sees a lease change holder on the targets, within the bound or late', async () => {
    const changes = (n: number) => `palisade_lease_holder_changes_total{lease="jobs"} ${n}\n`;
    const run = async (changedAfterMs: number) => {
      const t = setup(
        spec({
          mode: { type: 'all' },
          expect: [{ type: 'leaseChangesHolder', lease: 'jobs', within: '5s' }],
        }),
      );
      await t.reconcile('shop/drill', never);
      for (let i = 1; i <= 4; i++) t.metrics.texts.set(`inventory-${i}`, changes(2));
      await t.reconcile('shop/drill', never); // baseline: changes before the run do not count
      t.clock.advance(changedAfterMs);
      // One member restarted and counts less: the max over the targets still shows the change.
      t.metrics.texts.set('inventory-1', changes(0));
      t.metrics.texts.set('inventory-3', changes(3));
      await t.reconcile('shop/drill', never);
      return t.status().expectations?.[0];
    };
    expect(await run(4000)).toEqual({
      type: 'leaseChangesHolder',
      subject: 'jobs',
      met: true,
      observedTime: '2026-01-01T12:00:04Z',
      message: 'lease jobs changed holder 4.0 s after the start',
    });
    expect(await run(7000)).toEqual({
      type: 'leaseChangesHolder',
      subject: 'jobs',
      met: false,
      message: 'lease jobs changed holder 7.0 s after the start, later than within 5s',
    });
  });

  it('ends Verified False naming what was not seen', async () => {
    const t = setup(
      spec({
        expect: [
          { type: 'sagasTerminal' },
          { type: 'leaseChangesHolder', lease: 'l', within: '5s' },
        ],
      }),
    );
    await t.reconcile('shop/drill', never);
    t.metrics.texts.set(
      'inventory-2',
      'palisade_saga_instances{saga="shop/o",state="Compensating"} 1\n',
    );
    t.clock.advance(60_000);
    await t.reconcile('shop/drill', never);
    expect(t.status().conditions?.find((c) => c.type === 'Verified')).toEqual(
      expect.objectContaining({
        status: 'False',
        reason: 'ExpectationsNotMet',
        message:
          'sagasTerminal: 1 saga instances left running or compensating; leaseChangesHolder l: lease l did not change holder within 5s',
      }),
    );
  });
});
