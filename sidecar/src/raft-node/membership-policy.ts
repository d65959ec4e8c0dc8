/**
 * Which members the group should have, and the next single change to get there. Pure: the driver
 * (leader only) calls {@link nextConfChange} whenever the peer list changes or a config entry is
 * applied, proposes at most one change, and asks again once it is committed. Also whether a
 * member with an empty data directory bootstraps the group or joins it ({@link discoveryDecision}).
 */
import type { ConfChange, ConfState, NodeId } from '../raft/index.js';

/** At most this many voters (ARCHITECTURE.md: few voters; the rest are learners). */
export const MAX_VOTERS = 5;

/** A member as the config's peer list names it (oldest pod first). */
export interface PeerSpec {
  readonly id: string;
  readonly address: string;
  readonly voter: boolean;
}

/** Voters: the first {@link MAX_VOTERS} peers flagged `voter`, in list order; learners: the rest. */
export function desiredConf(peers: readonly PeerSpec[]): ConfState {
  const voters: NodeId[] = [];
  const learners: NodeId[] = [];
  for (const peer of peers) {
    if (peer.voter && voters.length < MAX_VOTERS) voters.push(peer.id);
    else learners.push(peer.id);
  }
  return { voters, learners };
}

/**
 * The next change from `current` towards `desired`, or undefined when there is none. Order:
 * remove members that left the peer list (a dead voter should stop counting for the quorum),
 * add new members as learners (they catch up without slowing commits), promote learners that
 * caught up (`caughtUp`), and last demote voters beyond the desired set (remove, then re-add
 * as learner). Never removes the last voter.
 */
export function nextConfChange(
  current: ConfState,
  desired: ConfState,
  caughtUp: (id: NodeId) => boolean,
): ConfChange | undefined {
  const wanted = new Set([...desired.voters, ...desired.learners]);
  const members = [...current.voters, ...current.learners];
  for (const id of members) {
    if (wanted.has(id)) continue;
    if (current.voters.length === 1 && current.voters[0] === id) continue;
    return { type: 'removeNode', nodeId: id };
  }
  const present = new Set(members);
  for (const id of [...desired.voters, ...desired.learners]) {
    if (!present.has(id)) return { type: 'addLearner', nodeId: id };
  }
  for (const id of desired.voters) {
    if (current.learners.includes(id) && caughtUp(id)) {
      return { type: 'promoteLearner', nodeId: id };
    }
  }
  const desiredVoters = new Set(desired.voters);
  for (const id of current.voters) {
    if (!desiredVoters.has(id) && current.voters.length > 1) {
      return { type: 'removeNode', nodeId: id };
    }
  }
  return undefined;
}

/**
 * What discovery decides from the probe replies so far (`true`: that peer belongs to a group),
 * or undefined to probe again. Join as soon as any peer belongs to a group; bootstrap
 * only as a desired voter, once every other desired voter answered that it belongs to none.
 */
export function discoveryDecision(
  self: NodeId,
  desired: ConfState,
  replies: ReadonlyMap<NodeId, boolean>,
): 'bootstrap' | 'join' | undefined {
  if ([...replies.values()].some((inGroup) => inGroup)) return 'join';
  if (!desired.voters.includes(self)) return undefined;
  return desired.voters.every((id) => id === self || replies.get(id) === false)
    ? 'bootstrap'
    : undefined;
}
