/**
 * Which pod leads each Raft group, as a podKill with `target: raftLeader` sees it: from the
 * role and term each sidecar reports on its `/metrics` (pure; the scrape is the observer's).
 */
import { raftGroupOf } from '../compiler/raft-peers.js';
import type { PodInfo } from '../compiler/types.js';
import type { RaftRoleSample } from './sidecar-metrics.js';

/**
 * The leader of each Raft group among `pods`, by group (`namespace/name`): the pod reporting
 * role `leader` at a term no other pod of the group exceeds. A group has no observable leader
 * when no pod reports one, when a pod reports a higher term (an election is under way: the
 * leader seen is deposed or about to be), or when two pods claim leadership at the same top
 * term (impossible in Raft; a scrape mixing two moments could show it). Pods without a
 * sample (not answering, no Raft) are left out.
 */
export function observedRaftLeaders(
  pods: readonly PodInfo[],
  roles: ReadonlyMap<string, RaftRoleSample>,
): Map<string, string> {
  const byGroup = new Map<string, { pod: string; sample: RaftRoleSample }[]>();
  for (const pod of pods) {
    const sample = roles.get(pod.name);
    const group = raftGroupOf(pod.namespace, pod.labels);
    if (sample === undefined || group === undefined) continue;
    const members = byGroup.get(group) ?? [];
    members.push({ pod: pod.name, sample });
    byGroup.set(group, members);
  }
  const leaders = new Map<string, string>();
  for (const [group, members] of byGroup) {
    const topTerm = Math.max(...members.map((m) => m.sample.term));
    const claimants = members.filter(
      (m) => m.sample.role === 'leader' && m.sample.term === topTerm,
    );
    if (claimants.length === 1) leaders.set(group, (claimants[0] as { pod: string }).pod);
  }
  return leaders;
}
