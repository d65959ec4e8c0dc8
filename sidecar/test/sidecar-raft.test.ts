/**
 * `palisade-sidecar` with a `raft` section: three real sidecar processes form a group, elect a
 * leader and serve the lease API of API.md on every member's admin port (followers forward to
 * the leader); killing the leader hands the leases to a new one with larger fencing tokens.
 */
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEchoServer, type EchoServer } from './support/echo-server.js';
import {
  buildSidecar,
  freePort,
  send,
  startSidecarProcess,
  waitFor,
  type HttpAnswer,
  type SidecarProcess,
} from './support/sidecar-process.js';

jest.setTimeout(90_000);

interface RaftStatus {
  id: string;
  role: string;
  leader?: string;
  term: number;
}

const dir = mkdtempSync(join(tmpdir(), 'palisade-sidecar-raft-'));
const ids = ['a', 'b', 'c'];
let app: EchoServer;
const members = new Map<string, SidecarProcess>();

function post(member: SidecarProcess, path: string, body: unknown): Promise<HttpAnswer> {
  return send(member.ports.admin, {
    method: 'POST',
    path,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

async function raftStatus(member: SidecarProcess): Promise<RaftStatus> {
  return JSON.parse((await member.admin('/v1/raft')).body) as RaftStatus;
}

/** Waits until every given member agrees on one leader (not `gone`), and returns its id. */
function agreedLeader(among: SidecarProcess[], gone?: string): Promise<string> {
  return waitFor(
    'a leader all members agree on',
    async () => {
      const statuses = await Promise.all(among.map(raftStatus));
      const leader = statuses[0]?.leader;
      return leader !== undefined && leader !== gone && statuses.every((s) => s.leader === leader)
        ? leader
        : undefined;
    },
    30_000,
  );
}

beforeAll(async () => {
  buildSidecar();
  app = await startEchoServer();
  const secretFile = join(dir, 'raft-secret');
  writeFileSync(secretFile, randomBytes(32).toString('hex'), { mode: 0o600 });
  const raftPorts = await Promise.all(ids.map(() => freePort()));
  const peers = ids.map((id, i) => ({ id, address: `127.0.0.1:${raftPorts[i]}`, voter: true }));
  const started = await Promise.all(
    ids.map((id, i) =>
      startSidecarProcess({
        raftPort: raftPorts[i],
        config: {
          version: 'v1',
          app: { host: '127.0.0.1', port: app.port },
          raft: { group: 'test/raft', id, peers, secretFile, dataDir: join(dir, `data-${id}`) },
        },
      }),
    ),
  );
  started.forEach((member, i) => members.set(ids[i] as string, member));
}, 120_000);

afterAll(async () => {
  await Promise.all([...members.values()].map((m) => m.stop()));
  await app?.stop();
});

describe('a Raft group of sidecars', () => {
  it('elects one leader and reports it on /v1/raft and /readyz', async () => {
    const leader = await agreedLeader([...members.values()]);
    expect(ids).toContain(leader);
    for (const member of members.values()) {
      await waitFor(
        'readyz 200',
        async () => (await member.admin('/readyz')).status === 200,
        15_000,
      );
    }
  });

  it('grants a lease once, through any member, with strictly increasing fencing tokens', async () => {
    const [a, b, c] = ids.map((id) => members.get(id) as SidecarProcess) as [
      SidecarProcess,
      SidecarProcess,
      SidecarProcess,
    ];
    const first = await post(a, '/v1/leases/orders-leader/acquire', {
      holder: 'app-a',
      ttl: '10s',
    });
    expect(first.status).toBe(200);
    const grant = JSON.parse(first.body) as { granted: boolean; token: number };
    expect(grant.granted).toBe(true);

    const conflict = await post(b, '/v1/leases/orders-leader/acquire', {
      holder: 'app-b',
      ttl: '10s',
    });
    expect(conflict.status).toBe(409);
    expect(JSON.parse(conflict.body)).toMatchObject({ holder: 'app-a' });

    const stale = await post(c, '/v1/leases/orders-leader/renew', {
      holder: 'app-a',
      token: grant.token - 1,
    });
    expect(stale.status).toBe(409);

    const released = await post(c, '/v1/leases/orders-leader/release', {
      holder: 'app-a',
      token: grant.token,
    });
    expect(released.status).toBe(200);
    const second = await post(b, '/v1/leases/orders-leader/acquire', {
      holder: 'app-b',
      ttl: '10s',
    });
    expect(second.status).toBe(200);
    expect((JSON.parse(second.body) as { token: number }).token).toBeGreaterThan(grant.token);
  });

  it('refuses malformed lease requests with 400 naming the field', async () => {
    const a = members.get('a') as SidecarProcess;
    const bad = await post(a, '/v1/leases/x/acquire', { holder: '', ttl: 'soon' });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatch(/holder|ttl/);
  });

  it('keeps the lease exclusive across a leader kill, with a larger token afterwards', async () => {
    const leaderId = await agreedLeader([...members.values()]);
    const leader = members.get(leaderId) as SidecarProcess;
    const survivors = [...members.entries()].filter(([id]) => id !== leaderId).map(([, m]) => m);
    const before = await post(survivors[0] as SidecarProcess, '/v1/leases/failover/acquire', {
      holder: 'old',
      ttl: '1s',
    });
    expect(before.status).toBe(200);
    const oldToken = (JSON.parse(before.body) as { token: number }).token;

    leader.kill('SIGKILL');
    await leader.exited;
    members.delete(leaderId);
    const newLeader = await agreedLeader(survivors, leaderId);
    expect(newLeader).not.toBe(leaderId);

    // The new leader honours the old grant for its full TTL, then grants with a larger token.
    const holdersSeen = new Set<string>();
    const after = await waitFor(
      'the lease to pass to the new holder',
      async () => {
        const answer = await post(survivors[1] as SidecarProcess, '/v1/leases/failover/acquire', {
          holder: 'new',
          ttl: '5s',
        });
        if (answer.status === 409)
          holdersSeen.add((JSON.parse(answer.body) as { holder: string }).holder);
        return answer.status === 200 ? answer : undefined;
      },
      30_000,
    );
    expect([...holdersSeen].filter((h) => h !== 'old')).toEqual([]);
    expect(after.status).toBe(200);
    expect((JSON.parse(after.body) as { token: number }).token).toBeGreaterThan(oldToken);
  });
});
