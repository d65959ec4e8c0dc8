/**
 * Sagas on a Raft group of three real sidecar processes, with real HTTP step services that record
 * every call and its Idempotency-Key: instances started through any member run to completion;
 * a failing step compensates every completed step in reverse order, exactly once in effect; a
 * compensation that keeps failing ends in NeedsAttention, in the state and in the metrics.
 */
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { SagaGroup, checkInstance, post } from './support/saga-group.js';
import {
  buildSidecar,
  metricValue,
  waitFor,
  type SidecarProcess,
} from './support/sidecar-process.js';

jest.setTimeout(120_000);

let group: SagaGroup;

beforeAll(async () => {
  buildSidecar();
  group = await SagaGroup.start();
  await group.leader();
}, 180_000);

afterAll(async () => {
  await group?.stop();
});

async function follower(): Promise<SidecarProcess> {
  const leader = await group.leader();
  return [...group.members.entries()].find(([id]) => id !== leader)?.[1] as SidecarProcess;
}

describe('sagas on a Raft group of sidecars', () => {
  it('runs an instance started through a follower to Completed, with keys, traceparent and a step log', async () => {
    const via = await follower();
    const id = await group.startInstance('test/order', { items: ['book'], total: 12 }, via);
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    const view = await group.terminal('test/order', id);
    expect(view.state).toBe('Completed');
    expect(view.steps.map((s) => s.action.status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    expect(view.log.filter((l) => l.event === 'succeeded').map((l) => l.step)).toEqual([
      'reserve',
      'charge',
      'ship',
    ]);
    checkInstance(group.recorder, view);
    const charge = group.recorder.calls.find((c) => c.key === `${id}-charge`);
    expect(JSON.parse(charge?.body ?? '{}')).toEqual({ amount: 12 });
    // The bare name works when it is unambiguous.
    expect((await via.admin(`/v1/sagas/order/${id}`)).status).toBe(200);
  });

  it('compensates every completed step in reverse order, exactly once in effect, when a step fails', async () => {
    group.recorder.behave('/no-stock', { status: 409 });
    const id = await group.startInstance('test/doomed', { items: ['book'], total: 3 });
    const view = await group.terminal('test/doomed', id);
    expect(view.state).toBe('Compensated');
    expect(view.error).toBe('step ship failed: HTTP 409');
    checkInstance(group.recorder, view);
    const undo = group.recorder.calls.filter(
      (c) => c.key?.startsWith(id) && c.key.endsWith('-compensation'),
    );
    expect(undo.map((c) => `${c.method} ${c.path}`)).toEqual([
      'POST /refund',
      `DELETE /reserve/${id}-reserve`,
    ]);
    expect(JSON.parse(undo[0]?.body ?? '{}')).toEqual({ charge: `${id}-charge` });
  });

  it('retries a failing compensation, then ends in NeedsAttention with the error, in status and metrics', async () => {
    group.recorder.behave('/no-stock', { status: 409 });
    group.recorder.behave('/broken-undo', { status: 500 });
    const id = await group.startInstance('test/stuck', { items: [] });
    const view = await group.terminal('test/stuck', id);
    expect(view.state).toBe('NeedsAttention');
    expect(view.error).toBe('compensation of step reserve failed: HTTP 500');
    expect(view.steps[0]?.compensation).toMatchObject({ status: 'failed', attempts: 3 });
    const undos = group.recorder.calls.filter((c) => c.key === `${id}-reserve-compensation`);
    expect(undos).toHaveLength(3);
    // Each replica's gauge reads its own table, which holds the final entry once that replica
    // applied it (a follower learns the commit a heartbeat later, a new leader once its barrier
    // commits): every replica shows the instance, eventually.
    const stuck = { saga: 'test/stuck', state: 'NeedsAttention' };
    const scrapes = await Promise.all(
      group.live().map((member) =>
        waitFor(`admin port ${member.ports.admin} to count the instance`, async () => {
          const text = (await member.admin('/metrics')).body;
          return metricValue(text, 'palisade_saga_instances', stuck) === 1 ? text : undefined;
        }),
      ),
    );
    // The counters are the process's that drove the instance (the leader of the time), so the
    // group's total is the figure to check: one finish, two retries, three compensation calls.
    const total = (name: string, labels?: Record<string, string>): number =>
      scrapes.reduce((sum, text) => sum + (metricValue(text, name, labels) ?? 0), 0);
    expect(
      total('palisade_saga_execution_duration_seconds_count', {
        saga: 'test/stuck',
        status: 'NeedsAttention',
      }),
    ).toBe(1);
    expect(total('palisade_saga_step_retries_total')).toBeGreaterThanOrEqual(2);
    expect(total('palisade_saga_compensations_total')).toBeGreaterThanOrEqual(2);
  });

  it('refuses bad requests: unknown saga 404, missing input 400 naming the field, malformed id 400', async () => {
    const [member] = group.live() as [SidecarProcess];
    expect((await post(member, '/v1/sagas/test/nope', { input: {} })).status).toBe(404);
    const missing = await post(member, '/v1/sagas/test/order', { input: { items: [] } });
    expect(missing.status).toBe(400);
    expect(missing.body).toContain('input.total');
    const extra = await post(member, '/v1/sagas/test/order', { input: {}, other: 1 });
    expect(extra.status).toBe(400);
    expect(extra.body).toContain('other');
    expect((await post(member, '/v1/sagas/test/order', { input: [1] })).status).toBe(400);
    expect((await member.admin('/v1/sagas/test/order/xyz')).status).toBe(400);
    expect((await member.admin(`/v1/sagas/test/order/${'0'.repeat(32)}`)).status).toBe(404);
  });
});
