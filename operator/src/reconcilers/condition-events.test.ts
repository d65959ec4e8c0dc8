import { describe, expect, it } from '@jest/globals';
import type { Condition } from '@palisade/crds';
import { ManualScheduler } from '../core/clock.js';
import { FakeKubeApi } from '../testing/fake-kube-api.js';
import { kubePod, kubeRateLimit, rateLimitSpec, testInstallation } from '../testing/builders.js';
import { conditionTransitionEvents, type OperatorEvent } from './condition-events.js';
import { NamespaceCompiler } from './namespace-compiler.js';
import { createPolicyReconciler } from './policy-reconciler.js';

const subject = { kind: 'RateLimitPolicy' as const, namespace: 'shop', name: 'limits' };
const condition = (
  type: string,
  status: 'True' | 'False',
  reason: string,
  message = 'm',
): Condition => ({
  type,
  status,
  reason,
  message,
  lastTransitionTime: '2026-01-01T00:00:00Z',
});

describe('conditionTransitionEvents', () => {
  it('reports new conditions and status or reason changes, not message-only changes', () => {
    expect(
      conditionTransitionEvents(subject, undefined, [condition('Ready', 'True', 'Enforced')]),
    ).toEqual([
      {
        regarding: subject,
        type: 'Normal',
        reason: 'Enforced',
        note: 'Ready True/Enforced: m',
        action: 'StatusChange',
      },
    ]);
    const before = [condition('Ready', 'True', 'Enforced')];
    expect(
      conditionTransitionEvents(subject, before, [condition('Ready', 'True', 'Enforced', 'other')]),
    ).toEqual([]);
    const events = conditionTransitionEvents(subject, before, [
      condition('Ready', 'False', 'NoMatchingPods', 'no pods'),
    ]);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      type: 'Warning',
      reason: 'NoMatchingPods',
      note: 'Ready True/Enforced → False/NoMatchingPods: no pods',
    });
  });
});

describe('events from the status reconciler', () => {
  it('records one event per transition, only after the status write, and none when nothing changed', async () => {
    const api = new FakeKubeApi();
    const clock = new ManualScheduler(Date.UTC(2026, 0, 1));
    const recorded: OperatorEvent[] = [];
    const compiler = new NamespaceCompiler({ api, installation: testInstallation, memoize: false });
    const reconcile = createPolicyReconciler({
      kind: 'RateLimitPolicy',
      api,
      compiler,
      installation: testInstallation,
      clock,
      events: { record: (e) => recorded.push(e) },
    });
    const never = new AbortController().signal;
    api.putResource(kubeRateLimit('limits', rateLimitSpec('checkout'), 1));
    await reconcile('shop/limits', never);
    expect(recorded.map((e) => `${e.type} ${e.reason}`)).toEqual(['Warning NoMatchingPods']);
    await reconcile('shop/limits', never);
    expect(recorded).toHaveLength(1);
    api.putPod(kubePod('checkout-1', { app: 'checkout' }));
    await reconcile('shop/limits', never);
    expect(recorded.map((e) => `${e.type} ${e.reason}`)).toEqual([
      'Warning NoMatchingPods',
      'Normal Enforced',
    ]);
    expect(recorded[1]?.note).toContain('False/NoMatchingPods → True/Enforced');
  });
});
