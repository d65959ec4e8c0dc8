import { describe, expect, it } from '@jest/globals';
import { MAX_PEERS, compareByAge, planRaftGroup, raftGroupOf } from './raft-peers.js';
import type { PodInfo } from './types.js';

function pod(name: string, minute: number, extra: Partial<PodInfo> = {}): PodInfo {
  return {
    namespace: 'shop',
    name,
    labels: { app: 'orders' },
    creationTimestamp: `2026-01-01T00:${String(minute).padStart(2, '0')}:00Z`,
    ready: true,
    podIP: `10.0.0.${minute + 1}`,
    ...extra,
  };
}

describe('raftGroupOf', () => {
  it('prefers palisade.dev/raft-group, then app.kubernetes.io/name, then app', () => {
    expect(
      raftGroupOf('shop', {
        app: 'a',
        'app.kubernetes.io/name': 'b',
        'palisade.dev/raft-group': 'c',
      }),
    ).toBe('shop/c');
    expect(raftGroupOf('shop', { app: 'a', 'app.kubernetes.io/name': 'b' })).toBe('shop/b');
    expect(raftGroupOf('shop', { app: 'a' })).toBe('shop/a');
    expect(raftGroupOf('shop', { tier: 'x' })).toBeUndefined();
  });
  it('normalises label values into valid group names', () => {
    expect(raftGroupOf('shop', { app: 'My_App' })).toBe('shop/my-app');
  });
});

describe('planRaftGroup', () => {
  it('makes the 5 oldest ready pods voters and the rest learners', () => {
    const members = [0, 1, 2, 3, 4, 5, 6].map((m) => pod(`p${m}`, m)).reverse();
    const plan = planRaftGroup('shop/orders', 'shop', members, 15010);
    expect(plan.voters).toEqual(['p0', 'p1', 'p2', 'p3', 'p4']);
    expect(plan.peers.filter((p) => !p.voter).map((p) => p.id)).toEqual(['p5', 'p6']);
    expect(plan.peers.map((p) => p.id)).toEqual(['p0', 'p1', 'p2', 'p3', 'p4', 'p5', 'p6']);
    expect(plan.peers[0]).toEqual({ id: 'p0', address: '10.0.0.1:15010', voter: true });
  });

  it(`lists at most ${MAX_PEERS} peers: the voters and the oldest learners`, () => {
    const members = Array.from({ length: MAX_PEERS + 5 }, (_, i) =>
      pod(`p${String(i).padStart(4, '0')}`, 0, { podIP: `10.1.${i >> 8}.${i & 255}` }),
    ).reverse();
    const plan = planRaftGroup('shop/orders', 'shop', members, 15010);
    expect(plan.peers).toHaveLength(MAX_PEERS);
    expect(plan.voters).toEqual(['p0000', 'p0001', 'p0002', 'p0003', 'p0004']);
    expect(plan.peers.filter((p) => p.voter)).toHaveLength(5);
    const listed = new Set(plan.peers.map((p) => p.id));
    expect([...Array(5)].map((_, i) => listed.has(`p${MAX_PEERS + i}`))).toEqual(
      Array(5).fill(false),
    );
  });

  it('skips unready pods when choosing voters and keeps them as learners', () => {
    const members = [pod('a', 0, { ready: false }), pod('b', 1), pod('c', 2), pod('d', 3)];
    const plan = planRaftGroup('shop/orders', 'shop', members, 15010);
    expect(plan.voters).toEqual(['b', 'c', 'd']);
    expect(plan.peers.find((p) => p.id === 'a')?.voter).toBe(false);
  });

  it('uses an odd voter count: 4 ready pods give 3 voters, 2 give 1', () => {
    expect(
      planRaftGroup(
        'g/g',
        'g',
        [0, 1, 2, 3].map((m) => pod(`p${m}`, m)),
        1,
      ).voters,
    ).toHaveLength(3);
    expect(
      planRaftGroup(
        'g/g',
        'g',
        [0, 1].map((m) => pod(`p${m}`, m)),
        1,
      ).voters,
    ).toEqual(['p0']);
    expect(planRaftGroup('g/g', 'g', [pod('x', 0, { ready: false })], 1).voters).toEqual([]);
  });

  it('respects a lower maxVoters', () => {
    expect(
      planRaftGroup(
        'g/g',
        'g',
        [0, 1, 2, 3, 4].map((m) => pod(`p${m}`, m)),
        1,
        3,
      ).voters,
    ).toEqual(['p0', 'p1', 'p2']);
  });

  it('breaks creation-time ties by name and leaves out pods without an IPv4 address', () => {
    const members = [
      pod('b', 0),
      pod('a', 0),
      pod('noip', 0, { podIP: undefined }),
      pod('v6', 0, { podIP: 'fd00::1' }),
    ];
    const plan = planRaftGroup('g/g', 'g', members, 15010);
    expect(plan.peers.map((p) => p.id)).toEqual(['a', 'b']);
    expect(plan.voters).toEqual(['a']);
    expect(compareByAge(pod('a', 1), pod('b', 0))).toBeGreaterThan(0);
  });
});
