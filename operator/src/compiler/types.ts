import type {
  ChaosExperimentSpec,
  CircuitBreakerSpec,
  RaftPeer,
  RateLimitPolicySpec,
  SagaSpec,
  SidecarConfig,
} from '@palisade/crds';
import type { Labels } from './label-selector.js';

/** What the compiler needs of a Pod (see `podInfoFromPod` for the mapping from a V1Pod). */
export interface PodInfo {
  namespace: string;
  name: string;
  labels: Labels;
  /** RFC 3339; orders Raft voters (oldest first). */
  creationTimestamp: string;
  /** The Ready condition is True. */
  ready: boolean;
  /** IPv4 address; a pod without one is not yet a Raft peer. */
  podIP?: string;
  /** From annotation `palisade.dev/app-port`; the installation default otherwise. */
  appPort?: number;
  /** deletionTimestamp is set: it gets no new config and leaves its Raft group. */
  terminating?: boolean;
}

/** Identity of a Palisade resource as the compiler sees it. */
export interface PolicyMeta {
  namespace: string;
  name: string;
  /** RFC 3339; the older of two conflicting resources wins. */
  creationTimestamp?: string;
}

/** A Palisade resource with its spec. */
export interface PolicyObject<Spec> extends PolicyMeta {
  spec: Spec;
}

/** Phase of a ChaosExperiment (status.phase). */
export type ChaosPhase = 'Pending' | 'Running' | 'Paused' | 'Completed' | 'Aborted';

/** A ChaosExperiment with the state its reconciler fixed: faults reach `targets` only while Running. */
export interface ChaosInput extends PolicyObject<ChaosExperimentSpec> {
  phase?: ChaosPhase;
  /** Pod names (own namespace) fixed when the run started. */
  targets?: readonly string[];
}

/** The resources to compile. */
export interface PolicySet {
  rateLimits: readonly PolicyObject<RateLimitPolicySpec>[];
  circuitBreakers: readonly PolicyObject<CircuitBreakerSpec>[];
  chaos: readonly ChaosInput[];
  sagas: readonly PolicyObject<SagaSpec>[];
}

/** Installation-wide settings (Helm values), the same for every sidecar. */
export interface InstallationSettings {
  redis?: { url: string; timeout?: string };
  tracing?: { otlpEndpoint?: string; sampleRatio: number };
  ports: { admin: number; inbound: number; outbound: number; raft: number };
  app: { host: string; defaultPort: number };
  raft?: { secretFile?: string; dataDir?: string; maxVoters?: number };
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
}

/** Input of `compileSidecarConfigs`. */
export interface CompileInput {
  pods: readonly PodInfo[];
  policies: PolicySet;
  installation: InstallationSettings;
}

/** The four Palisade kinds. */
export type PolicyKind = 'RateLimitPolicy' | 'CircuitBreaker' | 'ChaosExperiment' | 'Saga';

/** Raft settings shared by every member of a group: all but the member's own `id`. */
export type SharedRaftSettings = Omit<NonNullable<SidecarConfig['raft']>, 'id'>;

/**
 * The document shared by every pod with the same effective policies: a SidecarConfig without
 * `raft.id`, which each sidecar fills with its own pod name (`sidecarConfigForPod`).
 */
export type SharedSidecarConfig = Omit<SidecarConfig, 'raft'> & { raft?: SharedRaftSettings };

/** One shared config object and the pods it applies to. */
export interface CompiledConfig {
  namespace: string;
  /** Content hash; also `config.version`. */
  hash: string;
  config: SharedSidecarConfig;
  /** `config` as canonical JSON (what is delivered; equal to `canonicalJson(config)`). */
  json: string;
  /** Names of the pods (in `namespace`) that enforce it, sorted. */
  pods: readonly string[];
}

/** A CircuitBreaker conflict seen from one side. */
export interface BreakerConflict {
  reason: 'ConflictingCircuitBreakers';
  /** `namespace/name` of the other breaker. */
  other: string;
  /** Whether this breaker is the one enforced (the older one). */
  won: boolean;
  /** Pods on which the two collide. */
  pods: number;
}

/** What the compiler learned about one resource, for its status. */
export interface PolicyDiagnostics {
  kind: PolicyKind;
  namespace: string;
  name: string;
  /** Pods selected by spec.selector (0 when the selector is invalid). */
  matchedPods: number;
  /** Pods whose config carries this resource (fewer than matched when it lost a conflict; for chaos, running targets). */
  enforcedPods: number;
  /** Set when the selector is invalid; the message names the requirement. */
  invalidSelector?: string;
  /**
   * Sagas: set when a step's template is malformed or reads a step that is not an earlier one
   * (the fields and reasons, `; `-joined). Such a saga is left out of every config: a sidecar
   * would refuse the whole document for it.
   */
  invalidSpec?: string;
  conflicts: readonly BreakerConflict[];
  /** Sagas: the Raft groups of the selected pods (a saga needs exactly one). */
  raftGroups?: readonly string[];
  /** Sagas: selected pods that belong to no Raft group. */
  podsWithoutRaftGroup?: number;
}

/** The Raft membership the compiler chose for a group. */
export interface RaftGroupPlan {
  /** `namespace/name`. */
  group: string;
  namespace: string;
  /** Sorted by id. */
  peers: readonly RaftPeer[];
  /** Ids of the voters, oldest first. */
  voters: readonly string[];
}

/** Output of `compileSidecarConfigs`. */
export interface CompileOutput {
  /** Sorted by namespace, then hash. */
  configs: readonly CompiledConfig[];
  /** `namespace/podName` → config hash, for every non-terminating pod. */
  podConfig: ReadonlyMap<string, string>;
  /** `Kind/namespace/name` → diagnostics (see `policyKey`). */
  diagnostics: ReadonlyMap<string, PolicyDiagnostics>;
  /** By group name. */
  raftGroups: ReadonlyMap<string, RaftGroupPlan>;
}

/** Key of a resource in `CompileOutput.diagnostics`. */
export function policyKey(kind: PolicyKind, namespace: string, name: string): string {
  return `${kind}/${namespace}/${name}`;
}
