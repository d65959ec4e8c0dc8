/**
 * Raft among 5–7 real processes on loopback: at most 5 voters (a sixth listed voter becomes a
 * learner), two voters killed at once (the other three keep a quorum and elect a leader), and
 * membership following the peer list: dead members removed, a learner promoted, a new member
 * joining with an empty data directory and catching up. Needs `npx tsc -b` first.
 */
import { afterAll, beforeAll, expect, jest, test } from '@jest/globals';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ProcessCluster,
  loopbackMembers,
  pollUntil,
  type MemberStatus,
} from '../src/raft-node/testing/process-cluster.js';
import { monotonicMs } from '../src/raft-node/testing/lease-client.js';

jest.setTimeout(90_000);

const FAILOVER_BOUND_MS = 3_000;
let dir: string;
let cluster: ProcessCluster;
const all = loopbackMembers(7);
const initial = all.slice(0, 6);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'palisade-raft-five-'));
  cluster = new ProcessCluster({ dir, members: all });
  await cluster.prepare();
  for (const member of initial) await cluster.writeConfig(member, initial);
  await Promise.all(initial.map((m) => cluster.start(m.id)));
});

afterAll(async () => {
  await cluster?.stopAll();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function suffrage(status: MemberStatus | undefined): Record<string, string> {
  return Object.fromEntries((status?.members ?? []).map((m) => [m.id, m.suffrage]));
}

test('five voters at most; survives losing two; membership follows the peer list', async () => {
  const { leader } = await cluster.waitForLeader(20_000);
  expect(suffrage(await cluster.status(leader))).toEqual({
    n1: 'voter',
    n2: 'voter',
    n3: 'voter',
    n4: 'voter',
    n5: 'voter',
    n6: 'learner',
  });
  const viaLearner = await cluster.request('n6', 'POST', '/v1/leases/jobs/acquire', {
    holder: 'w1',
    ttl: '1s',
  });
  expect(viaLearner.status).toBe(200);
  const firstToken = viaLearner.body.token as number;

  // Two voters die at once, the leader among them: three of five remain, a quorum.
  const victims = [leader, ['n1', 'n2', 'n3', 'n4', 'n5'].find((id) => id !== leader) as string];
  const killedAt = monotonicMs();
  await Promise.all(victims.map((id) => cluster.kill(id)));
  const survivors = initial.map((m) => m.id).filter((id) => !victims.includes(id));
  const elected = await cluster.waitForLeader(15_000, survivors);
  const write = await pollUntil('a write accepted by the new leader', 10_000, async () => {
    const answer = await cluster.request(elected.leader, 'POST', '/v1/leases/failover/acquire', {
      holder: 'w2',
      ttl: '1s',
    });
    return answer.status === 200 ? answer : undefined;
  });
  const failoverMs = monotonicMs() - killedAt;
  expect(failoverMs).toBeLessThan(FAILOVER_BOUND_MS);
  expect(write.body.token).toBeGreaterThan(firstToken);
  process.stderr.write(
    `5 voters, 2 killed: new leader ${elected.leader} accepted a write after ${failoverMs.toFixed(0)} ms\n`,
  );

  // The peer list drops the dead: they are removed and n6, now among the first five, promoted.
  const remaining = initial.filter((m) => !victims.includes(m.id));
  for (const member of remaining) await cluster.writeConfig(member, remaining);
  const shrunk = await pollUntil('dead members removed and n6 promoted', 20_000, async () => {
    const { leader: now } = await cluster.waitForLeader(5_000, survivors);
    const view = suffrage(await cluster.status(now));
    const expected = Object.fromEntries(remaining.map((m) => [m.id, 'voter']));
    return JSON.stringify(view) === JSON.stringify(expected) ? view : undefined;
  });
  expect(Object.keys(shrunk).sort()).toEqual(remaining.map((m) => m.id).sort());

  // A new pod: empty data dir, listed last; it must join (not bootstrap a group of its own).
  const newcomer = all[6] as (typeof all)[number];
  const grown = [...remaining, newcomer];
  await cluster.writeConfig(newcomer, grown);
  await cluster.start(newcomer.id);
  for (const member of remaining) await cluster.writeConfig(member, grown);
  const joined = await pollUntil(`${newcomer.id} added and promoted`, 25_000, async () => {
    const { leader: now } = await cluster.waitForLeader(5_000, survivors);
    const view = suffrage(await cluster.status(now));
    return view[newcomer.id] === 'voter' ? now : undefined;
  });
  const leaderCommit = (await cluster.status(joined))?.commitIndex ?? 0;
  const caughtUp = await pollUntil(`${newcomer.id} catching up`, 15_000, async () => {
    const s = await cluster.status(newcomer.id);
    return s && s.commitIndex >= leaderCommit && s.leader === joined ? s : undefined;
  });
  expect(caughtUp.term).toBeGreaterThanOrEqual(2);
  const throughNewcomer = await cluster.request(newcomer.id, 'POST', '/v1/leases/jobs/acquire', {
    holder: 'w3',
    ttl: '1s',
  });
  expect([200, 409]).toContain(throughNewcomer.status);
});
