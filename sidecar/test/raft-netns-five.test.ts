/**
 * Raft among 5 member processes, each in its own network namespace, under real network faults
 * while clients (one per namespace) hammer acquire/renew/release: delay and loss on every veth,
 * a minority partition holding the leader (leader + one follower cut off by iptables), then a
 * leader SIGKILL with restart. The history is checked for mutual exclusion and token order.
 *
 * Needs root (ip netns, iptables, tc) and `npx tsc -b` first.
 */
import { expect, jest, test } from '@jest/globals';
import { useNetnsLeaseScenario, whenGranting } from './support/netns-lease-scenario.js';

jest.setTimeout(90_000);

const scenario = useNetnsLeaseScenario(5);

test('5 members: leases stay exclusive under loss, a minority partition and a leader kill', () =>
  scenario.run({
    durationMs: 24_000,
    async faults({ cluster: c, lab: l, ids, hostOf, phase, hold }) {
      phase('minority partition with the leader');
      const cut = (await c.waitForLeader(15_000)).leader;
      const minority = [cut, ids.find((id) => id !== cut) as string];
      for (const id of minority) await l.partition(hostOf(id), 'both');
      const majority = ids.filter((id) => !minority.includes(id));
      const second = await c.waitForLeader(15_000, majority);
      expect(minority).not.toContain(second.leader);
      await whenGranting(c, second.leader);
      await hold(5_000);
      for (const id of minority) await l.heal(hostOf(id));
    },
  }));
