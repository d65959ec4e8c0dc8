// @ts-check
// Black-box: the shop's lease and saga paths through a real palisade-sidecar running a one-member
// Raft group (the demo's pods run three): orders keeps the lease shop-leader (GET /leader), and
// the demo's Saga place-order, compiled by the operator's real compiler, completes while payments
// answers and is compensated — the stock given back — while it fails. Needs `npx tsc -b`.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseDocument } from 'yaml';
import {
  compileSidecarConfigs,
  sidecarConfigForPod,
} from '../../../operator/dist/compiler/index.js';
import { LOCAL_RAFT, startLocalShop } from '../../driver/local-shop.js';
import { callJson } from '../src/http.js';

const here = dirname(fileURLToPath(import.meta.url));
const ORDER = { items: [{ sku: 'tea', quantity: 2 }] };

/**
 * The sagas section the operator compiles for an orders pod from demo/policies/saga.yaml, its
 * Service URLs pointed at the local inventory and payments.
 * @param {{ inventory: string, payments: string }} urls
 */
function compiledSagas(urls) {
  const saga = parseDocument(readFileSync(join(here, '../../policies/saga.yaml'), 'utf8')).toJSON();
  const pod = {
    namespace: 'shop',
    name: LOCAL_RAFT.podName,
    labels: { shop: 'orders', 'palisade.dev/raft-group': 'orders' },
    creationTimestamp: '2026-01-01T00:00:00Z',
    ready: true,
    podIP: '127.0.0.1',
    appPort: 8080,
  };
  const output = compileSidecarConfigs({
    pods: [pod],
    policies: {
      rateLimits: [],
      circuitBreakers: [],
      chaos: [],
      sagas: [
        {
          namespace: saga.metadata.namespace,
          name: saga.metadata.name,
          creationTimestamp: '2026-01-01T00:00:00Z',
          spec: saga.spec,
        },
      ],
    },
    installation: {
      ports: { admin: 15000, inbound: 15006, outbound: 15001, raft: 15010 },
      app: { host: '127.0.0.1', defaultPort: 8080 },
      raft: { secretFile: '/var/run/palisade/raft/key' },
    },
  });
  const shared = output.configs.find((c) => c.pods.includes(pod.name));
  assert.ok(shared, 'the orders pod got no config');
  const { sagas } = sidecarConfigForPod(shared.config, pod.name);
  assert.equal(sagas?.length, 1);
  return JSON.parse(
    JSON.stringify(sagas)
      .replaceAll('http://inventory.shop.svc.cluster.local', urls.inventory)
      .replaceAll('http://payments.shop.svc.cluster.local', urls.payments),
  );
}

/** @type {import('../../driver/local-shop.js').LocalShop} */
let shop;

before(async () => {
  shop = await startLocalShop((urls) => ({ sagas: compiledSagas(urls) }), { raft: true });
});
after(() => shop?.stop());

/**
 * Polls `check` every 100 ms until it returns something other than undefined; fails after
 * `timeoutMs` with the last value seen.
 * @template T
 * @param {() => Promise<{ done: T | undefined, seen: unknown }>} check
 * @param {number} [timeoutMs]
 * @returns {Promise<T>}
 */
async function eventually(check, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  let seen;
  while (Date.now() < deadline) {
    const result = await check();
    if (result.done !== undefined) return result.done;
    seen = result.seen;
    await sleep(100);
  }
  assert.fail(`not within ${timeoutMs} ms; last seen: ${JSON.stringify(seen)}`);
}

/** Starts the order as a saga through orders and waits for a final state. */
async function sagaOrder() {
  const started = await eventually(async () => {
    // 503 until the one-member group has elected itself (a second or so after start).
    const reply = await callJson(`${shop.orders}/orders/saga`, { method: 'POST', body: ORDER });
    return { done: reply.status === 202 ? reply.body : undefined, seen: reply.body };
  });
  assert.equal(started.outcome, 'saga-started');
  return eventually(async () => {
    const reply = await callJson(`${shop.orders}/orders/saga/${started.id}`);
    const final = ['Completed', 'Compensated', 'Failed', 'NeedsAttention'].includes(
      reply.body?.state,
    );
    return { done: final ? reply.body : undefined, seen: reply.body };
  });
}

/** @returns {Promise<number>} */
const teaInStock = async () => (await callJson(`${shop.inventory}/stock`)).body.tea;

test('orders holds the lease shop-leader through its sidecar, with a fencing token', async () => {
  const leader = await eventually(async () => {
    const reply = await callJson(`${shop.orders}/leader`);
    return { done: reply.body?.holding ? reply.body : undefined, seen: reply.body };
  });
  assert.equal(leader.holder, LOCAL_RAFT.podName);
  assert.equal(typeof leader.token, 'number');
  assert.equal(leader.unavailable, undefined);
});

test('the Saga place-order completes while payments answers, and takes the stock', async () => {
  const before = await teaInStock();
  const instance = await sagaOrder();
  assert.equal(instance.state, 'Completed', JSON.stringify(instance));
  assert.equal(await teaInStock(), before - 2);
});

test('while payments fails the saga is compensated: the reservation is released', async () => {
  await callJson(`${shop.payments}/switch`, { method: 'PUT', body: { mode: 'fail' } });
  try {
    const before = await teaInStock();
    const instance = await sagaOrder();
    assert.equal(instance.state, 'Compensated', JSON.stringify(instance));
    assert.equal(await teaInStock(), before, 'the stock is back');
    const metrics = String((await callJson(`${shop.admin}/metrics`)).body);
    assert.match(metrics, /^palisade_saga_compensations_total [1-9]/m);
  } finally {
    await callJson(`${shop.payments}/switch`, { method: 'PUT', body: { mode: 'ok' } });
  }
});
