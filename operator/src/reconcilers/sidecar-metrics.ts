/**
 * What the operator reads of one sidecar's `/metrics` (the Prometheus text exposition of
 * `sidecar/src/metrics/metrics.ts`), as a pure parser: only the families that chaos guards and
 * expectations, podKill `target: raftLeader` and Saga status read. The text comes over the
 * network, so nothing in it may throw; lines of other families, comments and malformed lines are
 * skipped.
 */

/** The numbers the operator reads from one sidecar's /metrics. */
export interface SidecarSample {
  /** palisade_requests_total, both directions, all routes. */
  requests: number;
  /** The 5xx part of `requests`. */
  errors: number;
  /** palisade_rate_limited_total (429 answers). */
  rateLimited: number;
  /** Breakers (namespace/name) whose palisade_circuit_breaker_state is 1 (open). */
  openBreakers: string[];
  /**
   * palisade_saga_instances by saga (namespace/name), then state as the sidecar spells it
   * (`Running`, `NeedsAttention`…): the instances in this member's saga table. Maps: both come
   * from the network.
   */
  sagaInstances: Map<string, Map<string, number>>;
  /** palisade_faults_injected_total by experiment (namespace/name), then fault type. */
  faults: Record<string, Record<string, number>>;
  /** palisade_raft_role and palisade_raft_term; absent when the sidecar runs no Raft. */
  raft?: RaftRoleSample;
  /**
   * palisade_raft_applied_index: how far this member's state machines (leases, sagas) have
   * applied the group's log; absent when the sidecar runs no Raft.
   */
  raftAppliedIndex?: number;
  /**
   * palisade_lease_holder_changes_total by lease (the `lease` label, `_other` included). A Map:
   * lease names are user input (`__proto__` is a valid one).
   */
  leaseHolderChanges: Map<string, number>;
}

/** The Raft role a sidecar reports (the `role` label whose gauge is 1) and its term. */
export interface RaftRoleSample {
  role: string;
  term: number;
}

/** A sidecar that reported nothing. */
export function emptySample(): SidecarSample {
  return {
    requests: 0,
    errors: 0,
    rateLimited: 0,
    openBreakers: [],
    sagaInstances: new Map(),
    faults: {},
    leaseHolderChanges: new Map(),
  };
}

/** Instance states that are not final: the instance still makes (or undoes) calls. */
const NON_TERMINAL_SAGA_STATES = new Set(['running', 'compensating']);

/** Instances of every saga in `sample` that are Running or Compensating. */
export function nonTerminalSagaInstances(sample: SidecarSample): number {
  let count = 0;
  for (const states of sample.sagaInstances.values())
    for (const [state, n] of states)
      if (NON_TERMINAL_SAGA_STATES.has(state.toLowerCase())) count += n;
  return count;
}

/** Parses the families the operator reads from a sidecar's Prometheus text exposition. */
export function parseSidecarMetrics(text: string): SidecarSample {
  const sample = emptySample();
  let raftTerm = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith('palisade_')) continue;
    const match = /^([a-z_]+)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (match === null) continue;
    const value = Number(match[3]);
    if (!Number.isFinite(value)) continue;
    const name = match[1] as string;
    const labels = parseLabels(match[2] ?? '');
    switch (name) {
      case 'palisade_requests_total':
        sample.requests += value;
        if (labels.get('code')?.startsWith('5') === true) sample.errors += value;
        break;
      case 'palisade_rate_limited_total':
        sample.rateLimited += value;
        break;
      case 'palisade_circuit_breaker_state': {
        const breaker = labels.get('breaker');
        if (value === 1 && breaker !== undefined) sample.openBreakers.push(breaker);
        break;
      }
      case 'palisade_saga_instances': {
        const saga = labels.get('saga');
        const state = labels.get('state');
        if (saga === undefined || state === undefined) break;
        let states = sample.sagaInstances.get(saga);
        if (states === undefined) sample.sagaInstances.set(saga, (states = new Map()));
        states.set(state, (states.get(state) ?? 0) + value);
        break;
      }
      case 'palisade_raft_role': {
        const role = labels.get('role');
        // The term is filled in after the loop: the two families may come in either order.
        if (value === 1 && role !== undefined) sample.raft = { role, term: 0 };
        break;
      }
      case 'palisade_raft_term':
        raftTerm = value;
        break;
      case 'palisade_raft_applied_index':
        sample.raftAppliedIndex = value;
        break;
      case 'palisade_lease_holder_changes_total': {
        const lease = labels.get('lease');
        const changes = sample.leaseHolderChanges;
        if (lease !== undefined) changes.set(lease, (changes.get(lease) ?? 0) + value);
        break;
      }
      case 'palisade_faults_injected_total': {
        const experiment = labels.get('experiment');
        const type = labels.get('type');
        if (experiment === undefined || type === undefined) break;
        const byType = (sample.faults[experiment] ??= {});
        byType[type] = (byType[type] ?? 0) + value;
        break;
      }
    }
  }
  if (sample.raft !== undefined) sample.raft.term = raftTerm;
  return sample;
}

function parseLabels(text: string): Map<string, string> {
  const labels = new Map<string, string>();
  const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
  for (const m of text.matchAll(re)) {
    labels.set(
      m[1] as string,
      (m[2] as string).replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c)),
    );
  }
  return labels;
}
