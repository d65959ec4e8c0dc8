/**
 * Raft among 3 member processes, each in its own network namespace, under real network faults
 * while clients (one per namespace, talking to their own member's admin API) hammer
 * acquire/renew/release: latency and loss (tc netem 50 ms, 5 %), the leader cut off by iptables
 * (both ways), a one-way partition (inbound only), and a leader SIGKILL with restart. The recorded
 * history is checked for mutual exclusion and token order.
 *
 * Needs root (ip netns, iptables, tc) and `npx tsc -b` first.
 */
import { expect, jest, test } from '@jest/globals';
import { useNetnsLeaseScenario, whenGranting } from './support/netns-lease-scenario.js';

jest.setTimeout(90_000);

const scenario = useNetnsLeaseScenario(3);

test('leases stay exclusive under netem, partitions and a leader kill', () =>
  scenario.run({
    durationMs: 30_000,
    async faults({ cluster: c, lab: l, ids, hostOf, phase, hold }) {
      phase('leader cut off');
      const cut = (await c.waitForLeader(15_000)).leader;
      await l.partition(hostOf(cut), 'both');
      const others = ids.filter((id) => id !== cut);
      const second = await c.waitForLeader(15_000, others);
      expect(second.leader).not.toBe(cut);
      await whenGranting(c, second.leader);
      await hold(3_000);
      await l.heal(hostOf(cut));
      // The healed member hears the leader within the transport's silence timeout plus a
      // reconnect backoff (< 4 s), not after TCP's retransmission backoff (3-13 s, or more).
      const healedAt = performance.now();
      phase('one-way partition');
      const oneWay = (await c.waitForLeader(8_000)).leader;
      process.stderr.write(
        `netns 3: every member agreed on the leader ${Math.round(performance.now() - healedAt)} ms after the heal\n`,
      );
      await l.partition(hostOf(oneWay), 'in');
      const third = await c.waitForLeader(
        15_000,
        ids.filter((id) => id !== oneWay),
      );
      await whenGranting(c, third.leader);
      await hold(3_000);
      await l.heal(hostOf(oneWay));
    },
  }));
