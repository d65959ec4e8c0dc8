/**
 * A Raft group of three real sidecar processes configured with test sagas whose steps call a
 * {@link SagaRecorder}, and the checks every saga test makes on what the recorder saw.
 */
import { expect } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEchoServer, type EchoServer } from './echo-server.js';
import { startSagaRecorder, type SagaRecorder } from './saga-recorder.js';
import {
  freePort,
  send,
  startSidecarProcess,
  waitFor,
  type HttpAnswer,
  type SidecarProcess,
  type TestConfig,
} from './sidecar-process.js';

/** An instance as `GET /v1/sagas/{saga}/{id}` returns it. */
export interface InstanceView {
  id: string;
  saga: string;
  state: string;
  error?: string;
  steps: {
    name: string;
    action: { status: string; attempts: number };
    compensation?: { status: string; attempts: number };
  }[];
  log: { step: string; phase: string; event: string; attempt: number }[];
}

const TERMINAL = new Set(['Completed', 'Compensated', 'Failed', 'NeedsAttention']);

/** The sagas every test group runs (step URLs point at the recorder). */
export function testSagas(url: string): unknown[] {
  const reserve = {
    name: 'reserve',
    action: {
      method: 'POST',
      url: `${url}/reserve`,
      body: { items: '{{input.items}}' },
      timeout: '3s',
    },
    compensation: {
      method: 'DELETE',
      url: `${url}/reserve/{{steps.reserve.response.body.id}}`,
      retries: { attempts: 3, backoff: '50ms' },
    },
  };
  const charge = {
    name: 'charge',
    action: {
      method: 'POST',
      url: `${url}/charge`,
      body: { amount: '{{input.total}}' },
      timeout: '3s',
    },
    compensation: {
      method: 'POST',
      url: `${url}/refund`,
      body: { charge: '{{steps.charge.response.body.id}}' },
      retries: { attempts: 3, backoff: '50ms' },
    },
  };
  return [
    {
      name: 'test/order',
      timeout: '30s',
      steps: [reserve, charge, { name: 'ship', action: { method: 'POST', url: `${url}/ship` } }],
    },
    {
      name: 'test/doomed',
      timeout: '30s',
      steps: [
        reserve,
        charge,
        { name: 'ship', action: { method: 'POST', url: `${url}/no-stock` } },
      ],
    },
    {
      name: 'test/stuck',
      steps: [
        {
          ...reserve,
          compensation: {
            method: 'POST',
            url: `${url}/broken-undo`,
            retries: { attempts: 3, backoff: '50ms' },
          },
        },
        { name: 'ship', action: { method: 'POST', url: `${url}/no-stock` } },
      ],
    },
  ];
}

/** Three sidecars in one Raft group, and the recorder their sagas call. */
export class SagaGroup {
  readonly members = new Map<string, SidecarProcess>();
  private readonly configs = new Map<string, { config: TestConfig; raftPort: number }>();

  private constructor(
    readonly recorder: SagaRecorder,
    private readonly app: EchoServer,
    private readonly dir: string,
  ) {}

  static async start(ids = ['a', 'b', 'c']): Promise<SagaGroup> {
    const recorder = await startSagaRecorder();
    const app = await startEchoServer();
    const dir = mkdtempSync(join(tmpdir(), 'palisade-saga-'));
    const group = new SagaGroup(recorder, app, dir);
    const secretFile = join(dir, 'raft-secret');
    writeFileSync(secretFile, randomBytes(32).toString('hex'), { mode: 0o600 });
    const raftPorts = await Promise.all(ids.map(() => freePort()));
    const peers = ids.map((id, i) => ({ id, address: `127.0.0.1:${raftPorts[i]}`, voter: true }));
    ids.forEach((id, i) => {
      group.configs.set(id, {
        raftPort: raftPorts[i] as number,
        config: {
          version: 'v1',
          app: { host: '127.0.0.1', port: app.port },
          sagas: testSagas(recorder.url),
          raft: { group: 'test/sagas', id, peers, secretFile, dataDir: join(dir, `data-${id}`) },
        },
      });
    });
    // Settle every start before giving up, so that a failed start leaves nothing running.
    const started = await Promise.allSettled(ids.map((id) => group.restart(id)));
    const failed = started.find((r) => r.status === 'rejected');
    if (failed !== undefined) {
      await group.stop();
      throw failed.reason;
    }
    return group;
  }

  /** (Re)starts member `id` with its config, Raft port and data directory. */
  async restart(id: string): Promise<SidecarProcess> {
    const { config, raftPort } = this.configs.get(id) as { config: TestConfig; raftPort: number };
    // Generous: six node processes loading at once on a loaded 2-core host take a while.
    const member = await startSidecarProcess({ config, raftPort, startTimeoutMs: 60_000 });
    this.members.set(id, member);
    return member;
  }

  /** The leader all live members agree on. */
  leader(): Promise<string> {
    return waitFor(
      'a leader all live members agree on',
      async () => {
        const statuses = await Promise.all(
          this.live().map(
            async (m) =>
              JSON.parse((await m.admin('/v1/raft')).body) as {
                role: string;
                leader: string | null;
              },
          ),
        );
        const leader = statuses[0]?.leader;
        return leader && this.members.has(leader) && statuses.every((s) => s.leader === leader)
          ? leader
          : undefined;
      },
      30_000,
    );
  }

  /** Live members (not killed). */
  live(): SidecarProcess[] {
    return [...this.members.values()].filter(
      (m) => m.child.exitCode === null && m.child.signalCode === null,
    );
  }

  /** SIGKILLs member `id` and waits until it is gone. */
  async kill(id: string): Promise<void> {
    const member = this.members.get(id) as SidecarProcess;
    member.kill('SIGKILL');
    await member.exited;
    await member.stop();
  }

  /** `POST /v1/sagas/{saga}` through `via` (default: the first live member), retried on 503. */
  async startInstance(saga: string, input: unknown, via?: SidecarProcess): Promise<string> {
    const answer = await waitFor(
      `POST /v1/sagas/${saga} answered`,
      async () => {
        const target = via ?? (this.live()[0] as SidecarProcess);
        const res = await post(target, `/v1/sagas/${saga}`, { input });
        return res.status === 503 ? undefined : res;
      },
      20_000,
      100,
    );
    expect(answer.status).toBe(202);
    return (JSON.parse(answer.body) as { id: string }).id;
  }

  /** `GET /v1/sagas/{saga}/{id}` through a live member. */
  async view(saga: string, id: string): Promise<InstanceView | undefined> {
    for (const member of this.live()) {
      const res = await member.admin(`/v1/sagas/${saga}/${id}`).catch(() => undefined);
      if (res?.status === 200) return JSON.parse(res.body) as InstanceView;
    }
    return undefined;
  }

  /** Waits until the instance is finished and returns it. */
  terminal(saga: string, id: string, timeoutMs = 45_000): Promise<InstanceView> {
    return waitFor(
      `instance ${id} of ${saga} to finish`,
      async () => {
        const view = await this.view(saga, id);
        return view !== undefined && TERMINAL.has(view.state) ? view : undefined;
      },
      timeoutMs,
      100,
    );
  }

  async stop(): Promise<void> {
    await Promise.all([...this.members.values()].map((m) => m.stop()));
    await this.recorder.stop();
    await this.app.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** POSTs JSON to a member's admin API. */
export function post(member: SidecarProcess, path: string, body: unknown): Promise<HttpAnswer> {
  return send(member.ports.admin, {
    method: 'POST',
    path,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

/**
 * What must hold for every finished instance, from the services' point of view: each key took
 * effect at most once; every call carried the key and a traceparent of the instance's trace;
 * Completed did every action and undid nothing; Compensated/Failed undid every action that took
 * effect (and had a compensation), in reverse order; nothing was undone that was not done.
 */
export function checkInstance(recorder: SagaRecorder, view: InstanceView): void {
  const mine = recorder.calls.filter((c) => c.key?.startsWith(`${view.id}-`));
  expect(mine.length).toBeGreaterThan(0);
  for (const call of mine)
    expect(call.traceparent).toMatch(new RegExp(`^00-${view.id}-[0-9a-f]{16}-0[01]$`));
  const effects = mine.filter((c) => c.newEffect).map((c) => c.key as string);
  expect({ id: view.id, duplicates: effects.filter((k, i) => effects.indexOf(k) !== i) }).toEqual({
    id: view.id,
    duplicates: [],
  });
  const did = (step: string) => effects.includes(`${view.id}-${step}`);
  const undid = (step: string) => effects.includes(`${view.id}-${step}-compensation`);
  for (const step of view.steps)
    if (undid(step.name))
      expect({ step: step.name, did: did(step.name) }).toEqual({ step: step.name, did: true });
  if (view.state === 'Completed') {
    expect(view.steps.map((s) => [s.name, did(s.name), undid(s.name)])).toEqual(
      view.steps.map((s) => [s.name, true, false]),
    );
  }
  if (view.state === 'Compensated' || view.state === 'Failed') {
    const undoable = view.steps
      .filter((s) => s.compensation !== undefined && did(s.name))
      .map((s) => s.name);
    expect(undoable.map((name) => [name, undid(name)])).toEqual(
      undoable.map((name) => [name, true]),
    );
    const order = effects
      .filter((k) => k.endsWith('-compensation'))
      .map((k) => k.slice(view.id.length + 1, -'-compensation'.length));
    expect(order).toEqual([...undoable].reverse());
  }
}
