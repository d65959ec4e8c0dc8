import type { RaftPeer } from '@palisade/crds';
import type { Labels } from './label-selector.js';
import type { PodInfo, RaftGroupPlan } from './types.js';

/** Label that puts a pod in a named Raft group (overrides the workload labels). */
export const RAFT_GROUP_LABEL = 'palisade.dev/raft-group';
/** Workload labels used, in order, when the pod has no `palisade.dev/raft-group`. */
export const WORKLOAD_LABELS = ['app.kubernetes.io/name', 'app'] as const;
/** Upper bound on voters in one group (ARCHITECTURE decision 4). */
export const MAX_VOTERS = 5;
/** Upper bound on a group's peer list: the SidecarConfig schema's `raft.peers` maxItems. */
export const MAX_PEERS = 1000;

/**
 * The Raft group of a pod, `namespace/name`: its `palisade.dev/raft-group` label, else its
 * workload's `app.kubernetes.io/name` or `app` label; undefined when it has none of them.
 * Label values may hold upper case and '_', which group names (DNS-like) may not: they are
 * lower-cased and '_' becomes '-'.
 */
export function raftGroupOf(namespace: string, labels: Labels): string | undefined {
  for (const key of [RAFT_GROUP_LABEL, ...WORKLOAD_LABELS]) {
    const value = labels[key];
    if (value !== undefined && value !== '') {
      return `${namespace}/${value.toLowerCase().replace(/_/g, '-')}`;
    }
  }
  return undefined;
}

/** Oldest first: creation time, then name (a total order, so every operator agrees). */
export function compareByAge(a: PodInfo, b: PodInfo): number {
  const ta = Date.parse(a.creationTimestamp);
  const tb = Date.parse(b.creationTimestamp);
  if (ta !== tb) return ta - tb;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/**
 * Membership of one group. Peers are the members that have an (IPv4) address; voters are the
 * oldest ready peers, as many as the largest odd number ≤ min(maxVoters, ready peers): an even
 * count adds write cost without adding fault tolerance. Everyone else is a learner. Voters
 * change only when an older voter leaves or becomes unready, which keeps configuration
 * changes rare under churn of the younger pods. A workload with more than `MAX_PEERS` addressable
 * pods lists the voters and the oldest learners only: a longer list would make a document every
 * sidecar refuses; the youngest pods' sidecars then proxy without Raft (their id is not listed)
 * until older pods go.
 */
export function planRaftGroup(
  group: string,
  namespace: string,
  members: readonly PodInfo[],
  raftPort: number,
  maxVoters: number = MAX_VOTERS,
): RaftGroupPlan {
  const addressable = sortByAge(
    members.filter((p) => p.podIP !== undefined && p.podIP !== '' && !p.podIP.includes(':')),
  );
  const ready = addressable.filter((p) => p.ready);
  let voterCount = Math.min(Math.max(1, maxVoters), ready.length);
  if (voterCount > 0 && voterCount % 2 === 0) voterCount -= 1;
  const voters = ready.slice(0, voterCount).map((p) => p.name);
  const voterSet = new Set(voters);
  const learners = addressable
    .filter((p) => !voterSet.has(p.name))
    .slice(0, Math.max(0, MAX_PEERS - voters.length));
  const peers: RaftPeer[] = [...addressable.filter((p) => voterSet.has(p.name)), ...learners]
    .map((p) => ({ id: p.name, address: `${p.podIP}:${raftPort}`, voter: voterSet.has(p.name) }))
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return { group, namespace, peers, voters };
}

/** `pods` sorted oldest first (as `compareByAge`), parsing each timestamp once. */
export function sortByAge(pods: readonly PodInfo[]): PodInfo[] {
  return pods
    .map((pod) => ({ pod, t: Date.parse(pod.creationTimestamp) }))
    .sort((a, b) => a.t - b.t || (a.pod.name < b.pod.name ? -1 : a.pod.name > b.pod.name ? 1 : 0))
    .map((x) => x.pod);
}
