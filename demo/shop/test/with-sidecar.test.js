// @ts-check
// Black-box: the three services as real processes, orders behind a real palisade-sidecar
// (standalone config): orders placed through both proxies, a rate limit answering 429, the
// breaker opening when payments fails and closing once it recovers.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startLocalShop } from '../../driver/local-shop.js';
import { callJson } from '../src/http.js';

/** @type {import('../../driver/local-shop.js').LocalShop} */
let shop;
const order = { items: [{ sku: 'tea', quantity: 1 }] };
/** @param {string} user */
const place = (user) =>
  callJson(`${shop.orders}/orders`, {
    method: 'POST',
    body: order,
    headers: { 'x-user-id': user },
  });

before(async () => {
  shop = await startLocalShop({
    rateLimits: [
      {
        policy: 'shop/orders-limits',
        name: 'per-user',
        match: { pathPrefix: '/orders', methods: ['POST'] },
        limit: { requests: 3, period: '1m' },
        key: { type: 'header', name: 'x-user-id' },
        scope: 'local',
      },
    ],
    circuitBreakers: [
      {
        policy: 'shop/payments',
        target: { direction: 'outbound', host: '127.0.0.2' },
        trip: { consecutiveFailures: 3 },
        failureOn: { statuses: ['5xx'], timeouts: true, connectionErrors: true },
        requestTimeout: '2s',
        openDuration: '500ms',
        halfOpen: { maxRequests: 1, successesToClose: 1 },
      },
    ],
  });
});
after(() => shop?.stop());

/**
 * Places orders (a fresh user each time, so the rate limit stays out of the way) until
 * `outcome` comes back; bounded.
 * @param {string} outcome
 */
async function until(outcome) {
  const seen = [];
  for (let i = 0; i < 50; i++) {
    const reply = await place(`u-${outcome}-${i}`);
    seen.push(reply.body?.outcome ?? reply.status);
    if (reply.body?.outcome === outcome) return seen;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`no "${outcome}" in 50 orders: ${seen.join(', ')}`);
}

test('orders are placed through the sidecar, which proxied both calls', async () => {
  const reply = await place('alice');
  assert.equal(reply.status, 201, JSON.stringify(reply.body));
  assert.equal(reply.body.outcome, 'placed');
  const metrics = await callJson(`${shop.admin}/metrics`);
  assert.match(
    String(metrics.body),
    /palisade_requests_total\{direction="outbound"[^}]*code="201"\} [1-9]/,
  );
});

test('the rate limit answers 429 with Retry-After past 3 orders a minute per user', async () => {
  const replies = [];
  for (let i = 0; i < 5; i++) replies.push(await place('bob'));
  assert.deepEqual(
    replies.map((r) => r.status),
    [201, 201, 201, 429, 429],
  );
  assert.ok(Number(replies[3]?.headers['retry-after']) > 0);
});

test('the breaker opens while payments fails, stock is released, and it closes after recovery', async () => {
  await callJson(`${shop.payments}/switch`, { method: 'PUT', body: { mode: 'fail' } });
  const seen = await until('payments-circuit-open');
  assert.ok(seen.includes('payments-status-503'), `failures before opening: ${seen.join(', ')}`);
  const stock = await callJson(`${shop.inventory}/stock`);
  const placed = 1 + 3; // alice once, bob three times
  assert.equal(stock.body.tea, 1_000_000 - placed, 'every failed order released its reservation');
  await callJson(`${shop.payments}/switch`, { method: 'PUT', body: { mode: 'ok' } });
  await until('placed');
});
