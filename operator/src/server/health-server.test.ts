import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { HealthServer } from './health-server.js';
import { OperatorMetrics } from './metrics.js';

describe('HealthServer', () => {
  let ready = false;
  let leader = false;
  const metrics = new OperatorMetrics({
    queueDepths: () => new Map([['configs', 3]]),
    isLeader: () => leader,
  });
  const server = new HealthServer({
    host: '127.0.0.1',
    port: 0,
    registry: metrics.registry,
    readiness: () => ({ ready, details: { role: leader ? 'leader' : 'standby' } }),
  });
  let base = '';
  beforeAll(async () => {
    base = `http://127.0.0.1:${await server.listen()}`;
  });
  afterAll(async () => server.close());

  it('answers /healthz, and /readyz by the readiness report', async () => {
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const notReady = await fetch(`${base}/readyz`);
    expect(notReady.status).toBe(503);
    expect(await notReady.json()).toEqual({ ready: false, details: { role: 'standby' } });
    ready = true;
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    expect((await fetch(`${base}/nope`)).status).toBe(404);
    expect((await fetch(`${base}/healthz`, { method: 'POST' })).status).toBe(405);
  });

  it('exposes reconcile, queue and leader metrics', async () => {
    metrics.reconciled('configs', { result: 'success' }, 12);
    metrics.reconciled('configs', { result: 'error', error: new Error('x'), retryInMs: 5 }, 3);
    metrics.reconciled('saga', { result: 'terminal', error: new Error('x') }, 1);
    leader = true;
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(text).toContain(
      'palisade_operator_reconcile_duration_seconds_count{controller="configs",result="success"} 1',
    );
    expect(text).toContain(
      'palisade_operator_reconcile_errors_total{controller="configs",kind="retryable"} 1',
    );
    expect(text).toContain(
      'palisade_operator_reconcile_errors_total{controller="saga",kind="terminal"} 1',
    );
    expect(text).toContain('palisade_operator_queue_depth{controller="configs"} 3');
    expect(text).toContain('palisade_operator_leader 1');
  });
});
