/**
 * Discovery of members with an empty data directory, in this process on loopback (issues #5,
 * #9): two newcomers that list three voters must not bootstrap a second group while the
 * running group's member among those voters has not answered (its replies may wait behind a
 * reconnect backoff, here held back by a partition filter). Once it answers, they join it.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RaftNode, type PeerSpec } from '../src/raft-node/index.js';
import { pollUntil } from '../src/raft-node/testing/process-cluster.js';
import { freePort } from './support/sidecar-process.js';

const SECRET = new TextEncoder().encode('discovery-test-secret-0123456789');
const GROUP = 'test/discovery';

let dir: string | undefined;
const nodes: RaftNode[] = [];

afterEach(async () => {
  await Promise.all(nodes.splice(0).map((node) => node.stop()));
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

async function startNode(id: string, port: number, peers: readonly PeerSpec[]): Promise<RaftNode> {
  const node = await RaftNode.start({
    group: GROUP,
    id,
    peers,
    secret: SECRET,
    listen: { host: '127.0.0.1', port },
    dataDir: join(dir as string, id),
  });
  nodes.push(node);
  return node;
}

describe('discovery', () => {
  test('newcomers wait for every listed voter, then join the running group instead of bootstrapping another', async () => {
    dir = await mkdtemp(join(tmpdir(), 'palisade-raft-discovery-'));
    const ports = { a: await freePort(), b: await freePort(), c: await freePort() };
    const spec = (id: keyof typeof ports): PeerSpec => ({
      id,
      address: `127.0.0.1:${ports[id]}`,
      voter: true,
    });
    const all = [spec('a'), spec('b'), spec('c')];

    // The running group: `a` alone (the operator's first peer list names one voter).
    const a = await startNode('a', ports.a, [spec('a')]);
    await pollUntil('a to lead its group', 10_000, async () =>
      a.status().role === 'leader' ? true : undefined,
    );
    // `a` cannot be heard for now, and counts what b and c send it meanwhile.
    const heardFrom = { b: 0, c: 0 };
    a.setPartition((from) => {
      if (from === 'b' || from === 'c') heardFrom[from]++;
      return 'drop';
    });
    a.updatePeers(all);

    // Both newcomers list a, b and c as voters: each hears "no group" from the other at once.
    const b = await startNode('b', ports.b, all);
    const c = await startNode('c', ports.c, all);
    // Ten probe rounds each (one every 200 ms) while a is silent: long past the first round in
    // which b and c had each other's answer (a quorum of "no group" with themselves). Nothing
    // but a bootstrap can end their discovery meanwhile: the only group is out of earshot.
    const meanwhile = await pollUntil('ten probe rounds from b and c', 20_000, async () => {
      if (b.status().role !== 'joining' || c.status().role !== 'joining') return 'bootstrapped';
      return heardFrom.b >= 10 && heardFrom.c >= 10 ? 'still discovering' : undefined;
    });
    expect(meanwhile).toBe('still discovering');

    // `a` answers again: both join its group, and everything it commits reaches them.
    a.setPartition(undefined);
    const reply = await pollUntil('a lease granted through c', 20_000, async () => {
      const answer = await c.submit({ op: 'acquire', name: 'one', holder: 'h', ttlMs: 60_000 });
      return answer.kind === 'result' ? answer : undefined;
    });
    expect(reply).toMatchObject({ outcome: 'granted' });
    await pollUntil('one group of three voters, every member up to date', 20_000, async () => {
      const views = [a, b, c].map((node) => node.status());
      const leader = views.find((view) => view.role === 'leader');
      if (leader === undefined) return undefined;
      const voters = leader.members.filter((m) => m.suffrage === 'voter').map((m) => m.id);
      const together = views.every(
        (view) => view.leader === leader.id && view.appliedIndex >= leader.commitIndex,
      );
      return together && voters.length === 3 ? true : undefined;
    });
  }, 60_000);
});
