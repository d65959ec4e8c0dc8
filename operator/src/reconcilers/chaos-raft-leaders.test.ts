import { describe, expect, it } from '@jest/globals';
import { pod } from '../compiler/fixtures.js';
import type { RaftRoleSample } from './sidecar-metrics.js';
import { observedRaftLeaders } from './chaos-raft-leaders.js';

const pods = [
  pod('db-1', { app: 'db' }),
  pod('db-2', { app: 'db' }),
  pod('db-3', { app: 'db' }),
  pod('cache-1', { app: 'cache' }),
  pod('cache-2', { app: 'cache' }),
  pod('lonely-1', {}),
];
const roles = (entries: [string, string, number][]) =>
  new Map<string, RaftRoleSample>(entries.map(([name, role, term]) => [name, { role, term }]));

describe('observedRaftLeaders', () => {
  it('names the leader of each group, by group', () => {
    expect(
      observedRaftLeaders(
        pods,
        roles([
          ['db-1', 'follower', 3],
          ['db-2', 'leader', 3],
          ['db-3', 'follower', 3],
          ['cache-1', 'leader', 9],
          ['cache-2', 'follower', 9],
        ]),
      ),
    ).toEqual(
      new Map([
        ['shop/db', 'db-2'],
        ['shop/cache', 'cache-1'],
      ]),
    );
  });

  it('sees no leader while a higher term is under way, or with two claimants at the top term', () => {
    const deposed = roles([
      ['db-1', 'leader', 3],
      ['db-2', 'candidate', 4],
    ]);
    expect(observedRaftLeaders(pods, deposed).has('shop/db')).toBe(false);
    const twoClaims = roles([
      ['db-1', 'leader', 4],
      ['db-2', 'leader', 4],
    ]);
    expect(observedRaftLeaders(pods, twoClaims).has('shop/db')).toBe(false);
  });

  it('leaves out pods that answered nothing or belong to no group', () => {
    expect(observedRaftLeaders(pods, roles([['lonely-1', 'leader', 1]]))).toEqual(new Map());
    expect(observedRaftLeaders(pods, new Map())).toEqual(new Map());
  });
});
