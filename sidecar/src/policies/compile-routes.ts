/**
 * SidecarConfig → the route tables of both directions, compiled once per config (never per
 * request) and put in force with `Pipeline.setRoutes` in one assignment.
 *
 * Routes:
 * - inbound: one route, `default`, carrying every inbound policy: rate limits, inbound faults,
 *   inbound breakers and their `requestTimeout`. Each rate-limit rule and fault keeps its own
 *   `match`, checked inside its filter, so one request can meet several rules.
 * - outbound: one route per destination host that has a breaker (named after the host, e.g.
 *   `payments.shop.svc.cluster.local`), matching requests whose authority is that host (any
 *   port), then `default` for every other destination. Every outbound route gets the outbound
 *   faults and the `retries` policy; a host route adds its breakers and their `requestTimeout`.
 *
 * State that must survive a reload survives it: a breaker or a local bucket whose settings did
 * not change is carried over (an open breaker stays open, a drained bucket stays drained);
 * changed settings start fresh. `compile` builds without touching anything live; `commit` makes
 * the carried-over state official (gauges, Redis connections) once the store accepted the reload.
 */
import { parseDuration } from '@palisade/crds/runtime';
import type { Logger } from 'pino';
import type { ResolvedConfig } from '../config/defaults.js';
import { canonicalJson } from '../config/diff.js';
import type { Clock } from '../core/clock.js';
import type { Random } from '../core/random.js';
import {
  CircuitBreaker,
  RedisRateLimiter,
  RetryPolicy,
  TokenBucketLimiter,
  compileOutcomeClassifier,
  compileRateLimitHeaders,
  compileRouteMatch,
  type Fault,
  type OutcomeClassifier,
  type RateLimitSpec,
} from '../filters/index.js';
import { compileRateLimitKey, type RateLimitKeySpec } from '../filters/rate-limit-key.js';
import type { Metrics } from '../metrics/index.js';
import {
  compileRoutes,
  defaultRouteName,
  type Filter,
  type InboundFilters,
  type OutboundFilters,
  type ProxyRequest,
  type RouteSpec,
  type RouteTable,
} from '../proxy/index.js';
import { createObserveFilter, type Tracing } from '../tracing/index.js';
import { createCircuitBreakerFilter } from './circuit-breaker-filter.js';
import { createFaultFilter, type CompiledFault } from './fault-filter.js';
import { createRateLimitFilter, type CompiledRateLimitRule } from './rate-limit-filter.js';
import type { RedisClients } from './redis-clients.js';
import { createRetryFilter } from './retry-filter.js';
import { createTimeoutFilter } from './timeout-filter.js';

/** Decision budget of a global rule when neither the rule nor `redis` sets one (API: 50ms). */
export const DEFAULT_REDIS_TIMEOUT_MS = 50;
/** Retry budget when `retries.budgetPercent` is absent: 20% of original calls. */
export const DEFAULT_RETRY_BUDGET_PERCENT = 20;

/** What the compiler needs from the process; one instance lives as long as the process. */
export interface RouteCompilerOptions {
  readonly clock: Clock;
  readonly random: Random;
  readonly metrics: Metrics;
  readonly redis: RedisClients;
  readonly logger?: Logger;
}

/** A breaker with what its filter and its gauge need. */
interface BreakerEntry {
  readonly breaker: CircuitBreaker;
  readonly classifier: OutcomeClassifier;
  /** Gauge labels: the policy, and the host (outbound) or `inbound`. */
  readonly label: string;
  readonly target: string;
  readonly openDurationMs: number;
  /** True while the entry is in force; a discarded breaker no longer writes its gauge. */
  live: boolean;
}

/** The output of `compile`: both tables, and the state to make official on commit. */
export interface CompiledRouteTables {
  readonly version: string;
  readonly inbound: RouteTable;
  readonly outbound: RouteTable;
  /** Route names, for the start-up log. */
  readonly routeNames: {
    readonly inbound: readonly string[];
    readonly outbound: readonly string[];
  };
  readonly breakers: ReadonlyMap<string, BreakerEntry>;
  readonly buckets: ReadonlyMap<string, TokenBucketLimiter>;
  readonly redisUrls: ReadonlySet<string>;
}

/** Compiles configs into route tables, carrying state over between versions. */
export class RouteCompiler {
  private breakers = new Map<string, BreakerEntry>();
  private buckets = new Map<string, TokenBucketLimiter>();
  private backendLogAt = -Infinity;

  constructor(private readonly options: RouteCompilerOptions) {}

  /**
   * Builds both tables for `config` with `tracing`. Throws (refusing the reload) when a policy
   * cannot be compiled, e.g. a global rule without Redis. Changes nothing live.
   */
  compile(config: ResolvedConfig, tracing: Tracing): CompiledRouteTables {
    const { metrics } = this.options;
    const breakers = new Map<string, BreakerEntry>();
    const buckets = new Map<string, TokenBucketLimiter>();
    const redisUrls = new Set<string>();

    const rateLimit = this.compileRateLimits(config, buckets, redisUrls);
    const inboundFault = this.compileFaults(config, 'inbound');
    const outboundFault = this.compileFaults(config, 'outbound');

    const inboundBreakers: BreakerEntry[] = [];
    const inboundTimeouts: { ms: number; source: string }[] = [];
    const hosts = new Map<
      string,
      { entries: BreakerEntry[]; timeouts: { ms: number; source: string }[] }
    >();
    for (const spec of config.circuitBreakers) {
      const key = canonicalJson(spec);
      if (breakers.has(key)) continue; // an exact duplicate would count every call twice
      const target = spec.target.direction === 'outbound' ? (spec.target.host ?? '') : 'inbound';
      const entry = this.breakers.get(key) ?? this.newBreaker(spec, target);
      breakers.set(key, entry);
      const timeout =
        spec.requestTimeout === undefined
          ? null
          : { ms: parseDuration(spec.requestTimeout), source: spec.policy };
      if (spec.target.direction === 'inbound') {
        inboundBreakers.push(entry);
        if (timeout !== null) inboundTimeouts.push(timeout);
      } else {
        const host = target.toLowerCase();
        let group = hosts.get(host);
        if (group === undefined) hosts.set(host, (group = { entries: [], timeouts: [] }));
        group.entries.push(entry);
        if (timeout !== null) group.timeouts.push(timeout);
      }
    }

    const inboundSpecs: RouteSpec<InboundFilters & OutboundFilters>[] = [
      {
        name: defaultRouteName,
        filters: {
          trace: createObserveFilter({
            direction: 'inbound',
            route: defaultRouteName,
            tracing,
            metrics: metrics.forRoute('inbound', defaultRouteName),
          }),
          rateLimit,
          fault: inboundFault,
          breaker: this.breakerFilter(inboundBreakers),
          timeout: timeoutFilter(inboundTimeouts),
        },
      },
    ];

    const retry = config.retries;
    const outboundRoute = (
      name: string,
      group: { entries: BreakerEntry[]; timeouts: { ms: number; source: string }[] } | null,
      match?: (req: ProxyRequest) => boolean,
    ): RouteSpec<InboundFilters & OutboundFilters> => ({
      name,
      match,
      filters: {
        trace: createObserveFilter({
          direction: 'outbound',
          route: name,
          tracing,
          metrics: metrics.forRoute('outbound', name),
        }),
        fault: outboundFault,
        breaker: group === null ? undefined : this.breakerFilter(group.entries),
        retry:
          retry === undefined
            ? undefined
            : createRetryFilter({
                policy: new RetryPolicy(
                  {
                    maxAttempts: retry.attempts,
                    baseDelayMs: parseDuration(retry.backoff),
                    maxDelayMs: Math.max(1000, parseDuration(retry.backoff)),
                    budget: {
                      ratio: (retry.budgetPercent ?? DEFAULT_RETRY_BUDGET_PERCENT) / 100,
                    },
                  },
                  this.options.random,
                ),
                clock: this.options.clock,
                retried: metrics.retries.bind(name),
              }),
        timeout: group === null ? undefined : timeoutFilter(group.timeouts),
      },
    });
    const outboundSpecs = [...hosts].map(([host, group]) =>
      outboundRoute(host, group, authorityMatcher(host)),
    );
    outboundSpecs.push(outboundRoute(defaultRouteName, null));

    return {
      version: config.version,
      inbound: compileRoutes('inbound', inboundSpecs),
      outbound: compileRoutes('outbound', outboundSpecs),
      routeNames: {
        inbound: inboundSpecs.map((s) => s.name),
        outbound: outboundSpecs.map((s) => s.name),
      },
      breakers,
      buckets,
      redisUrls,
    };
  }

  /**
   * Makes `compiled` the state in force: breakers and buckets it carried over or created become
   * the ones later compiles start from; gauges of dropped breakers disappear, new ones read 0;
   * Redis connections no rule uses any more close. Call from the reload's commit, next to
   * `setRoutes`. Must not throw.
   */
  commit(compiled: CompiledRouteTables): void {
    const { metrics } = this.options;
    for (const [key, entry] of this.breakers) {
      if (compiled.breakers.get(key) !== entry) {
        entry.live = false;
        metrics.circuitBreakerState.remove(entry.label, entry.target);
      }
    }
    for (const [key, entry] of compiled.breakers) {
      if (this.breakers.get(key) !== entry) {
        entry.live = true;
        metrics.setBreakerState(entry.label, entry.target, 'closed');
      }
    }
    this.breakers = new Map(compiled.breakers);
    this.buckets = new Map(compiled.buckets);
    this.options.redis.retain(compiled.redisUrls);
  }

  private newBreaker(
    spec: ResolvedConfig['circuitBreakers'][number],
    target: string,
  ): BreakerEntry {
    const { clock, metrics } = this.options;
    const openDurationMs = parseDuration(spec.openDuration);
    const breaker = new CircuitBreaker({
      consecutiveFailures: spec.trip.consecutiveFailures,
      failureRatio: spec.trip.failureRatio,
      minimumRequests: spec.trip.minimumRequests,
      windowMs: spec.trip.window === undefined ? undefined : parseDuration(spec.trip.window),
      openDurationMs,
      halfOpen: spec.halfOpen,
      onStateChange: (change) => {
        if (!entry.live) return;
        metrics.setBreakerState(
          entry.label,
          entry.target,
          change.to === 'half-open' ? 'halfOpen' : change.to,
        );
        this.options.logger?.warn(
          {
            breaker: entry.label,
            target: entry.target,
            from: change.from,
            to: change.to,
            reason: change.reason,
          },
          'circuit breaker state changed',
        );
        if (change.to === 'open') {
          // The breaker moves to half-open lazily, at the next call; this timer makes the gauge
          // (and the next call) see it on time even when no call comes.
          const timer = setTimeout(() => {
            if (entry.live) breaker.currentState(clock.now());
          }, openDurationMs + 1);
          timer.unref();
        }
      },
    });
    const entry: BreakerEntry = {
      breaker,
      classifier: compileOutcomeClassifier(spec.failureOn),
      label: spec.policy,
      target,
      openDurationMs,
      live: false,
    };
    return entry;
  }

  private breakerFilter(entries: readonly BreakerEntry[]): Filter | undefined {
    const filters = entries.map((entry) =>
      createCircuitBreakerFilter({
        breaker: entry.breaker,
        classifier: entry.classifier,
        clock: this.options.clock,
      }),
    );
    return compose(filters);
  }

  private compileRateLimits(
    config: ResolvedConfig,
    buckets: Map<string, TokenBucketLimiter>,
    redisUrls: Set<string>,
  ): Filter | undefined {
    const { metrics, clock } = this.options;
    const rules: CompiledRateLimitRule[] = config.rateLimits.map((rule) => {
      const periodMs = parseDuration(rule.limit.period);
      const spec: RateLimitSpec = {
        requests: rule.limit.requests,
        periodMs,
        burst: rule.burst ?? 0,
      };
      const keySpec: RateLimitKeySpec =
        rule.key.type === 'header'
          ? { type: 'header', name: rule.key.name ?? '' }
          : { type: rule.key.type };
      let take: CompiledRateLimitRule['take'];
      if ((rule.scope ?? 'local') === 'local') {
        const bucketKey = `${rule.policy}/${rule.name}\u0000${canonicalJson([spec, keySpec])}`;
        const bucket = this.buckets.get(bucketKey) ?? new TokenBucketLimiter(spec);
        buckets.set(bucketKey, bucket);
        take = (key, now) => bucket.take(key, now);
      } else {
        const redis = rule.redis ?? config.redis;
        if (redis === undefined) {
          throw new Error(
            `rate limit ${rule.policy}/${rule.name} has scope global but no redis is configured (set redis.url)`,
          );
        }
        redisUrls.add(redis.url);
        const backendErrors = metrics.rateLimitBackendErrors.bind(rule.policy);
        const limiter = new RedisRateLimiter({
          redis: this.options.redis.get(redis.url),
          policy: rule.policy,
          rule: rule.name,
          limit: spec,
          failureMode: rule.failureMode ?? 'open',
          timeoutMs:
            redis.timeout === undefined ? DEFAULT_REDIS_TIMEOUT_MS : parseDuration(redis.timeout),
          onBackendFailure: (error) => {
            backendErrors.value++;
            this.logBackendFailure(rule.policy, error);
          },
          clock,
        });
        take = (key, now) => limiter.take(key, now);
      }
      return {
        policy: rule.policy,
        name: rule.name,
        matches: compileRouteMatch(rule.match),
        key: compileRateLimitKey(keySpec),
        take,
        headers: compileRateLimitHeaders({ name: rule.name, requests: spec.requests, periodMs }),
        refused: metrics.rateLimited.bind(rule.policy, rule.name),
      };
    });
    return rules.length === 0 ? undefined : createRateLimitFilter({ rules, clock });
  }

  private compileFaults(
    config: ResolvedConfig,
    direction: 'inbound' | 'outbound',
  ): Filter | undefined {
    const faults: CompiledFault[] = [];
    for (const fault of config.faults) {
      // Faults without a direction apply to inbound traffic (the pod's own requests).
      if ((fault.direction ?? 'inbound') !== direction) continue;
      let compiled: Fault;
      if (fault.type === 'latency') {
        compiled = {
          type: 'latency',
          delayMs: parseDuration(fault.delay ?? '0ms'),
          jitterMs: fault.jitter === undefined ? 0 : parseDuration(fault.jitter),
          percentage: fault.percentage ?? 100,
        };
      } else if (fault.type === 'abort') {
        compiled = {
          type: 'abort',
          httpStatus: fault.httpStatus ?? 503,
          percentage: fault.percentage ?? 100,
        };
      } else {
        continue; // partition and podKill are not HTTP faults.
      }
      faults.push({
        experiment: fault.experiment,
        fault: compiled,
        matches: compileRouteMatch(fault.match),
        injected: this.options.metrics.faultsInjected.bind(fault.experiment, fault.type),
      });
    }
    return faults.length === 0
      ? undefined
      : createFaultFilter({ faults, random: this.options.random });
  }

  /** Logs backend failures at most once per second (an outage fails every request). */
  private logBackendFailure(policy: string, error: Error & { reason?: string }): void {
    const now = this.options.clock.now();
    if (now - this.backendLogAt < 1000) return;
    this.backendLogAt = now;
    this.options.logger?.warn(
      { policy, reason: error.reason, err: error.cause },
      'global rate limit: Redis could not decide in time, failureMode applied',
    );
  }
}

/** Chains filters (the first listed outermost); undefined for none. */
export function compose(filters: readonly Filter[]): Filter | undefined {
  if (filters.length === 0) return undefined;
  if (filters.length === 1) return filters[0];
  return (next) => filters.reduceRight((handler, filter) => filter(handler), next);
}

/** The timeout filter for the shortest of several deadlines, or undefined for none. */
function timeoutFilter(timeouts: readonly { ms: number; source: string }[]): Filter | undefined {
  let shortest: { ms: number; source: string } | undefined;
  for (const t of timeouts) if (shortest === undefined || t.ms < shortest.ms) shortest = t;
  return shortest === undefined
    ? undefined
    : createTimeoutFilter({ timeoutMs: shortest.ms, source: shortest.source });
}

/**
 * Matches requests whose authority (`host[:port]`, as the app addressed it) names `host`
 * (lower-case), whatever the port. Case-insensitive; allocates only for a mixed-case authority.
 */
export function authorityMatcher(host: string): (req: ProxyRequest) => boolean {
  const length = host.length;
  return (req) => {
    let authority = req.authority;
    if (!authority.startsWith(host)) {
      authority = authority.toLowerCase();
      if (!authority.startsWith(host)) return false;
    }
    return authority.length === length || authority.charCodeAt(length) === 0x3a; /* : */
  };
}
