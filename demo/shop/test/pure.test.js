// @ts-check
// Unit tests of the shop's pure parts: items, inventory, payments, idempotency, orders, lease keeper.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { proxyFor } from '../src/http.js';
import { IdempotencyCache } from '../src/idempotency.js';
import { Inventory } from '../src/inventory.js';
import { parseItems, totalOf } from '../src/items.js';
import { LeaseKeeper } from '../src/lease-keeper.js';
import { failureOf, placeOrder } from '../src/orders.js';
import { parseSwitch, Payments } from '../src/payments.js';

test('parseItems accepts lines or their JSON text, and names the bad field', () => {
  const lines = [{ sku: 'tea', quantity: 2 }];
  assert.deepEqual(parseItems(lines), lines);
  assert.deepEqual(parseItems(JSON.stringify(lines)), lines);
  assert.throws(() => parseItems([{ sku: 'gold', quantity: 1 }]), /items\[0\]\.sku/);
  assert.throws(() => parseItems([{ sku: 'tea', quantity: 0 }]), /items\[0\]\.quantity/);
  assert.throws(() => parseItems([]), /1–20/);
  assert.throws(() => parseItems('not json'), /array/);
  assert.equal(
    totalOf([
      { sku: 'tea', quantity: 2 },
      { sku: 'mug', quantity: 1 },
    ]),
    2100,
  );
});

test('inventory reserves all lines or none, and releases once', () => {
  const inventory = new Inventory(3);
  const first = inventory.reserve([{ sku: 'tea', quantity: 2 }]);
  assert.equal(first.ok, true);
  assert.deepEqual(
    inventory.reserve([
      { sku: 'mug', quantity: 1 },
      { sku: 'tea', quantity: 2 },
    ]),
    {
      ok: false,
      sku: 'tea',
    },
  );
  assert.equal(inventory.available.get('mug'), 3, 'a refused reservation takes nothing');
  assert.ok(first.ok);
  assert.equal(inventory.release(first.id), true);
  assert.equal(inventory.release(first.id), true);
  assert.equal(inventory.available.get('tea'), 3, 'released twice, returned once');
  assert.equal(inventory.release('r-404'), false);
});

test('payments refunds a charge once, whatever the number of requests', () => {
  const payments = new Payments();
  const charge = payments.charge(450);
  const refund = payments.refund(charge.id);
  assert.deepEqual(payments.refund(charge.id), refund);
  assert.equal(refund?.amount, 450);
  assert.equal(payments.refund('c-404'), undefined);
});

test('the payments switch keeps what is not given and refuses bad values', () => {
  const current = { mode: /** @type {const} */ ('ok'), delayMs: 1000 };
  assert.deepEqual(parseSwitch({ mode: 'fail' }, current), { mode: 'fail', delayMs: 1000 });
  assert.deepEqual(parseSwitch({ delayMs: 5 }, current), { mode: 'ok', delayMs: 5 });
  assert.throws(() => parseSwitch({ mode: 'explode' }, current), /mode must be one of/);
  assert.throws(() => parseSwitch({ delayMs: -1 }, current), /delayMs/);
});

test('the idempotency cache forgets the oldest key first and scopes keys', () => {
  const cache = new IdempotencyCache(2);
  cache.put('charge', 'a', { status: 201, body: 1 });
  cache.put('charge', 'b', { status: 201, body: 2 });
  cache.put('charge', 'c', { status: 201, body: 3 });
  assert.equal(cache.get('charge', 'a'), undefined);
  assert.deepEqual(cache.get('charge', 'c'), { status: 201, body: 3 });
  assert.equal(cache.get('reserve', 'c'), undefined);
  assert.equal(cache.get('charge', undefined), undefined);
});

test('proxyFor honours HTTP_PROXY and NO_PROXY (exact host and domain suffix)', () => {
  const env = { HTTP_PROXY: 'http://127.0.0.1:15001', NO_PROXY: '127.0.0.1,localhost,.internal' };
  assert.equal(
    proxyFor(new URL('http://payments.shop.svc.cluster.local/charges'), env)?.port,
    '15001',
  );
  assert.equal(proxyFor(new URL('http://127.0.0.1:15000/v1/raft'), env), null);
  assert.equal(proxyFor(new URL('http://db.internal/x'), env), null);
  assert.equal(proxyFor(new URL('http://x/'), {}), null);
});

/**
 * Scripted calls for placeOrder: each answer is given up front; the log records the calls made.
 * @param {Partial<Record<'reserve' | 'charge' | 'release', import('../src/http.js').JsonResponse | Error>>} answers
 */
function scripted(answers) {
  /** @type {string[]} */
  const log = [];
  /** @param {'reserve' | 'charge' | 'release'} name */
  const answer = (name) => (/** @type {unknown} */ _a, /** @type {string} */ key) => {
    log.push(`${name} ${key}`);
    const a = answers[name];
    return a instanceof Error || a === undefined
      ? Promise.reject(a ?? new Error('no answer'))
      : Promise.resolve(a);
  };
  return {
    log,
    calls: { reserve: answer('reserve'), charge: answer('charge'), release: answer('release') },
  };
}
const ok = (/** @type {number} */ status, /** @type {unknown} */ body, headers = {}) => ({
  status,
  body,
  headers,
});
const items = [{ sku: /** @type {const} */ ('tea'), quantity: 1 }];

test('placeOrder: reserve then charge, with one idempotency key per step', async () => {
  const { log, calls } = scripted({
    reserve: ok(201, { id: 'r-1' }),
    charge: ok(201, { id: 'c-1' }),
  });
  const reply = await placeOrder('o1', items, calls);
  assert.equal(reply.status, 201);
  assert.equal(reply.body.outcome, 'placed');
  assert.deepEqual(log, ['reserve o1-reserve', 'charge o1-charge']);
});

test('placeOrder: a failed charge releases the reservation', async () => {
  const { log, calls } = scripted({
    reserve: ok(201, { id: 'r-1' }),
    charge: ok(503, {}),
    release: ok(200, {}),
  });
  const reply = await placeOrder('o2', items, calls);
  assert.deepEqual(
    [reply.status, reply.body.outcome, reply.body.released],
    [502, 'payments-status-503', true],
  );
  assert.deepEqual(log, ['reserve o2-reserve', 'charge o2-charge', 'release o2-release']);
});

test('placeOrder: an open breaker is told apart from a failing service', async () => {
  const open = ok(503, 'circuit open', { 'x-palisade-circuit': 'open' });
  const { calls } = scripted({
    reserve: ok(201, { id: 'r-1' }),
    charge: open,
    release: new Error('down'),
  });
  const reply = await placeOrder('o3', items, calls);
  assert.deepEqual(
    [reply.status, reply.body.outcome, reply.body.released],
    [503, 'payments-circuit-open', false],
  );
});

test('placeOrder: out of stock and an unreachable inventory charge nothing', async () => {
  const stock = scripted({ reserve: ok(409, {}) });
  assert.equal((await placeOrder('o4', items, stock.calls)).body.outcome, 'out-of-stock');
  const down = scripted({ reserve: new Error('ECONNREFUSED') });
  assert.equal((await placeOrder('o5', items, down.calls)).body.outcome, 'inventory-unreachable');
  assert.deepEqual([...stock.log, ...down.log], ['reserve o4-reserve', 'reserve o5-reserve']);
});

test('failureOf names rate limits, open breakers, statuses and silence', () => {
  assert.equal(failureOf(ok(429, {})), 'rate-limited');
  assert.equal(failureOf(ok(500, {})), 'status-500');
  assert.equal(failureOf(new Error('x')), 'unreachable');
});

test('the lease keeper acquires, renews with its token, and stops holding at the safe time', () => {
  let now = 0;
  const keeper = new LeaseKeeper({ holder: 'orders-a', ttlMs: 3000, now: () => now });
  assert.deepEqual(keeper.next(), { op: 'acquire', body: { holder: 'orders-a', ttl: 3000 } });
  keeper.record(0, { status: 200, body: { token: 7, validForMs: 3000 } });
  assert.equal(keeper.holding, true);
  assert.deepEqual(keeper.next(), { op: 'renew', body: { holder: 'orders-a', token: 7 } });
  now = 1000;
  keeper.record(1000, null); // no answer: still safe until 3000 × 0.99 / 1.01 ≈ 2940.6 ms
  now = 2940;
  assert.equal(keeper.holding, true);
  now = 2941;
  assert.equal(keeper.holding, false);
  assert.equal(keeper.next().op, 'acquire');
  keeper.record(now, { status: 409, body: { holder: 'orders-b' } });
  assert.equal(keeper.holding, false);
});
