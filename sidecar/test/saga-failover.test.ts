/**
 * The Raft leader running a saga is SIGKILLed at each point of the saga in turn — before the
 * first step, during a step (the service holds the call), after a step took effect (its outcome
 * maybe not committed), during a compensation, after a compensation took effect. Each time the
 * killed member restarts from its data directory, and the instance must still end in a terminal
 * state with every key taking effect at most once, and no step that took effect left
 * uncompensated in a failed instance (`checkInstance`).
 */
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { SagaGroup, checkInstance } from './support/saga-group.js';
import { buildSidecar, waitFor, type SidecarProcess } from './support/sidecar-process.js';

jest.setTimeout(180_000);

let group: SagaGroup;

beforeAll(async () => {
  buildSidecar();
  group = await SagaGroup.start();
  await group.leader();
}, 240_000);

afterAll(async () => {
  await group?.stop();
});

/** A member that is not `leader`, to send requests through (it survives the kill). */
function survivor(leader: string): SidecarProcess {
  return [...group.members.entries()].find(([id]) => id !== leader)?.[1] as SidecarProcess;
}

/**
 * Resolves with the key of the next call to `path` (scenarios run one instance at a time: the
 * call is the current instance's, even when it arrives before the 202 does).
 */
function callArrives(path: string): Promise<string> {
  return new Promise((resolve) => {
    const off = group.recorder.onCall((_method, p, key) => {
      if (p.startsWith(path) && key !== undefined) {
        off();
        resolve(key);
      }
    });
  });
}

/** Resolves once `key` took effect at the service. */
function effectOf(key: string): Promise<boolean> {
  return waitFor(`effect of ${key}`, () => group.recorder.effects().includes(key), 30_000, 5);
}

/** Kills the leader, releases held calls, restarts the member; returns once it is back. */
async function killLeaderAndRestart(leader: string): Promise<void> {
  await group.kill(leader);
  group.recorder.release();
  await group.restart(leader);
}

async function scenario(
  saga: 'test/order' | 'test/doomed',
  arm: () => Promise<unknown>,
): Promise<string> {
  const leader = await group.leader();
  const point = arm();
  const id = await group.startInstance(saga, { items: ['x'], total: 5 }, survivor(leader));
  await point;
  await killLeaderAndRestart(leader);
  const view = await group.terminal(saga, id);
  checkInstance(group.recorder, view);
  expect(view.state).toBe(saga === 'test/order' ? 'Completed' : 'Compensated');
  return id;
}

describe('sagas survive the loss of the leader at every point', () => {
  beforeAll(() => group.recorder.behave('/no-stock', { status: 409 }));

  it('killed right after the start committed (before the first step)', async () => {
    await scenario('test/order', () => Promise.resolve());
  });

  it('killed during a step (the service holds the call; it takes effect after the kill)', async () => {
    group.recorder.behave('/charge', { hold: true });
    try {
      const id = await scenario('test/order', () => callArrives('/charge'));
      // The new leader re-issued the uncertain step with the same key: the service saw it again.
      expect(
        group.recorder.calls.filter((c) => c.key === `${id}-charge`).length,
      ).toBeGreaterThanOrEqual(2);
    } finally {
      group.recorder.behave('/charge', {});
    }
  });

  it('killed after a step took effect, its outcome maybe not committed', async () => {
    await scenario('test/order', async () => effectOf(await callArrives('/charge')));
  });

  it('killed during a compensation (held at the service)', async () => {
    group.recorder.behave('/refund', { hold: true });
    try {
      await scenario('test/doomed', () => callArrives('/refund'));
    } finally {
      group.recorder.behave('/refund', {});
    }
  });

  it('killed after a compensation took effect', async () => {
    await scenario('test/doomed', async () => effectOf(await callArrives('/refund')));
  });
});
