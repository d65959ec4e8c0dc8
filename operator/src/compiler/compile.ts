import {
  sagaTemplateErrors,
  type CircuitBreakerSpec,
  type LabelSelector,
  type SidecarCircuitBreaker,
  type SidecarConfig,
  type SidecarFault,
  type SidecarRateLimit,
  type SidecarSaga,
} from '@palisade/crds';
import { canonicalJson, hashText } from './canonical-json.js';
import { LabelIndex } from './label-index.js';
import { compileSelector, type CompiledSelector } from './label-selector.js';
import { MAX_VOTERS, planRaftGroup, raftGroupOf } from './raft-peers.js';
import {
  policyKey,
  type BreakerConflict,
  type CompileInput,
  type CompileOutput,
  type CompiledConfig,
  type PodInfo,
  type PolicyDiagnostics,
  type PolicyKind,
  type PolicyMeta,
  type PolicyObject,
  type RaftGroupPlan,
  type SharedSidecarConfig,
} from './types.js';

interface NamespaceState {
  index: LabelIndex;
  podIdByName: Map<string, number>;
}

interface PodEntries {
  rateLimits: number[];
  circuitBreakers: number[];
  chaos: number[];
  sagas: number[];
}

/**
 * The config compiler: policies × pods → one shared SidecarConfig per distinct effective
 * policy set, plus per-resource diagnostics for status. Pure and deterministic: the same input
 * in any order gives the same output, and `version` is the content hash (canonical JSON), so
 * an unchanged world compiles to unchanged objects and the operator writes nothing.
 *
 * Cost: pods are indexed by label per namespace, so a selector touches only the pods that
 * carry its narrowest positive requirement; pods with the same effective set share one
 * config, built and hashed once.
 */
export function compileSidecarConfigs(input: CompileInput): CompileOutput {
  const { installation } = input;
  const pods = input.pods
    .filter((p) => p.terminating !== true)
    .sort((a, b) => cmp(a.namespace, b.namespace) || cmp(a.name, b.name));
  const namespaces = new Map<string, NamespaceState>();
  pods.forEach((pod, id) => {
    let ns = namespaces.get(pod.namespace);
    if (ns === undefined) {
      ns = { index: new LabelIndex(), podIdByName: new Map() };
      namespaces.set(pod.namespace, ns);
    }
    ns.index.add(id, pod.labels);
    ns.podIdByName.set(pod.name, id);
  });

  const entries: PodEntries[] = pods.map(() => ({
    rateLimits: [],
    circuitBreakers: [],
    chaos: [],
    sagas: [],
  }));
  const diagnostics = new Map<string, PolicyDiagnostics>();

  const rateLimits = sortPolicies(input.policies.rateLimits);
  const circuitBreakers = sortPolicies(input.policies.circuitBreakers);
  const chaos = sortPolicies(input.policies.chaos);
  const sagas = sortPolicies(input.policies.sagas);

  const select = (kind: PolicyKind, policy: PolicyObject<{ selector: LabelSelector }>) => {
    const diag: PolicyDiagnostics = {
      kind,
      namespace: policy.namespace,
      name: policy.name,
      matchedPods: 0,
      enforcedPods: 0,
      conflicts: [],
    };
    diagnostics.set(policyKey(kind, policy.namespace, policy.name), diag);
    const compiled = compileSelector(policy.spec.selector);
    if (!compiled.ok) {
      diag.invalidSelector = compiled.message;
      return { diag, ids: [] as number[] };
    }
    const ids = selectIn(namespaces.get(policy.namespace), compiled.selector);
    diag.matchedPods = ids.length;
    return { diag, ids };
  };

  rateLimits.forEach((policy, i) => {
    const { diag, ids } = select('RateLimitPolicy', policy);
    for (const id of ids) (entries[id] as PodEntries).rateLimits.push(i);
    diag.enforcedPods = ids.length;
  });
  const breakerDiags = circuitBreakers.map((policy, i) => {
    const { diag, ids } = select('CircuitBreaker', policy);
    for (const id of ids) (entries[id] as PodEntries).circuitBreakers.push(i);
    return diag;
  });
  chaos.forEach((experiment, i) => {
    const { diag } = select('ChaosExperiment', experiment);
    const delivered = experiment.spec.faults.some((f) => f.type !== 'podKill');
    if (experiment.phase !== 'Running' || !delivered) return;
    const ns = namespaces.get(experiment.namespace);
    for (const target of new Set(experiment.targets ?? [])) {
      const id = ns?.podIdByName.get(target);
      if (id === undefined) continue;
      (entries[id] as PodEntries).chaos.push(i);
      diag.enforcedPods += 1;
    }
  });
  const sagaDiags = sagas.map((saga, i) => {
    const { diag, ids } = select('Saga', saga);
    const templateErrors = sagaTemplateErrors(saga.spec.steps, 'spec');
    if (templateErrors.length > 0) {
      diag.invalidSpec = templateErrors.map((e) => `${e.field}: ${e.message}`).join('; ');
      diag.enforcedPods = 0;
      return { diag, ids };
    }
    for (const id of ids) (entries[id] as PodEntries).sagas.push(i);
    diag.enforcedPods = ids.length;
    return { diag, ids };
  });

  // Raft groups.
  const groupOfPod = pods.map((p) => raftGroupOf(p.namespace, p.labels));
  const groupMembers = new Map<string, PodInfo[]>();
  pods.forEach((pod, id) => {
    const group = groupOfPod[id];
    if (group === undefined) return;
    const members = groupMembers.get(group);
    if (members === undefined) groupMembers.set(group, [pod]);
    else members.push(pod);
  });
  const raftGroups = new Map<string, RaftGroupPlan>();
  for (const [group, members] of [...groupMembers].sort((a, b) => cmp(a[0], b[0]))) {
    raftGroups.set(
      group,
      planRaftGroup(
        group,
        members[0]?.namespace ?? '',
        members,
        installation.ports.raft,
        installation.raft?.maxVoters ?? MAX_VOTERS,
      ),
    );
  }
  for (const { diag, ids } of sagaDiags) {
    const groups = new Set<string>();
    let without = 0;
    for (const id of ids) {
      const g = groupOfPod[id];
      if (g === undefined) without += 1;
      else groups.add(g);
    }
    diag.raftGroups = [...groups].sort();
    diag.podsWithoutRaftGroup = without;
  }

  // Circuit-breaker conflicts: one breaker per (direction, host) on a pod; the oldest wins.
  const breakerResolution = new Map<string, { effective: number[]; losses: [number, number][] }>();
  const conflictPods = new Map<string, number>(); // "loser,winner" → pods
  const breakerEnforced = new Array<number>(circuitBreakers.length).fill(0);
  const effectiveBreakers = entries.map((e) => {
    if (e.circuitBreakers.length < 2) return e.circuitBreakers;
    const key = e.circuitBreakers.join(',');
    let resolved = breakerResolution.get(key);
    if (resolved === undefined) {
      resolved = resolveBreakers(e.circuitBreakers, circuitBreakers);
      breakerResolution.set(key, resolved);
    }
    for (const [loser, winner] of resolved.losses) {
      const pairKey = `${loser},${winner}`;
      conflictPods.set(pairKey, (conflictPods.get(pairKey) ?? 0) + 1);
    }
    return resolved.effective;
  });
  for (const list of effectiveBreakers)
    for (const i of list) breakerEnforced[i] = (breakerEnforced[i] ?? 0) + 1;
  const breakerConflicts = circuitBreakers.map((): BreakerConflict[] => []);
  for (const [pairKey, count] of [...conflictPods].sort((a, b) => cmp(a[0], b[0]))) {
    const [loser, winner] = pairKey.split(',').map(Number) as [number, number];
    const conflict = (other: number, won: boolean): BreakerConflict => ({
      reason: 'ConflictingCircuitBreakers',
      other: ref(circuitBreakers[other] as PolicyMeta),
      won,
      pods: count,
    });
    breakerConflicts[loser]?.push(conflict(winner, false));
    breakerConflicts[winner]?.push(conflict(loser, true));
  }
  breakerDiags.forEach((diag, i) => {
    diag.conflicts = breakerConflicts[i] ?? [];
    diag.enforcedPods = breakerEnforced[i] ?? 0;
  });

  // Group pods by effective set; build and hash each distinct config once. Each policy's
  // entries and each group's Raft section are serialised (canonical JSON) once and reused by
  // every config that contains them; a config's canonical JSON is assembled from those pieces.
  const appHost = installation.app.host;
  const pieces = new PieceCache();
  const rlEntries = lazyArray(rateLimits.length, (i) =>
    rateLimitEntries(rateLimits[i] as (typeof rateLimits)[number]),
  );
  const cbEntries = lazyArray(circuitBreakers.length, (i) => [
    breakerEntry(circuitBreakers[i] as PolicyObject<CircuitBreakerSpec>),
  ]);
  const faultEntriesOf = lazyArray(chaos.length, (i) =>
    faultEntries(chaos[i] as (typeof chaos)[number]),
  );
  const sagaEntries = lazyArray(sagas.length, (i) => [
    sagaEntry(sagas[i] as (typeof sagas)[number]),
  ]);
  const raftSections = new Map<string, NonNullable<SharedSidecarConfig['raft']>>();
  const raftSection = (plan: RaftGroupPlan) => {
    let section = raftSections.get(plan.group);
    if (section === undefined) {
      section = {
        group: plan.group,
        peers: [...plan.peers],
        ...(installation.raft?.secretFile === undefined
          ? {}
          : { secretFile: installation.raft.secretFile }),
        ...(installation.raft?.dataDir === undefined ? {} : { dataDir: installation.raft.dataDir }),
      };
      raftSections.set(plan.group, section);
    }
    return section;
  };
  const listeners = { ...installation.ports };
  const redis = installation.redis === undefined ? undefined : { ...installation.redis };
  const tracing = installation.tracing === undefined ? undefined : { ...installation.tracing };

  const bySignature = new Map<
    string,
    { namespace: string; config: SharedSidecarConfig; json: string; pods: string[] }
  >();
  const podSignature: string[] = [];
  pods.forEach((pod, id) => {
    const e = entries[id] as PodEntries;
    const port = pod.appPort ?? installation.app.defaultPort;
    const group = groupOfPod[id] ?? '';
    const breakers = effectiveBreakers[id] as number[];
    const signature = `${pod.namespace}|${port}|${group}|${e.rateLimits.join(',')}|${breakers.join(',')}|${e.chaos.join(',')}|${e.sagas.join(',')}`;
    podSignature.push(signature);
    const existing = bySignature.get(signature);
    if (existing !== undefined) {
      existing.pods.push(pod.name);
      return;
    }
    const config: SharedSidecarConfig = { version: '', app: { host: appHost, port }, listeners };
    const fields: Record<string, string> = {
      app: pieces.json(`app:${port}`, config.app),
      listeners: pieces.json('listeners', listeners),
    };
    const list = <T>(
      key: string,
      indices: readonly number[],
      of: (i: number) => T[],
    ): T[] | undefined => {
      const items: T[] = [];
      const parts: string[] = [];
      for (const i of indices) {
        of(i).forEach((item, j) => {
          items.push(item);
          parts.push(pieces.json(`${key}:${i}:${j}`, item));
        });
      }
      if (items.length === 0) return undefined;
      fields[key] = `[${parts.join(',')}]`;
      return items;
    };
    const rl = list('rateLimits', e.rateLimits, rlEntries);
    if (rl !== undefined) config.rateLimits = rl;
    const cb = list('circuitBreakers', breakers, cbEntries);
    if (cb !== undefined) config.circuitBreakers = cb;
    const faults = list('faults', e.chaos, faultEntriesOf);
    if (faults !== undefined) config.faults = faults;
    const sg = list('sagas', e.sagas, sagaEntries);
    if (sg !== undefined) config.sagas = sg;
    const plan = group === '' ? undefined : raftGroups.get(group);
    if (plan !== undefined) {
      config.raft = raftSection(plan);
      fields['raft'] = pieces.json(`raft:${plan.group}`, config.raft);
    }
    if (redis !== undefined) {
      config.redis = redis;
      fields['redis'] = pieces.json('redis', redis);
    }
    if (tracing !== undefined) {
      config.tracing = tracing;
      fields['tracing'] = pieces.json('tracing', tracing);
    }
    if (installation.logLevel !== undefined) {
      config.logLevel = installation.logLevel;
      fields['logLevel'] = JSON.stringify(installation.logLevel);
    }
    const json = Object.keys(fields)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${fields[k]}`)
      .join(',');
    bySignature.set(signature, {
      namespace: pod.namespace,
      config,
      json: `{${json}}`,
      pods: [pod.name],
    });
  });

  const hashBySignature = new Map<string, string>();
  const merged = new Map<string, CompiledConfig & { pods: string[] }>();
  for (const [signature, entry] of bySignature) {
    // entry.json is the canonical JSON of the config without `version` (see PieceCache).
    const hash = hashText(entry.json);
    hashBySignature.set(signature, hash);
    // Two signatures can still produce equal content (e.g. two empty policies): merge them.
    const key = `${entry.namespace}/${hash}`;
    const existing = merged.get(key);
    if (existing !== undefined) existing.pods.push(...entry.pods);
    else
      merged.set(key, {
        namespace: entry.namespace,
        hash,
        config: { ...entry.config, version: hash },
        // "version" sorts after every other key, so it goes last.
        json: `${entry.json.slice(0, -1)},"version":${JSON.stringify(hash)}}`,
        pods: entry.pods,
      });
  }
  const configs = [...merged.values()]
    .map((c) => ({ ...c, pods: [...c.pods].sort() }))
    .sort((a, b) => cmp(a.namespace, b.namespace) || cmp(a.hash, b.hash));
  const podConfig = new Map<string, string>();
  pods.forEach((pod, id) => {
    podConfig.set(
      `${pod.namespace}/${pod.name}`,
      hashBySignature.get(podSignature[id] as string) as string,
    );
  });
  return { configs, podConfig, diagnostics, raftGroups };
}

/**
 * The full SidecarConfig one pod enforces: the shared document with `raft.id` set to the pod's
 * name. Sidecars do the same with their own name (downward API) when they read the shared
 * object.
 */
export function sidecarConfigForPod(shared: SharedSidecarConfig, podName: string): SidecarConfig {
  const { raft, ...rest } = shared;
  return raft === undefined ? { ...rest } : { ...rest, raft: { ...raft, id: podName } };
}

function selectIn(ns: NamespaceState | undefined, selector: CompiledSelector): number[] {
  return ns === undefined ? [] : ns.index.select(selector);
}

function resolveBreakers(
  indices: readonly number[],
  breakers: readonly PolicyObject<CircuitBreakerSpec>[],
): { effective: number[]; losses: [number, number][] } {
  const winners = new Map<string, number>();
  const losses: [number, number][] = [];
  const byAge = [...indices].sort((a, b) =>
    compareAge(breakers[a] as PolicyMeta, breakers[b] as PolicyMeta),
  );
  for (const i of byAge) {
    const target = (breakers[i] as PolicyObject<CircuitBreakerSpec>).spec.target;
    const key = `${target.direction}|${target.host ?? ''}`;
    const winner = winners.get(key);
    if (winner === undefined) winners.set(key, i);
    else losses.push([i, winner]);
  }
  const effective = [...winners.values()].sort((a, b) => a - b);
  return { effective, losses };
}

function compareAge(a: PolicyMeta, b: PolicyMeta): number {
  const ta =
    a.creationTimestamp === undefined ? Number.POSITIVE_INFINITY : Date.parse(a.creationTimestamp);
  const tb =
    b.creationTimestamp === undefined ? Number.POSITIVE_INFINITY : Date.parse(b.creationTimestamp);
  if (ta !== tb) return ta < tb ? -1 : 1;
  return cmp(a.namespace, b.namespace) || cmp(a.name, b.name);
}

function sortPolicies<T extends PolicyMeta>(list: readonly T[]): T[] {
  return [...list].sort((a, b) => cmp(a.namespace, b.namespace) || cmp(a.name, b.name));
}

function ref(p: PolicyMeta): string {
  return `${p.namespace}/${p.name}`;
}

function rateLimitEntries(
  policy: CompileInput['policies']['rateLimits'][number],
): SidecarRateLimit[] {
  return policy.spec.rules.map((rule) => ({
    ...rule,
    policy: ref(policy),
    ...(policy.spec.failureMode === undefined ? {} : { failureMode: policy.spec.failureMode }),
    ...(policy.spec.redis === undefined ? {} : { redis: { ...policy.spec.redis } }),
  }));
}

function breakerEntry(policy: PolicyObject<CircuitBreakerSpec>): SidecarCircuitBreaker {
  const s = policy.spec;
  return {
    policy: ref(policy),
    target: s.target,
    trip: s.trip,
    openDuration: s.openDuration,
    ...(s.failureOn === undefined ? {} : { failureOn: s.failureOn }),
    ...(s.requestTimeout === undefined ? {} : { requestTimeout: s.requestTimeout }),
    ...(s.halfOpen === undefined ? {} : { halfOpen: s.halfOpen }),
  };
}

function faultEntries(experiment: CompileInput['policies']['chaos'][number]): SidecarFault[] {
  return experiment.spec.faults
    .filter((f) => f.type !== 'podKill')
    .map((f) => ({ ...f, experiment: ref(experiment) }));
}

function sagaEntry(saga: CompileInput['policies']['sagas'][number]): SidecarSaga {
  return {
    name: ref(saga),
    steps: saga.spec.steps,
    ...(saga.spec.timeout === undefined ? {} : { timeout: saga.spec.timeout }),
    ...(saga.spec.retention === undefined ? {} : { retention: saga.spec.retention }),
  };
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Canonical JSON of values reused by many configs, computed once per cache key. */
class PieceCache {
  private readonly cache = new Map<string, string>();

  json(key: string, value: unknown): string {
    let text = this.cache.get(key);
    if (text === undefined) {
      text = canonicalJson(value);
      this.cache.set(key, text);
    }
    return text;
  }
}

/** `of(i)` computed on first use and remembered. */
function lazyArray<T>(length: number, of: (i: number) => T): (i: number) => T {
  const values = new Array<T | undefined>(length);
  return (i) => {
    let v = values[i];
    if (v === undefined) {
      v = of(i);
      values[i] = v;
    }
    return v;
  };
}
