import { describe, expect, it } from '@jest/globals';
import { pod } from '../compiler/fixtures.js';
import type { RaftGroupPlan } from '../compiler/types.js';
import { noSagaInstances, readSagaInstanceCounts, sagaScrapeTargets } from './saga-instances.js';
import { emptySample, type SidecarSample } from './sidecar-metrics.js';

/** A Raft member's sample: applied index, role, and `shop/order` instances by state. */
function member(
  appliedIndex: number | undefined,
  states: Record<string, number>,
  role = 'follower',
): SidecarSample {
  return {
    ...emptySample(),
    raft: { role, term: 3 },
    ...(appliedIndex === undefined ? {} : { raftAppliedIndex: appliedIndex }),
    sagaInstances: new Map([['shop/order', new Map(Object.entries(states))]]),
  };
}

describe('readSagaInstanceCounts', () => {
  it('believes the member that applied the most of the log, not a per-state maximum', () => {
    const reading = readSagaInstanceCounts(
      'shop/order',
      new Map([
        // Lagging: two instances still Running there.
        ['orders-1', member(40, { Running: 2, Completed: 5 }, 'leader')],
        ['orders-2', member(44, { Running: 0, Completed: 6, Compensated: 1 })],
        ['orders-3', member(42, { Running: 1, Completed: 6 })],
      ]),
    );
    expect(reading).toEqual({
      pod: 'orders-2',
      appliedIndex: 44,
      counts: { ...noSagaInstances(), completed: 6, compensated: 1 },
    });
  });

  it('maps every sidecar state to its status field', () => {
    const reading = readSagaInstanceCounts(
      'shop/order',
      new Map([
        [
          'orders-1',
          member(9, {
            Running: 1,
            Completed: 2,
            Compensating: 3,
            Compensated: 4,
            Failed: 5,
            NeedsAttention: 6,
          }),
        ],
      ]),
    );
    expect(reading?.counts).toEqual({
      running: 1,
      completed: 2,
      compensating: 3,
      compensated: 4,
      failed: 5,
      needsAttention: 6,
    });
  });

  it('on equal applied indexes prefers the leader, then the first pod by name', () => {
    const tie = (leader: string | undefined) =>
      readSagaInstanceCounts(
        'shop/order',
        new Map(
          ['orders-3', 'orders-1', 'orders-2'].map((name) => [
            name,
            member(7, { Completed: 1 }, name === leader ? 'leader' : 'follower'),
          ]),
        ),
      )?.pod;
    expect(tie('orders-2')).toBe('orders-2');
    expect(tie(undefined)).toBe('orders-1');
  });

  it('reads zero for a member that has no series of the saga (no instance of it)', () => {
    const sample = { ...emptySample(), raftAppliedIndex: 3 };
    expect(readSagaInstanceCounts('shop/order', new Map([['orders-1', sample]]))?.counts).toEqual(
      noSagaInstances(),
    );
  });

  it('believes no sample without an applied index or with a count that is no count', () => {
    expect(
      readSagaInstanceCounts(
        'shop/order',
        new Map([
          ['no-raft', member(undefined, { Completed: 100 })],
          ['negative', member(50, { Completed: -1 })],
          ['fraction', member(50, { Completed: 1.5 })],
        ]),
      ),
    ).toBeUndefined();
    // A state it does not know (a newer sidecar) is ignored, not a reason to distrust the rest.
    expect(
      readSagaInstanceCounts(
        'shop/order',
        new Map([['orders-1', member(5, { Completed: 2, Paused: 1 })]]),
      )?.counts,
    ).toEqual({ ...noSagaInstances(), completed: 2 });
  });
});

describe('sagaScrapeTargets', () => {
  const plan: RaftGroupPlan = {
    group: 'shop/orders',
    namespace: 'shop',
    peers: [],
    voters: ['orders-1', 'orders-2', 'orders-3', 'orders-4', 'orders-5'],
  };
  it('scrapes the voters that have an IP and are not terminating, oldest first, at most max', () => {
    const pods = [
      pod('orders-6', {}), // a learner
      pod('orders-5', {}),
      pod('orders-4', {}, { terminating: true }),
      pod('orders-3', {}),
      pod('orders-2', {}, { podIP: '' }),
      pod('orders-1', {}),
    ];
    expect(sagaScrapeTargets(plan, pods, 5).map((p) => p.name)).toEqual([
      'orders-1',
      'orders-3',
      'orders-5',
    ]);
    expect(sagaScrapeTargets(plan, pods, 2).map((p) => p.name)).toEqual(['orders-1', 'orders-3']);
  });
});
