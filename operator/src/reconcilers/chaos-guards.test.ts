import { describe, expect, it } from '@jest/globals';
import type { ChaosExperimentSpec } from '@palisade/crds';
import { pod } from '../compiler/fixtures.js';
import { planRaftGroup } from '../compiler/raft-peers.js';
import { abortVerdict, quorumLossRefusal } from './chaos-guards.js';
import { NOTHING_OBSERVED } from './chaos-observation.js';

const members = [1, 2, 3].map((i) => pod(`db-${i}`, { app: 'db' }));
const groups = new Map([['shop/db', planRaftGroup('shop/db', 'shop', members, 15010)]]);

function spec(extra: Partial<ChaosExperimentSpec>): ChaosExperimentSpec {
  return {
    selector: { matchLabels: { app: 'db' } },
    mode: { type: 'all' },
    faults: [{ type: 'partition', target: 'raft' }],
    duration: '30s',
    ...extra,
  };
}

describe('quorumLossRefusal', () => {
  it.each<[string, Partial<ChaosExperimentSpec>, number, string | undefined]>([
    ['partition of one voter of three', { mode: { type: 'one' } }, 1, undefined],
    [
      'partition of two voters of three',
      { mode: { type: 'fixed', value: 2 } },
      2,
      'QuorumLossRefused',
    ],
    ['partition of all, allowed', { allowQuorumLoss: true }, 3, undefined],
    ['podKill one per round of all', { faults: [{ type: 'podKill', count: 1 }] }, 3, undefined],
    ['podKill two per round', { faults: [{ type: 'podKill', count: 2 }] }, 3, 'QuorumLossRefused'],
    ['latency on all', { faults: [{ type: 'latency', delay: '1s' }] }, 3, undefined],
  ])('%s', (_, extra, targets, reason) => {
    expect(quorumLossRefusal(spec(extra), members, targets, groups)?.reason).toBe(reason);
  });

  it('names the group and the way out', () => {
    expect(quorumLossRefusal(spec({}), members, 3, groups)?.message).toBe(
      'partition could cut 3 of the 3 voters of Raft group shop/db, leaving no majority; set allowQuorumLoss: true to run it anyway',
    );
  });

  it('ignores pods outside any Raft group', () => {
    const loners = [pod('w-1', {}), pod('w-2', {})];
    expect(quorumLossRefusal(spec({}), loners, 2, groups)).toBeUndefined();
  });
});

describe('abortVerdict', () => {
  const guarded = (abortWhen: ChaosExperimentSpec['abortWhen']) => spec({ abortWhen });
  it('aborts when the named breaker is open in this namespace', () => {
    const seen = { ...NOTHING_OBSERVED, openBreakers: new Set(['shop/payments']) };
    expect(abortVerdict(guarded({ circuitBreakerOpens: 'payments' }), 'shop', seen)).toEqual({
      reason: 'CircuitBreakerOpened',
      message: 'abortWhen: CircuitBreaker payments opened',
    });
    expect(
      abortVerdict(guarded({ circuitBreakerOpens: 'payments' }), 'other', seen),
    ).toBeUndefined();
  });

  it('aborts when the error ratio over the window reaches the bound, not below', () => {
    const g = guarded({ errorRatio: 0.2, window: '30s' });
    const at = (errors: number, requests: number) =>
      abortVerdict(g, 'shop', { ...NOTHING_OBSERVED, errorRatio: { errors, requests } });
    expect(at(19, 100)).toBeUndefined();
    expect(at(20, 100)).toEqual({
      reason: 'ErrorRatioExceeded',
      message: 'abortWhen: 20 of 100 requests failed (5xx) over 30s: 0.200 ≥ 0.2',
    });
    expect(at(0, 0)).toBeUndefined();
    expect(at(9, 9)).toBeUndefined(); // too few requests to judge
    expect(at(10, 10)?.reason).toBe('ErrorRatioExceeded');
    expect(abortVerdict(g, 'shop', NOTHING_OBSERVED)).toBeUndefined();
  });
});
