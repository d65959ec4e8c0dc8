/**
 * Membership: applying a single-server change to a configuration, encoding changes into config
 * entries, and quorum arithmetic. Learners never count: quorums are majorities of voters only.
 */
import type { ConfChange, ConfState, Entry, HardState, NodeId } from './types.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The result of applying a change, or why it cannot apply. */
export type ConfChangeResult = { ok: true; conf: ConfState } | { ok: false; reason: string };

/** Applies one change to `conf`. Pure; refuses changes that make no sense. */
export function applyConfChange(conf: ConfState, change: ConfChange): ConfChangeResult {
  const id = change.nodeId;
  const isVoter = conf.voters.includes(id);
  const isLearner = conf.learners.includes(id);
  switch (change.type) {
    case 'addVoter':
      if (isVoter || isLearner) return { ok: false, reason: `${id} is already a member` };
      return { ok: true, conf: { voters: [...conf.voters, id], learners: conf.learners } };
    case 'addLearner':
      if (isVoter || isLearner) return { ok: false, reason: `${id} is already a member` };
      return { ok: true, conf: { voters: conf.voters, learners: [...conf.learners, id] } };
    case 'promoteLearner':
      if (!isLearner) return { ok: false, reason: `${id} is not a learner` };
      return {
        ok: true,
        conf: { voters: [...conf.voters, id], learners: conf.learners.filter((l) => l !== id) },
      };
    case 'removeNode':
      if (isVoter && conf.voters.length === 1) {
        return { ok: false, reason: `${id} is the last voter` };
      }
      if (!isVoter && !isLearner) return { ok: false, reason: `${id} is not a member` };
      return {
        ok: true,
        conf: {
          voters: conf.voters.filter((v) => v !== id),
          learners: conf.learners.filter((l) => l !== id),
        },
      };
  }
}

/** Encodes a change as the payload of a config entry (UTF-8 JSON). */
export function encodeConfChange(change: ConfChange): Uint8Array {
  return encoder.encode(JSON.stringify({ type: change.type, nodeId: change.nodeId }));
}

/** Decodes the payload of a config entry. Throws on anything that is not a ConfChange. */
export function decodeConfChange(data: Uint8Array): ConfChange {
  const value: unknown = JSON.parse(decoder.decode(data));
  if (typeof value === 'object' && value !== null && 'type' in value && 'nodeId' in value) {
    const { type, nodeId } = value;
    if (
      (type === 'addVoter' ||
        type === 'addLearner' ||
        type === 'promoteLearner' ||
        type === 'removeNode') &&
      typeof nodeId === 'string'
    ) {
      return { type, nodeId };
    }
  }
  throw new TypeError('config entry does not hold a ConfChange');
}

/** The configuration after every config entry of `entries`, starting from `conf`. */
export function confAfter(conf: ConfState, entries: readonly Entry[]): ConfState {
  let current = conf;
  for (const entry of entries) {
    if (entry.type !== 'config') continue;
    const result = applyConfChange(current, decodeConfChange(entry.data));
    // A config entry in the log was validated by the leader that appended it against the same
    // predecessor configuration, so it always applies.
    if (result.ok) current = result.conf;
  }
  return current;
}

/**
 * The log every initial member of a new group starts with (as etcd does): one committed config
 * entry of term 1 per member, voters first. Nodes that join later start empty and receive these
 * entries (or a snapshot) like any other, so every node can rebuild the membership from its log.
 * The driver writes them, with `hardState`, on a brand-new node's first start.
 */
export function bootstrapLog(conf: ConfState): { entries: Entry[]; hardState: HardState } {
  const changes: ConfChange[] = [
    ...conf.voters.map((nodeId): ConfChange => ({ type: 'addVoter', nodeId })),
    ...conf.learners.map((nodeId): ConfChange => ({ type: 'addLearner', nodeId })),
  ];
  const entries = changes.map((change, i): Entry => ({
    term: 1,
    index: i + 1,
    type: 'config',
    data: encodeConfChange(change),
  }));
  return { entries, hardState: { term: 1, vote: '', commit: entries.length } };
}

/** Smallest number of voters that forms a majority. */
export function quorumSize(voters: readonly NodeId[]): number {
  return Math.floor(voters.length / 2) + 1;
}

/**
 * The highest index that a majority of voters has reached, given each voter's match index. With
 * no voters there is no quorum: returns 0.
 */
export function committedIndex(voters: readonly NodeId[], match: (id: NodeId) => number): number {
  if (voters.length === 0) return 0;
  const indexes = voters.map(match).sort((a, b) => b - a);
  return indexes[quorumSize(voters) - 1] ?? 0;
}

/** Outcome of counting votes among the voters of a configuration. */
export type VoteOutcome = 'won' | 'lost' | 'pending';

/** Counts `votes` (granted or not) of the voters only; votes of non-voters are ignored. */
export function tallyVotes(
  voters: readonly NodeId[],
  votes: ReadonlyMap<NodeId, boolean>,
): VoteOutcome {
  let granted = 0;
  let rejected = 0;
  for (const voter of voters) {
    const vote = votes.get(voter);
    if (vote === true) granted++;
    else if (vote === false) rejected++;
  }
  const quorum = quorumSize(voters);
  if (granted >= quorum) return 'won';
  if (rejected > voters.length - quorum) return 'lost';
  return 'pending';
}

/** Stable, readable form of a configuration: `voters=(1 2 3) learners=(4)`. */
export function describeConf(conf: ConfState): string {
  const voters = [...conf.voters].sort().join(' ');
  const learners = [...conf.learners].sort().join(' ');
  return learners ? `voters=(${voters}) learners=(${learners})` : `voters=(${voters})`;
}
