/**
 * Tests named after sentences of the Raft paper (Ongaro & Ousterhout, "In Search of an
 * Understandable Consensus Algorithm", extended version) and of Ongaro's thesis (for pre-vote,
 * check-quorum, learners, snapshots).
 */
import { describe, expect, test } from '@jest/globals';
import { SeededRandom } from '../core/random.js';
import { ProposalDroppedError } from './errors.js';
import { RawNode } from './raw-node.js';
import { MemoryStorage } from './storage.js';
import { Network } from './testing/network.js';
import { bytes } from './testing/test-node.js';
import type { Message, NodeId } from './types.js';

function group(ids: NodeId[], options: ConstructorParameters<typeof Network>[0] = {}, seed = 1) {
  const network = new Network({ electionTick: 10, heartbeatTick: 1, ...options }, seed);
  network.add(ids, { voters: ids, learners: [] });
  return network;
}

function elect(network: Network, id: NodeId): void {
  network.node(id).node.campaign();
  network.stabilize();
  expect(network.node(id).node.status().role).toBe('leader');
}

function run(network: Network, rounds: number): void {
  for (let i = 0; i < rounds; i++) {
    for (const id of network.nodes.keys()) network.tick(id);
    network.stabilize();
  }
}

function vote(from: NodeId, to: NodeId, term: number, lastIndex: number, lastTerm: number) {
  return { type: 'Vote', from, to, term, lastIndex, lastTerm, transfer: false } as const;
}

describe('Raft paper §5.2: leader election', () => {
  test('Election Safety: at most one leader can be elected in a given term', () => {
    let elected = 0;
    for (let seed = 1; seed <= 40; seed++) {
      const network = group(['1', '2', '3', '4', '5'], { preVote: seed % 2 === 0 }, seed);
      const leaders = new Map<number, Set<NodeId>>();
      for (let round = 0; round < 60; round++) {
        // Everyone campaigns at once, and messages are lost at random: split votes galore.
        const random = new SeededRandom(seed * 100 + round);
        for (const id of network.nodes.keys()) network.tick(id);
        network.queue = network.queue.filter(() => random.next() > 0.3);
        network.deliver();
        for (const node of network.nodes.values()) {
          const status = node.node.status();
          if (status.role !== 'leader') continue;
          const set = leaders.get(status.term) ?? new Set();
          set.add(node.id);
          leaders.set(status.term, set);
        }
      }
      for (const [, set] of leaders) expect(set.size).toBe(1);
      elected += leaders.size;
    }
    expect(elected).toBeGreaterThan(20);
  });

  test('If a candidate or leader discovers that its term is out of date, it immediately reverts to follower state', () => {
    const network = group(['1', '2', '3']);
    elect(network, '1');
    network.node('1').node.step({ type: 'Heartbeat', from: '2', to: '1', term: 9, commit: 0 });
    expect(network.node('1').node.status()).toMatchObject({ role: 'follower', term: 9 });
  });

  test('If a server receives a request with a stale term number, it rejects the request', () => {
    const network = group(['1', '2', '3'], { preVote: false });
    elect(network, '1');
    const stale: Message = {
      type: 'Append',
      from: '3',
      to: '2',
      term: 1,
      prevIndex: 4,
      prevTerm: 2,
      entries: [{ term: 1, index: 5, type: 'normal', data: bytes('stale') }],
      commit: 5,
    };
    network.node('2').node.step(stale);
    network.process('2');
    expect(
      network
        .node('2')
        .node.logEntries()
        .map((e) => e.index),
    ).not.toContain(5);
    // The stale sender is told the current term, so that it steps down.
    expect(network.queue).toContainEqual(
      expect.objectContaining({ type: 'AppendResponse', to: '3', term: 2 }),
    );
  });

  test('A candidate wins an election if it receives votes from a majority of the servers in the full cluster for the same term', () => {
    const network = group(['1', '2', '3', '4', '5'], { preVote: false });
    network.partition(['1', '2'], ['4', '5']);
    network.node('1').node.campaign();
    network.stabilize();
    // Votes of 1, 2 and 3: three of five.
    expect(network.node('1').node.status().role).toBe('leader');
    const minority = group(['1', '2', '3', '4', '5'], { preVote: false });
    minority.partition(['1', '2'], ['3', '4', '5']);
    minority.node('1').node.campaign();
    minority.stabilize();
    expect(minority.node('1').node.status().role).toBe('candidate');
  });

  test('Each server will vote for at most one candidate in a given term, on a first-come-first-served basis', () => {
    const network = group(['1', '2', '3'], { preVote: false });
    const voter = network.node('3').node;
    voter.step(vote('1', '3', 2, 3, 1));
    voter.step(vote('2', '3', 2, 3, 1));
    voter.step(vote('1', '3', 2, 3, 1)); // a retransmission is answered the same way
    network.process('3');
    const answers = network.queue
      .filter((m) => m.type === 'VoteResponse')
      .map((m) => `${m.to}:${m.type === 'VoteResponse' && m.reject ? 'no' : 'yes'}`);
    expect(answers).toEqual(['1:yes', '2:no', '1:yes']);
  });

  test('If the leader’s term is at least as large as the candidate’s current term, then the candidate recognizes the leader as legitimate and returns to follower state', () => {
    const network = group(['1', '2', '3'], { preVote: false });
    network.node('2').node.campaign();
    network.process('2');
    expect(network.node('2').node.status()).toMatchObject({ role: 'candidate', term: 2 });
    network.node('2').node.step({ type: 'Heartbeat', from: '1', to: '2', term: 2, commit: 0 });
    expect(network.node('2').node.status()).toMatchObject({ role: 'follower', leader: '1' });
  });

  test('Raft uses randomized election timeouts to ensure that split votes are rare', () => {
    const timeouts = new Set<number>();
    for (let seed = 1; seed <= 20; seed++) {
      const node = new RawNode({
        id: '1',
        storage: new MemoryStorage({ voters: ['1', '2', '3'], learners: [] }),
        random: new SeededRandom(seed),
        electionTick: 10,
      });
      let ticks = 0;
      while (node.status().role === 'follower') {
        node.tick();
        ticks++;
      }
      timeouts.add(ticks);
    }
    expect(Math.min(...timeouts)).toBeGreaterThanOrEqual(10);
    expect(Math.max(...timeouts)).toBeLessThan(20);
    expect(timeouts.size).toBeGreaterThan(4);
  });
});

describe('Raft paper §5.3: log replication', () => {
  test('A log entry is committed once the leader that created the entry has replicated it on a majority of the servers', () => {
    const network = group(['1', '2', '3', '4', '5']);
    elect(network, '1');
    network.partition(['1', '2'], ['4', '5']);
    const [position] = network.node('1').node.propose(bytes('x'));
    network.process('1');
    network.deliver((m) => m.to !== '3'); // only 2 gets it: 2 of 5 (with the leader)
    network.processAll();
    network.deliver((m) => m.to !== '3');
    expect(network.node('1').node.status().commit).toBeLessThan(position?.index ?? 0);
    network.stabilize(); // now 3 too: 3 of 5
    expect(network.node('1').node.status().commit).toBe(position?.index);
  });

  test('If the follower does not find an entry in its log with the same index and term, then it refuses the new entries', () => {
    const network = group(['1', '2', '3']);
    const follower = network.node('2').node;
    follower.step({
      type: 'Append',
      from: '1',
      to: '2',
      term: 2,
      prevIndex: 7,
      prevTerm: 2,
      entries: [{ term: 2, index: 8, type: 'normal', data: bytes('x') }],
      commit: 8,
    });
    network.process('2');
    expect(follower.status().lastIndex).toBe(3);
    expect(network.queue).toContainEqual(
      expect.objectContaining({ type: 'AppendResponse', reject: true, index: 7, hintIndex: 3 }),
    );
  });

  test('Log Matching: if two logs contain an entry with the same index and term, then the logs are identical in all entries up through the given index', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const network = group(['1', '2', '3'], {}, seed);
      const random = new SeededRandom(seed);
      elect(network, '1');
      for (let round = 0; round < 80; round++) {
        const leader = network.leaders()[0];
        if (leader && random.next() < 0.5) {
          network.node(leader).node.propose(bytes(`v${round}`));
          network.process(leader);
        }
        if (random.next() < 0.1) {
          network.heal();
          const isolated = String(1 + random.int(3));
          network.partition(
            [isolated],
            ['1', '2', '3'].filter((id) => id !== isolated),
          );
        }
        for (const id of network.nodes.keys()) network.tick(id);
        network.queue = network.queue.filter(() => random.next() > 0.2);
        network.deliver();
      }
      const logs = [...network.nodes.values()].map((n) => n.node.logEntries());
      for (const a of logs) {
        for (const b of logs) {
          // The highest index where both logs hold an entry of the same term…
          const termsOfB = new Map(b.map((e) => [e.index, e.term]));
          const common = a.filter((e) => termsOfB.get(e.index) === e.term).at(-1);
          if (!common) continue;
          // …and everything up to it is identical.
          const prefix = (log: typeof a) =>
            log.filter((e) => e.index <= common.index).map((e) => `${e.index}@${e.term}`);
          expect(prefix(b)).toEqual(prefix(a));
        }
      }
    }
  });

  test('The leader retries AppendEntries RPCs indefinitely until all followers eventually store all log entries', () => {
    const network = group(['1', '2', '3']);
    elect(network, '1');
    network.crash('3');
    for (let i = 0; i < 5; i++) network.node('1').node.propose(bytes(`e${i}`));
    network.stabilize();
    network.restart('3');
    run(network, 5);
    expect(network.node('3').applied.map((a) => a.data)).toEqual(['e0', 'e1', 'e2', 'e3', 'e4']);
  });
});

describe('Raft paper §5.4: safety', () => {
  test('The voter denies its vote if its own log is more up-to-date than that of the candidate', () => {
    const network = group(['1', '2', '3'], { preVote: false, checkQuorum: false });
    elect(network, '1');
    network.node('1').node.propose(bytes('x'));
    network.stabilize();
    const voter = network.node('3').node;
    voter.step(vote('2', '3', 5, 4, 2)); // a shorter log of the same last term
    voter.step(vote('1', '3', 6, 9, 1)); // a longer log of an older last term
    network.process('3');
    const replies = network.queue.filter((m) => m.type === 'VoteResponse');
    expect(replies.map((m) => m.type === 'VoteResponse' && m.reject)).toEqual([true, true]);
  });

  test('Raft never commits log entries from previous terms by counting replicas', () => {
    // See testdata/figure-8.txt for the whole figure; here only the decisive step. One entry per
    // append (maxBytesPerAppend: 1) so that the old entry can travel without the new one.
    const network = group(['1', '2', '3'], { checkQuorum: false, maxBytesPerAppend: 1 });
    elect(network, '1');
    network.partition(['1'], ['2', '3']);
    network.node('1').node.propose(bytes('old')); // 5@2, on 1 only
    network.stabilize();
    network.heal();
    network.partition(['3'], ['1', '2']);
    network.crash('1');
    network.restart('1');
    network.node('1').node.campaign();
    network.process('1');
    for (let i = 0; i < 8; i++) {
      // 2 receives the old entry 5@2, never the leader's own 6@3.
      network.queue = network.queue.map((m) =>
        m.type === 'Append' ? { ...m, entries: m.entries.filter((e) => e.term !== 3) } : m,
      );
      network.deliver();
    }
    const leader = network.node('1').node.status();
    expect(leader).toMatchObject({ role: 'leader', term: 3, lastIndex: 6 });
    expect(network.node('2').node.termAt(5)).toBe(2);
    expect(leader.progress['2']).toContain('match=5');
    // 5@2 is on a majority (1 and 2), yet it is not committed.
    expect(leader.commit).toBe(4);
    network.stabilize();
    expect(network.node('1').node.status().commit).toBe(6);
  });

  test('Leader Completeness: if a log entry is committed in a given term, then that entry will be present in the logs of the leaders for all higher-numbered terms', () => {
    const network = group(['1', '2', '3', '4', '5']);
    elect(network, '1');
    network.partition(['1', '2', '3'], ['4', '5']);
    const [committed] = network.node('1').node.propose(bytes('keep'));
    network.stabilize();
    expect(network.node('1').node.status().commit).toBe(committed?.index);
    network.heal();
    network.crash('1');
    // 4 and 5 lack the entry: neither may lead; only 2 or 3 can.
    run(network, 40);
    const [leader] = network.leaders();
    expect(['2', '3']).toContain(leader);
    expect(network.node(leader ?? '').node.termAt(committed?.index ?? 0)).toBe(committed?.term);
  });

  test('State Machine Safety: if a server has applied a log entry at a given index to its state machine, no other server will ever apply a different log entry for the same index', () => {
    for (let seed = 1; seed <= 15; seed++) {
      const network = group(['1', '2', '3', '4', '5'], {}, seed);
      const random = new SeededRandom(seed);
      for (let round = 0; round < 150; round++) {
        const [leader] = network.leaders();
        if (leader && random.next() < 0.3) {
          network.node(leader).node.propose(bytes(`r${round}`));
          network.process(leader);
        }
        if (random.next() < 0.05) {
          const victim = String(1 + random.int(5));
          if (network.crashed.has(victim)) network.restart(victim);
          else network.crash(victim);
        }
        for (const id of network.nodes.keys()) network.tick(id);
        network.queue = network.queue.filter(() => random.next() > 0.1);
        network.deliver();
      }
      const byIndex = new Map<number, string>();
      for (const node of network.nodes.values()) {
        for (const applied of node.applied) {
          const known = byIndex.get(applied.index);
          if (known !== undefined) expect(applied.data).toBe(known);
          byIndex.set(applied.index, applied.data);
        }
      }
      expect(byIndex.size).toBeGreaterThan(0);
    }
  });
});

describe('Raft thesis: extensions', () => {
  test('§9.6 Pre-vote: a server that rejoins the cluster does not disrupt it with a higher term', () => {
    const network = group(['1', '2', '3']);
    elect(network, '1');
    network.partition(['3'], ['1', '2']);
    for (let i = 0; i < 100; i++) network.tick('3');
    network.stabilize();
    network.heal();
    run(network, 10);
    expect(network.node('1').node.status()).toMatchObject({ role: 'leader', term: 2 });
    expect(network.node('3').node.status()).toMatchObject({ role: 'follower', term: 2 });
  });

  test('§6.2 A leader steps down if an election timeout elapses without a successful round of heartbeats to a majority of its cluster', () => {
    const network = group(['1', '2', '3']);
    elect(network, '1');
    network.partition(['1'], ['2', '3']);
    for (let i = 0; i < 20; i++) network.tick('1');
    expect(network.node('1').node.status().role).toBe('follower');
    expect(() => network.node('1').node.propose(bytes('x'))).toThrow(ProposalDroppedError);
  });

  test('§4.2.1 New servers join the cluster as non-voting members until they are caught up', () => {
    const network = group(['1', '2']);
    elect(network, '1');
    network.add(['3']);
    network.node('1').node.proposeConfChange({ type: 'addLearner', nodeId: '3' });
    network.stabilize();
    // The learner replicates, but a quorum of {1, 2} still needs both voters.
    network.crash('2');
    const [position] = network.node('1').node.propose(bytes('x'));
    network.stabilize();
    expect(network.node('3').node.status().lastIndex).toBe(position?.index);
    expect(network.node('1').node.status().commit).toBeLessThan(position?.index ?? 0);
  });

  test('§5.1 Snapshotting: the leader sends its snapshot to a follower that lags too far behind', () => {
    const network = group(['1', '2', '3']);
    elect(network, '1');
    network.crash('3');
    for (let i = 0; i < 10; i++) network.node('1').node.propose(bytes(`s${i}`));
    network.stabilize();
    network.node('1').compact();
    const snapshotIndex = network.node('1').node.status().firstIndex - 1;
    network.restart('3');
    run(network, 5);
    // 3's log now starts right after the leader's snapshot: it was installed, not replayed.
    expect(network.node('3').node.status().firstIndex).toBe(snapshotIndex + 1);
    expect(network.node('3').applied.map((a) => a.data)).toEqual(
      network.node('1').applied.map((a) => a.data),
    );
  });

  test('§3.10 Leadership transfer: the target campaigns at once when it has caught up', () => {
    const network = group(['1', '2', '3']);
    elect(network, '1');
    network.node('1').node.transferLeadership('3');
    network.stabilize();
    expect(network.node('3').node.status()).toMatchObject({ role: 'leader', term: 3 });
  });
});
