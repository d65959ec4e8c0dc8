import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { HealthChecks, createAdminServer, type AdminServer } from '../admin/index.js';
import { ConfigStore, validateConfigDocument } from '../config/index.js';
import { Metrics } from '../metrics/index.js';
import type { EntryReply } from '../raft-node/index.js';
import { compileSagas } from './definition.js';
import {
  createSagaHttpHandler,
  createSagaRouter,
  createSagaService,
  type SagaCall,
} from './saga-api.js';
import { SagaTable } from './saga-table.js';

const ID = '0123456789abcdef0123456789abcdef';

/** The leader's side, answering by request (the real one runs in sidecar/test/saga-*.test.ts). */
const calls: SagaCall[] = [];
async function callLeader(call: SagaCall): Promise<EntryReply> {
  calls.push(call);
  if (call.saga === 'shop/down') {
    return { ok: false, code: 'PALISADE_RAFT_NO_LEADER', message: 'no leader', leader: '' };
  }
  return call.op === 'start'
    ? { ok: true, result: { status: 202, body: { id: ID } } }
    : { ok: true, result: { status: 200, body: { id: call.id, state: 'Completed' } } };
}

/** Two admin servers: one serves the saga routes with Express only, one tries the fast path first. */
const servers: AdminServer[] = [];
const bases: string[] = [];
beforeAll(async () => {
  for (const fast of [false, true]) {
    const store = new ConfigStore({
      initial: validateConfigDocument({ version: 'v1', app: { host: '127.0.0.1', port: 1 } }),
    });
    const admin = createAdminServer({
      store,
      metrics: new Metrics({ processMetrics: false }),
      checks: new HealthChecks(),
      port: 0,
      routes: [{ path: '/v1', router: createSagaRouter(callLeader) }],
    });
    if (fast) admin.intercept(createSagaHttpHandler(callLeader));
    servers.push(admin);
    bases.push(`http://127.0.0.1:${(await admin.listen()).port}`);
  }
});
afterAll(async () => {
  for (const server of servers) await server.close();
});

interface Probe {
  readonly method: 'GET' | 'POST';
  readonly path: string;
  readonly body?: string;
  readonly contentType?: string;
}

async function answers(probe: Probe) {
  const out = [];
  for (const base of bases) {
    calls.length = 0;
    const response = await fetch(`${base}${probe.path}`, {
      method: probe.method,
      body: probe.body,
      headers:
        probe.body === undefined ? {} : { 'content-type': probe.contentType ?? 'application/json' },
    });
    out.push({
      status: response.status,
      retryAfter: response.headers.get('retry-after'),
      contentType: response.headers.get('content-type'),
      body: (await response.json()) as unknown,
      calls: [...calls],
    });
  }
  return out;
}

describe('saga API fast path', () => {
  const probes: Probe[] = [
    { method: 'POST', path: '/v1/sagas/shop/order', body: '{"input":{"total":3}}' },
    { method: 'POST', path: '/v1/sagas/order', body: '{"input":{"total":3}}' },
    { method: 'POST', path: '/v1/sagas/shop/order', body: '{}' },
    { method: 'POST', path: '/v1/sagas/shop/down', body: '{"input":{}}' },
    { method: 'POST', path: '/v1/sagas/shop/order', body: '{"input":{},"other":1}' },
    { method: 'POST', path: '/v1/sagas/shop/order', body: '{"input":[1]}' },
    { method: 'POST', path: '/v1/sagas/shop/order', body: '[1]' },
    { method: 'POST', path: '/v1/sagas/shop/order', body: '{"input":' },
    {
      method: 'POST',
      path: '/v1/sagas/shop/order',
      body: '{"input":{}}',
      contentType: 'text/plain',
    },
    {
      method: 'POST',
      path: '/v1/sagas/shop/order',
      body: JSON.stringify({ input: { big: 'x'.repeat(70 * 1024) } }),
    },
    { method: 'POST', path: '/v1/sagas/Shop/order', body: '{"input":{}}' },
    { method: 'GET', path: `/v1/sagas/shop/order/${ID}` },
    { method: 'GET', path: `/v1/sagas/order/${ID}` },
    { method: 'GET', path: `/v1/sagas/shop/down/${ID}` },
    { method: 'GET', path: '/v1/sagas/shop/order/xyz' },
  ];

  it.each(probes)('$method $path: the same answer with and without Express', async (probe) => {
    const [slow, fast] = await answers(probe);
    expect(fast).toEqual(slow);
  });

  it('answers a well-formed start and view without Express, and leaves other paths to it', async () => {
    const handler = createSagaHttpHandler(callLeader);
    const taken = (method: string, url: string) => {
      const req = { method, url, headers: {}, resume: () => undefined, on: () => undefined };
      const res = { writeHead: () => res, end: () => undefined };
      return handler(req as never, res as never);
    };
    expect(taken('GET', `/v1/sagas/shop/order/${ID}`)).toBe(true);
    expect(taken('GET', '/v1/sagas/shop/order/xyz')).toBe(false);
    expect(taken('GET', `/v1/sagas/shop/order/${ID}?x=1`)).toBe(false);
    expect(taken('POST', '/v1/sagas/a/b/c')).toBe(false);
    expect(taken('DELETE', '/v1/sagas/shop/order')).toBe(false);
    expect(taken('POST', '/v1/leases/x/acquire')).toBe(false);
  });
});

describe('saga service (the leader side)', () => {
  const compiled = compileSagas([
    { name: 'shop/order', steps: [{ name: 'ship', action: { method: 'POST', url: 'http://s/' } }] },
  ]);
  if (!compiled.ok) throw new Error('the test saga does not compile');
  const table = new SagaTable();
  table.apply(
    { index: 1, term: 2 },
    {
      op: 'start',
      id: ID,
      saga: 'shop/order',
      input: {},
      steps: [{ name: 'ship', compensable: false }],
      at: 1000,
    },
  );
  let ready = false;
  const proposed: unknown[] = [];
  const serve = createSagaService({
    log: {
      propose: (command) => {
        proposed.push(command);
        return Promise.resolve({
          ok: false,
          code: 'PALISADE_RAFT_TIMEOUT',
          message: 'not in this test',
          leader: '',
        });
      },
      leadership: () => ({ leader: true, term: 2 }),
    },
    table: () => table,
    definitions: () => compiled.sagas,
    orchestrator: { ready: () => ready, started: () => undefined },
    wallClock: () => 1000,
  });

  it('serves neither a view nor a start before the leader caught up with its term', async () => {
    ready = false;
    for (const call of [
      { op: 'view', saga: 'shop/order', id: ID },
      { op: 'start', saga: 'shop/order', input: {} },
    ]) {
      expect(await serve(call)).toMatchObject({
        status: 503,
        body: { error: { code: 'PALISADE_RAFT_NOT_LEADER' } },
      });
    }
    expect(proposed).toEqual([]);
    ready = true;
    expect(await serve({ op: 'view', saga: 'shop/order', id: ID })).toMatchObject({
      status: 200,
      body: { id: ID, state: 'Running' },
    });
  });
});
