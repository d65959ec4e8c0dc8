import { describe, expect, it } from '@jest/globals';
import { emptySample, nonTerminalSagaInstances, parseSidecarMetrics } from './sidecar-metrics.js';

const TEXT = `# HELP palisade_requests_total Requests.
# TYPE palisade_requests_total counter
palisade_requests_total{direction="inbound",route="default",code="200"} 90
palisade_requests_total{direction="outbound",route="payments",code="503"} 7
palisade_requests_total{direction="outbound",route="payments",code="504"} 3
palisade_rate_limited_total{policy="shop/limits",rule="per-user"} 4
palisade_circuit_breaker_state{breaker="shop/payments",target="payments.shop.svc"} 1
palisade_circuit_breaker_state{breaker="shop/stock",target="stock.shop.svc"} 0
palisade_saga_instances{saga="shop/order",state="Running"} 2
palisade_saga_instances{saga="shop/order",state="Completed"} 9
palisade_saga_instances{saga="shop/refund",state="Compensating"} 1
palisade_faults_injected_total{experiment="shop/drill",type="abort"} 10
palisade_lease_holder_changes_total{lease="jobs"} 3
palisade_lease_holder_changes_total{lease="__proto__"} 1
palisade_requests_total{code="500"} not-a-number
garbage line {
`;

describe('parseSidecarMetrics', () => {
  it('reads requests, 5xx, 429s, open breakers, sagas by state, injected faults and lease changes', () => {
    expect(parseSidecarMetrics(TEXT)).toEqual({
      requests: 100,
      errors: 10,
      rateLimited: 4,
      openBreakers: ['shop/payments'],
      sagaInstances: new Map([
        [
          'shop/order',
          new Map([
            ['Running', 2],
            ['Completed', 9],
          ]),
        ],
        ['shop/refund', new Map([['Compensating', 1]])],
      ]),
      faults: { 'shop/drill': { abort: 10 } },
      leaseHolderChanges: new Map([
        ['jobs', 3],
        ['__proto__', 1],
      ]),
    });
  });

  it('counts Running and Compensating instances of every saga as not terminal', () => {
    expect(nonTerminalSagaInstances(parseSidecarMetrics(TEXT))).toBe(3);
  });

  it('reads the Raft role whose gauge is 1, the term and the applied index, in any order', () => {
    const text = [
      'palisade_raft_term 7',
      'palisade_raft_role{role="follower"} 0',
      'palisade_raft_applied_index 1234',
      'palisade_raft_role{role="leader"} 1',
    ].join('\n');
    const sample = parseSidecarMetrics(text);
    expect(sample.raft).toEqual({ role: 'leader', term: 7 });
    expect(sample.raftAppliedIndex).toBe(1234);
    expect(parseSidecarMetrics(TEXT).raft).toBeUndefined();
    expect(parseSidecarMetrics(TEXT).raftAppliedIndex).toBeUndefined();
  });

  it('reads nothing from text that is not Prometheus', () => {
    expect(parseSidecarMetrics('<html>nope</html>')).toEqual(emptySample());
  });
});
