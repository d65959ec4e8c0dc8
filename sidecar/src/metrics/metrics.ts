/**
 * Every Prometheus instrument of the sidecar, in one registry owned by one object (never
 * prom-client's global registry). Names are listed in docs/decisions/0007-sidecar-runtime.md.
 *
 * Hot path: bind cells when config is compiled (`forRoute`, `rateLimited.bind(policy, rule)`,
 * …) and keep them in the compiled route/filter; a request then does one addition per
 * instrument, no label work. Families render their cells only when `/metrics` is scraped.
 */
import type { Metric } from 'prom-client';
import {
  CounterFamily,
  GaugeFamily,
  HistogramFamily,
  type CounterCell,
  type HistogramCell,
} from './instruments.js';
import { collectProcessMetrics } from './process-metrics.js';
import { Registry } from './prom-client-modules.js';

/** Prefix of every metric name. */
export const METRIC_PREFIX = 'palisade_';

/** Request durations: sub-millisecond proxy overhead up to slow upstreams (seconds). */
export const REQUEST_DURATION_BUCKETS: readonly number[] = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];
/** Raft log appends (fsync included). */
export const RAFT_APPEND_BUCKETS: readonly number[] = [
  0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
];
/** Whole saga executions. */
export const SAGA_DURATION_BUCKETS: readonly number[] = [
  0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300,
];

/** `palisade_circuit_breaker_state` values (API.md). */
export const BREAKER_STATE = Object.freeze({ closed: 0, open: 1, halfOpen: 2 });

/** Raft roles as exported on `palisade_raft_role{role}` (1 for the current one, 0 others). */
export const RAFT_ROLES = ['follower', 'pre-candidate', 'candidate', 'leader'] as const;
/** A Raft role label value. */
export type RaftRoleLabel = (typeof RAFT_ROLES)[number];

/**
 * Lease names with their own `palisade_lease_holder_changes_total` series; later names share
 * {@link OTHER_LEASES}. Lease names are user input, and each series costs every scrape.
 */
export const MAX_LEASE_LABELS = 100;
/** The `lease` label value of names beyond the first {@link MAX_LEASE_LABELS}. */
export const OTHER_LEASES = '_other';

/** Direction label of request metrics. */
export type RequestDirection = 'inbound' | 'outbound';

/** Options of `Metrics`. */
export interface MetricsOptions {
  /**
   * Node process metrics (CPU, memory, heap, event loop; not the GC histogram, see
   * `process-metrics.ts`) with the `palisade_` prefix. Default true.
   */
  readonly processMetrics?: boolean;
}

/**
 * Request metrics of one route, bound once when the route is compiled. `record` is the only
 * per-request call: two additions and a bucket search; the counter cell for a status code is
 * bound the first time that code is seen on the route.
 */
export class RouteMetrics {
  private readonly byStatus: (CounterCell | undefined)[] = [];

  constructor(
    private readonly requests: CounterFamily<readonly ['direction', 'route', 'code']>,
    readonly direction: RequestDirection,
    readonly route: string,
    private readonly duration: HistogramCell,
  ) {}

  /** Counts a finished exchange. `statusCode` 0 means no response could be sent. */
  record(statusCode: number, durationSeconds: number): void {
    const code = statusCode >= 0 && statusCode < 1000 ? statusCode : 0;
    let cell = this.byStatus[code];
    if (cell === undefined) {
      cell = this.requests.bind(this.direction, this.route, String(code));
      this.byStatus[code] = cell;
    }
    cell.value++;
    this.duration.observe(durationSeconds);
  }
}

/** Config reload metrics; the `ConfigStore`'s recorder. */
export class ConfigMetrics {
  private currentVersion: string | null = null;

  constructor(
    private readonly info: GaugeFamily<readonly ['version']>,
    private readonly lastSuccess: GaugeFamily<readonly []>,
    private readonly errors: CounterFamily<readonly []>,
  ) {
    errors.bind(); // exported as 0 from the start, so `increase()` works on the first error
  }

  /** A config version was put in force at `atMs` (wall-clock milliseconds). */
  recordApplied(version: string, atMs: number): void {
    if (this.currentVersion !== null && this.currentVersion !== version) {
      this.info.remove(this.currentVersion);
    }
    this.currentVersion = version;
    this.info.bind(version).set(1);
    this.lastSuccess.bind().set(atMs / 1000);
  }

  /** A reload was refused. */
  recordRejected(_code: string): void {
    this.errors.bind().inc();
  }
}

/** The sidecar's metrics registry and instruments. See the module comment. */
export class Metrics {
  /** Holds every metric below plus process metrics; nothing is registered globally. */
  readonly registry = new Registry();

  // Data path.
  readonly requests = new CounterFamily({
    name: 'palisade_requests_total',
    help: 'Requests proxied, by direction, route and status code sent (0: none could be sent).',
    labelNames: ['direction', 'route', 'code'] as const,
  });
  readonly requestDuration = new HistogramFamily({
    name: 'palisade_request_duration_seconds',
    help: 'Time from request head parsed to response body delivered, by direction and route.',
    labelNames: ['direction', 'route'] as const,
    buckets: REQUEST_DURATION_BUCKETS,
  });
  readonly rateLimited = new CounterFamily({
    name: 'palisade_rate_limited_total',
    help: 'Requests refused with 429 by a rate-limit rule.',
    labelNames: ['policy', 'rule'] as const,
  });
  readonly rateLimitBackendErrors = new CounterFamily({
    name: 'palisade_rate_limit_backend_errors_total',
    help: 'Global rate-limit decisions Redis could not make in time (failureMode applied).',
    labelNames: ['policy'] as const,
  });
  readonly circuitBreakerState = new GaugeFamily({
    name: 'palisade_circuit_breaker_state',
    help: 'Circuit breaker state: 0 closed, 1 open, 2 half-open.',
    labelNames: ['breaker', 'target'] as const,
  });
  readonly faultsInjected = new CounterFamily({
    name: 'palisade_faults_injected_total',
    help: 'Faults injected by chaos experiments, by experiment and fault type.',
    labelNames: ['experiment', 'type'] as const,
  });
  readonly retries = new CounterFamily({
    name: 'palisade_retries_total',
    help: 'Outbound retry attempts (not counting first attempts), by route.',
    labelNames: ['route'] as const,
  });

  // Config.
  readonly configReloadErrors = new CounterFamily({
    name: 'palisade_config_reload_errors_total',
    help: 'Config reloads refused (unreadable, unparsable, invalid or refused by a subsystem).',
    labelNames: [] as const,
  });
  readonly configInfo = new GaugeFamily({
    name: 'palisade_config_info',
    help: 'Always 1, labelled with the version of the config in force.',
    labelNames: ['version'] as const,
  });
  readonly configLastReloadSuccess = new GaugeFamily({
    name: 'palisade_config_last_reload_success_timestamp_seconds',
    help: 'Unix time the config in force was applied.',
    labelNames: [] as const,
  });

  // Raft and leases.
  readonly raftTerm = new GaugeFamily({
    name: 'palisade_raft_term',
    help: 'Current Raft term.',
    labelNames: [] as const,
  });
  readonly raftRole = new GaugeFamily({
    name: 'palisade_raft_role',
    help: '1 for the role this node plays now, 0 for the others.',
    labelNames: ['role'] as const,
  });
  readonly raftLeaderChanges = new CounterFamily({
    name: 'palisade_raft_leader_changes_total',
    help: 'Times the known leader changed.',
    labelNames: [] as const,
  });
  readonly raftCommitIndex = new GaugeFamily({
    name: 'palisade_raft_commit_index',
    help: 'Highest log index known committed.',
    labelNames: [] as const,
  });
  readonly raftAppliedIndex = new GaugeFamily({
    name: 'palisade_raft_applied_index',
    help: 'Highest log index applied to the state machine.',
    labelNames: [] as const,
  });
  readonly raftAppendDuration = new HistogramFamily({
    name: 'palisade_raft_append_duration_seconds',
    help: 'Time to persist a batch of log entries.',
    labelNames: [] as const,
    buckets: RAFT_APPEND_BUCKETS,
  });
  readonly raftDroppedMessages = new CounterFamily({
    name: 'palisade_raft_dropped_messages_total',
    help: 'Raft messages dropped, by reason (e.g. unreachable, queue-full, auth, partition).',
    labelNames: ['reason'] as const,
  });
  readonly leaseGrants = new CounterFamily({
    name: 'palisade_lease_grants_total',
    help: 'Leases granted (acquired or taken over after expiry).',
    labelNames: [] as const,
  });
  readonly leaseHolderChanges = new CounterFamily({
    name: 'palisade_lease_holder_changes_total',
    help:
      'Lease grants to a holder other than the previous one (every replica counts them), by lease; ' +
      `names after the first ${MAX_LEASE_LABELS} share lease="${OTHER_LEASES}".`,
    labelNames: ['lease'] as const,
  });
  readonly leaseConflicts = new CounterFamily({
    name: 'palisade_lease_conflicts_total',
    help: 'Lease requests refused with 409 (held by another holder, or a stale token).',
    labelNames: [] as const,
  });

  // Sagas.
  readonly sagaExecutionDuration = new HistogramFamily({
    name: 'palisade_saga_execution_duration_seconds',
    help: 'Duration of finished saga instances, by saga and final status.',
    labelNames: ['saga', 'status'] as const,
    buckets: SAGA_DURATION_BUCKETS,
  });
  readonly sagaInstances = new GaugeFamily({
    name: 'palisade_saga_instances',
    help: 'Saga instances known to this node, by saga and state.',
    labelNames: ['saga', 'state'] as const,
  });
  readonly sagaStepRetries = new CounterFamily({
    name: 'palisade_saga_step_retries_total',
    help: 'Saga step calls retried (actions and compensations).',
    labelNames: [] as const,
  });
  readonly sagaCompensations = new CounterFamily({
    name: 'palisade_saga_compensations_total',
    help: 'Saga compensation steps run.',
    labelNames: [] as const,
  });

  /** The `ConfigStore` recorder: `new ConfigStore({ recorder: metrics.config, … })`. */
  readonly config = new ConfigMetrics(
    this.configInfo,
    this.configLastReloadSuccess,
    this.configReloadErrors,
  );

  private readonly routes = new Map<string, RouteMetrics>();
  private readonly collectors: (() => void)[] = [];
  /** Lease names with their own holder-change series (at most MAX_LEASE_LABELS). */
  private readonly leaseLabels = new Set<string>();

  constructor(options: MetricsOptions = {}) {
    for (const family of [
      this.requests,
      this.requestDuration,
      this.rateLimited,
      this.rateLimitBackendErrors,
      this.circuitBreakerState,
      this.faultsInjected,
      this.retries,
      this.configReloadErrors,
      this.configInfo,
      this.configLastReloadSuccess,
      this.raftTerm,
      this.raftRole,
      this.raftLeaderChanges,
      this.raftCommitIndex,
      this.raftAppliedIndex,
      this.raftAppendDuration,
      this.raftDroppedMessages,
      this.leaseGrants,
      this.leaseHolderChanges,
      this.leaseConflicts,
      this.sagaExecutionDuration,
      this.sagaInstances,
      this.sagaStepRetries,
      this.sagaCompensations,
    ]) {
      // Families implement the part of prom-client's Metric interface the registry reads.
      this.registry.registerMetric(family as unknown as Metric);
    }
    if (options.processMetrics ?? true) {
      collectProcessMetrics(this.registry, METRIC_PREFIX);
    }
  }

  /** Content type of `text()`. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /**
   * Request metrics of a route, cached: call when compiling routes, not per request. Routes
   * that disappear keep their series (counters must not go backwards) until `dropRoute`.
   */
  forRoute(direction: RequestDirection, route: string): RouteMetrics {
    const key = `${direction}\u0000${route}`;
    let metrics = this.routes.get(key);
    if (metrics === undefined) {
      metrics = new RouteMetrics(
        this.requests,
        direction,
        route,
        this.requestDuration.bind(direction, route),
      );
      this.routes.set(key, metrics);
    }
    return metrics;
  }

  /** Sets `palisade_circuit_breaker_state` for a breaker (0 closed, 1 open, 2 half-open). */
  setBreakerState(breaker: string, target: string, state: 'closed' | 'open' | 'halfOpen'): void {
    this.circuitBreakerState.bind(breaker, target).set(BREAKER_STATE[state]);
  }

  /**
   * Counts a lease that changed holders, under its own name for the first
   * {@link MAX_LEASE_LABELS} names seen here and under {@link OTHER_LEASES} after that.
   */
  countLeaseHolderChange(lease: string): void {
    if (!this.leaseLabels.has(lease) && this.leaseLabels.size < MAX_LEASE_LABELS) {
      this.leaseLabels.add(lease);
    }
    this.leaseHolderChanges.bind(this.leaseLabels.has(lease) ? lease : OTHER_LEASES).inc();
  }

  /** Sets `palisade_raft_role`: 1 for `role`, 0 for the others. */
  setRaftRole(role: RaftRoleLabel): void {
    for (const r of RAFT_ROLES) this.raftRole.bind(r).set(r === role ? 1 : 0);
  }

  /**
   * Runs `collector` at every scrape, before rendering: for gauges cheaper to read from their
   * source at scrape time than to maintain (e.g. saga instances by state).
   */
  addCollector(collector: () => void): () => void {
    this.collectors.push(collector);
    return () => {
      const index = this.collectors.indexOf(collector);
      if (index >= 0) this.collectors.splice(index, 1);
    };
  }

  /** The Prometheus text exposition of everything. */
  async text(): Promise<string> {
    for (const collector of this.collectors) collector();
    return this.registry.metrics();
  }
}
