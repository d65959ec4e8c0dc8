/**
 * A raft section that arrives after start (as in a pod, where the first config usually has
 * none): the real sidecar process keeps proxying while the section cannot start (its secret
 * file is not there yet), says why on /healthz and in its log, starts the member on its own
 * once the file appears, stops it cleanly when a config drops the section, and starts it again
 * from the same data directory when the section comes back.
 */
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEchoServer, type EchoServer } from './support/echo-server.js';
import {
  freePort,
  send,
  startSidecarProcess,
  waitFor,
  type SidecarProcess,
  type TestConfig,
} from './support/sidecar-process.js';

jest.setTimeout(60_000);

interface HealthCheck {
  name: string;
  status: string;
  readiness: boolean;
  error?: string;
}

const dir = mkdtempSync(join(tmpdir(), 'palisade-raft-later-'));
const secretFile = join(dir, 'raft-key');
let app: EchoServer;
let raftPort: number;
let sidecar: SidecarProcess;
let firstToken = Infinity;

function config(version: string, withRaft: boolean, group = 'test/later'): TestConfig {
  return {
    version,
    app: { host: '127.0.0.1', port: app.port },
    ...(withRaft
      ? {
          raft: {
            group,
            id: 'solo',
            peers: [{ id: 'solo', address: `127.0.0.1:${raftPort}`, voter: true }],
            secretFile,
            dataDir: join(dir, 'data'),
          },
        }
      : {}),
  };
}

async function raftCheck(): Promise<HealthCheck | undefined> {
  const health = JSON.parse((await sidecar.admin('/healthz')).body) as { checks: HealthCheck[] };
  return health.checks.find((c) => c.name === 'raft');
}

async function acquire(holder: string): Promise<{ status: number; token?: number }> {
  const answer = await send(sidecar.ports.admin, {
    method: 'POST',
    path: '/v1/leases/job/acquire',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ holder, ttl: '1s' }),
  });
  return { status: answer.status, ...(JSON.parse(answer.body) as { token?: number }) };
}

/** Whether something accepts TCP connections on the Raft port. */
function raftPortOpen(): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port: raftPort });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function proxiesToApp(): Promise<boolean> {
  return (await send(sidecar.ports.inbound, { path: '/still-here' })).status === 200;
}

beforeAll(async () => {
  app = await startEchoServer();
  raftPort = await freePort();
  sidecar = await startSidecarProcess({ config: config('v1', false), raftPort });
});

afterAll(async () => {
  await sidecar?.stop();
  await app?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('a raft section delivered after start', () => {
  it('without a section: no raft check, and the Raft API answers 503 saying why', async () => {
    expect(await raftCheck()).toBeUndefined();
    const answer = await sidecar.admin('/v1/raft');
    expect(answer.status).toBe(503);
    expect(JSON.parse(answer.body)).toMatchObject({
      error: { code: 'PALISADE_RAFT_UNAVAILABLE', message: expect.stringMatching(/no Raft group/) },
    });
  });

  it('an unusable section (secret file missing) keeps the proxy up and reports the reason', async () => {
    await sidecar.writeConfig(config('v2', true));
    const check = await waitFor('a failing raft check', async () => {
      const c = await raftCheck();
      return c?.status === 'fail' && /not started/.test(c.error ?? '') ? c : undefined;
    });
    expect(check.error).toContain(secretFile);
    expect(check.readiness).toBe(true); // standalone: /readyz waits for "raft joined"
    expect((await sidecar.admin('/readyz')).status).toBe(503);
    expect(await proxiesToApp()).toBe(true);
    expect(sidecar.logs().some((l) => l.msg?.startsWith('Raft member could not start'))).toBe(true);
    const api = await sidecar.admin('/v1/leases/job');
    expect(api.status).toBe(503);
    expect(api.body).toContain(secretFile);
  });

  it('starts on its own (bounded retry) once the secret file appears, and grants leases', async () => {
    writeFileSync(secretFile, randomBytes(32), { mode: 0o400 });
    await waitFor(
      'the raft check to pass',
      async () => (await raftCheck())?.status === 'pass',
      15_000,
      100,
    );
    const status = JSON.parse((await sidecar.admin('/v1/raft')).body) as { role: string };
    expect(status.role).toBe('leader');
    const grant = await acquire('worker-1');
    expect(grant.status).toBe(200);
    expect(grant.token).toBeGreaterThan(0);
    firstToken = grant.token ?? Infinity;
    expect((await sidecar.admin('/readyz')).status).toBe(200);
  });

  it('a config without the section stops the member cleanly; the proxy keeps serving', async () => {
    await sidecar.writeConfig(config('v3', false));
    await waitFor('the Raft port to close', async () => !(await raftPortOpen()), 10_000, 50);
    expect(await raftCheck()).toBeUndefined();
    expect((await sidecar.admin('/v1/raft')).status).toBe(503);
    expect(await proxiesToApp()).toBe(true);
    expect(sidecar.logs().some((l) => l.msg === 'stopping the Raft member')).toBe(true);
    expect(sidecar.child.exitCode).toBeNull();
  });

  it('the section back: the member restarts from its data dir (tokens keep growing)', async () => {
    await sidecar.writeConfig(config('v4', true));
    const grant = await waitFor(
      'a lease granted after the restart',
      async () => {
        const g = await acquire('worker-2');
        return g.status === 200 ? g : undefined;
      },
      15_000,
      100,
    );
    // Same log: the token is above the first grant's (fencing tokens never go back).
    expect(grant.token).toBeGreaterThan(firstToken);
  });

  it('a reload that keeps the raft settings keeps the member running (no restart)', async () => {
    const starts = () => sidecar.logs().filter((l) => l.msg === 'Raft member started').length;
    const before = starts();
    await sidecar.writeConfig({ ...config('v5', true), logLevel: 'debug' });
    await waitFor('v5 in force', async () =>
      (await sidecar.admin('/config')).body.includes('"v5"'),
    );
    expect(starts()).toBe(before);
    expect((await raftCheck())?.status).toBe('pass');
  });

  it('another group on the same data dir is refused, saying why; the proxy keeps serving', async () => {
    await sidecar.writeConfig(config('v6', true, 'test/other'));
    const check = await waitFor('the raft check to refuse the data dir', async () => {
      const c = await raftCheck();
      return c?.status === 'fail' && /holds the log of test\/later/.test(c.error ?? '')
        ? c
        : undefined;
    });
    expect(check.error).toContain('restart the pod');
    expect(await proxiesToApp()).toBe(true);
  });
});
