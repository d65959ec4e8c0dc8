/**
 * The scenario both network-namespace Raft tests run: N members, each in its own namespace, with
 * one lease client per namespace hammering acquire/renew/release for `durationMs`. Phases: calm,
 * delay + loss on every veth, the test's own partitions, then netem off and a leader SIGKILL with
 * restart. Afterwards the history must show mutual exclusion and token order, every phase must
 * have granted leases, and the restarted member (recovered from its WAL) must serve again.
 *
 * Needs root (ip netns, iptables, tc) and `npx tsc -b` first.
 */
import { afterAll, beforeAll, expect } from '@jest/globals';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  LEASE_CLIENT_JS,
  ProcessCluster,
  pollUntil,
} from '../../src/raft-node/testing/process-cluster.js';
import { monotonicMs } from '../../src/raft-node/testing/lease-client.js';
import { checkLeaseHistory } from './history-checker.js';
import { NetnsLab, labMembers, runLeaseClients, type LabHost } from './netns.js';

/** What the test's own fault phases get. */
export interface FaultContext {
  readonly cluster: ProcessCluster;
  readonly lab: NetnsLab;
  /** Member ids, `n1`…`nN`. */
  readonly ids: readonly string[];
  hostOf(id: string): LabHost;
  /** Marks the start of a phase; every phase must see at least one grant. */
  phase(name: string): void;
  /** Lets the clients run under the current faults for `ms`. */
  hold(ms: number): Promise<void>;
}

/** A scenario bound to one test file's namespaces and processes. */
export interface NetnsLeaseScenario {
  run(options: {
    durationMs: number;
    faults: (context: FaultContext) => Promise<void>;
  }): Promise<void>;
}

const hold = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Creates the namespaces and member processes before the file, removes them after it. */
export function useNetnsLeaseScenario(members: number): NetnsLeaseScenario {
  let lab: NetnsLab | undefined;
  let cluster: ProcessCluster | undefined;
  let dir: string | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'palisade-raft-netns-'));
    lab = await NetnsLab.create(members);
    cluster = new ProcessCluster({ dir, members: labMembers(lab) });
    await cluster.prepare();
    await cluster.startAll();
  });

  afterAll(async () => {
    await cluster?.stopAll();
    await lab?.destroy();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  return {
    async run({ durationMs, faults }) {
      const c = cluster as ProcessCluster;
      const l = lab as NetnsLab;
      const hostOf = (id: string): LabHost => l.hosts[Number(id.slice(1)) - 1] as LabHost;
      const ids = c.members.map((m) => m.id);
      const first = await c.waitForLeader(20_000);

      const startedAt = monotonicMs();
      const clients = runLeaseClients(c.members, LEASE_CLIENT_JS, durationMs);
      const phases: { name: string; at: number }[] = [];
      const phase = (name: string): void => {
        phases.push({ name, at: monotonicMs() });
      };

      await hold(2_000);
      phase('netem');
      for (const id of ids) await l.netem(hostOf(id), '50ms', 5);
      // Which one ran is part of the result: the fallback delays only when packets queue.
      process.stderr.write(
        l.netemUnavailable === undefined
          ? `netns ${members}: delay 50 ms + loss 5 % by tc netem\n`
          : `netns ${members}: tc netem unavailable (${l.netemUnavailable.trim()}); fallback ` +
              `ran: loss 5 % by iptables -m statistic, queueing delay by a tbf rate limit\n`,
      );
      await hold(3_000);

      await faults({ cluster: c, lab: l, ids, hostOf, phase, hold });

      phase('netem off, leader SIGKILL');
      for (const id of ids) await l.clearNetem(hostOf(id));
      const victim = (await c.waitForLeader(15_000)).leader;
      await c.kill(victim);
      const third = await c.waitForLeader(
        15_000,
        ids.filter((id) => id !== victim),
      );
      expect(third.leader).not.toBe(victim);
      await c.start(victim);

      const histories = (await Promise.all(clients)).flat();
      const report = checkLeaseHistory(histories);
      expect(report.violations).toEqual([]);
      // Every phase saw leases granted (the group kept serving), and the run was long enough.
      const perPhase = phases.map((p, i) => {
        const end = phases[i + 1]?.at ?? startedAt + durationMs;
        const grants = histories.filter(
          (e) => e.outcome === 'granted' && e.completedAt >= p.at && e.completedAt < end,
        ).length;
        return { phase: p.name, seconds: Math.round((end - p.at) / 100) / 10, grants };
      });
      // The margin, for whoever reads a failure: grants and length of every phase.
      process.stderr.write(
        `netns ${members}: grants by phase: ${perPhase.map((p) => `${p.phase} ${p.grants} in ${p.seconds} s`).join('; ')}\n`,
      );
      for (const p of perPhase) {
        expect({ phase: p.phase, granted: p.grants > 0 }).toEqual({
          phase: p.phase,
          granted: true,
        });
      }
      const restarted = await pollUntil(`${victim} back in the group`, 15_000, async () => {
        const s = await c.status(victim);
        return s?.leader ? s : undefined;
      });
      expect(restarted.term).toBeGreaterThanOrEqual(third.term);
      // The restarted member (recovered from its WAL) serves requests again.
      const served = await pollUntil(`an acquire through ${victim}`, 15_000, async () => {
        const answer = await c.request(victim, 'POST', '/v1/leases/after-restart/acquire', {
          holder: `app-${victim}`,
          ttl: '1s',
        });
        return answer.status === 200 ? answer : undefined;
      });
      expect(served.body.token).toBeGreaterThan(0);
      expect(first.term).toBeGreaterThanOrEqual(2);
      process.stderr.write(
        `netns ${members}: ${histories.length} operations, ${report.grants} grants, ` +
          `${histories.filter((e) => e.outcome === 'unavailable' || e.outcome === 'error').length} unavailable\n`,
      );
    },
  };
}

/**
 * Resolves once `via` grants a lease (a probe name no client uses). Each phase asserts that the
 * clients were granted leases during it; a phase's hold starts from here, when the group serves
 * again, not from the election: on a loaded host (a CI run) the first grant after an election came
 * late enough that clients got none in a 3 s hold.
 */
export async function whenGranting(cluster: ProcessCluster, via: string): Promise<void> {
  await pollUntil(`a grant through ${via}`, 15_000, async () => {
    const answer = await cluster.request(via, 'POST', '/v1/leases/phase-probe/acquire', {
      holder: 'probe',
      ttl: '1s',
    });
    return answer.status === 200 ? answer : undefined;
  });
}
