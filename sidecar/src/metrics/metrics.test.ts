import { describe, expect, it } from '@jest/globals';
import { register as globalRegistry } from 'prom-client';
import { HistogramFamily } from './instruments.js';
import { MAX_LEASE_LABELS, Metrics, OTHER_LEASES } from './metrics.js';

function lines(text: string, prefix: string): string[] {
  return text.split('\n').filter((line) => line.startsWith(prefix));
}

describe('Metrics', () => {
  it('renders route request counts and durations from bound cells', async () => {
    const metrics = new Metrics({ processMetrics: false });
    const route = metrics.forRoute('inbound', 'orders');
    expect(metrics.forRoute('inbound', 'orders')).toBe(route); // cached
    route.record(200, 0.0004);
    route.record(200, 0.002);
    route.record(503, 12);
    const text = await metrics.text();
    expect(lines(text, 'palisade_requests_total{')).toEqual([
      'palisade_requests_total{direction="inbound",route="orders",code="200"} 2',
      'palisade_requests_total{direction="inbound",route="orders",code="503"} 1',
    ]);
    expect(text).toContain('# TYPE palisade_request_duration_seconds histogram');
    expect(text).toContain(
      'palisade_request_duration_seconds_bucket{direction="inbound",route="orders",le="0.0005"} 1',
    );
    expect(text).toContain(
      'palisade_request_duration_seconds_bucket{direction="inbound",route="orders",le="0.0025"} 2',
    );
    expect(text).toContain(
      'palisade_request_duration_seconds_bucket{direction="inbound",route="orders",le="10"} 2',
    );
    expect(text).toContain(
      'palisade_request_duration_seconds_bucket{direction="inbound",route="orders",le="+Inf"} 3',
    );
    expect(text).toContain(
      'palisade_request_duration_seconds_count{direction="inbound",route="orders"} 3',
    );
    expect(text).toMatch(
      /palisade_request_duration_seconds_sum\{direction="inbound",route="orders"\} 12\.0024/,
    );
  });

  it('exports breaker state, raft role and config reload metrics', async () => {
    const metrics = new Metrics({ processMetrics: false });
    metrics.setBreakerState('shop/payments', 'payments.shop.svc', 'halfOpen');
    metrics.setRaftRole('leader');
    metrics.config.recordApplied('v1', 1_700_000_000_000);
    metrics.config.recordApplied('v2', 1_700_000_005_000);
    metrics.config.recordRejected('CONFIG_INVALID');
    const text = await metrics.text();
    expect(text).toContain(
      'palisade_circuit_breaker_state{breaker="shop/payments",target="payments.shop.svc"} 2',
    );
    expect(text).toContain('palisade_raft_role{role="leader"} 1');
    expect(text).toContain('palisade_raft_role{role="follower"} 0');
    expect(lines(text, 'palisade_config_info')).toEqual(['palisade_config_info{version="v2"} 1']);
    expect(text).toContain('palisade_config_last_reload_success_timestamp_seconds 1700000005');
    expect(text).toContain('palisade_config_reload_errors_total 1');
  });

  it('exports the reload error counter as 0 before any error', async () => {
    const text = await new Metrics({ processMetrics: false }).text();
    expect(text).toContain('palisade_config_reload_errors_total 0');
  });

  it('escapes label values', async () => {
    const metrics = new Metrics({ processMetrics: false });
    metrics.rateLimited.bind('shop/limits', 'we"ird\\rule\n').inc(3);
    expect(await metrics.text()).toContain(
      'palisade_rate_limited_total{policy="shop/limits",rule="we\\"ird\\\\rule\\n"} 3',
    );
  });

  it('runs collectors at scrape time and drops removed label sets', async () => {
    const metrics = new Metrics({ processMetrics: false });
    let running = 4;
    metrics.addCollector(() =>
      metrics.sagaInstances.bind('shop/place-order', 'Running').set(running),
    );
    expect(await metrics.text()).toContain(
      'palisade_saga_instances{saga="shop/place-order",state="Running"} 4',
    );
    running = 1;
    expect(await metrics.text()).toContain(
      'palisade_saga_instances{saga="shop/place-order",state="Running"} 1',
    );
    metrics.setBreakerState('a/b', 't', 'open');
    metrics.circuitBreakerState.remove('a/b', 't');
    expect(await metrics.text()).not.toContain('breaker="a/b"');
  });

  it('owns its registry: process metrics carry the prefix and nothing lands in the global one', async () => {
    const before = (await globalRegistry.metrics()).length;
    const a = new Metrics();
    const b = new Metrics();
    a.leaseGrants.bind().inc();
    const text = await a.text();
    expect(text).toContain('palisade_process_cpu_user_seconds_total');
    expect(text).toContain('palisade_nodejs_eventloop_lag_seconds');
    expect(text).toContain('palisade_process_resident_memory_bytes');
    expect(text).toContain('palisade_nodejs_heap_size_used_bytes');
    // No GC observer: it cost a callback per scavenge (decision 0019).
    expect(text).not.toContain('nodejs_gc_duration_seconds');
    expect(text).toContain('palisade_lease_grants_total 1');
    expect(await b.text()).not.toContain('palisade_lease_grants_total 1');
    expect((await globalRegistry.metrics()).length).toBe(before);
    expect(a.contentType).toBe('text/plain; version=0.0.4; charset=utf-8');
  });

  it('counts lease holder changes by lease, the names after the first 100 under _other', async () => {
    const metrics = new Metrics({ processMetrics: false });
    for (let i = 0; i < MAX_LEASE_LABELS; i++) metrics.countLeaseHolderChange(`lease-${i}`);
    metrics.countLeaseHolderChange('lease-0');
    metrics.countLeaseHolderChange('late-a');
    metrics.countLeaseHolderChange('late-b');
    metrics.countLeaseHolderChange(`lease-${MAX_LEASE_LABELS - 1}`);
    const text = await metrics.text();
    expect(text).toContain('palisade_lease_holder_changes_total{lease="lease-0"} 2');
    expect(text).toContain(
      `palisade_lease_holder_changes_total{lease="lease-${MAX_LEASE_LABELS - 1}"} 2`,
    );
    expect(text).toContain(`palisade_lease_holder_changes_total{lease="${OTHER_LEASES}"} 2`);
    expect(text).not.toContain('late-a');
    expect(text.match(/^palisade_lease_holder_changes_total\{/gm)).toHaveLength(
      MAX_LEASE_LABELS + 1,
    );
  });

  it('checks label arity and bucket order', () => {
    const metrics = new Metrics({ processMetrics: false });
    expect(() => (metrics.retries.bind as (...v: string[]) => unknown)('a', 'b')).toThrow(
      'palisade_retries_total takes 1 label values, got 2',
    );
    expect(
      () => new HistogramFamily({ name: 'x', help: 'x', labelNames: [] as const, buckets: [1, 1] }),
    ).toThrow('strictly increasing');
  });
});
