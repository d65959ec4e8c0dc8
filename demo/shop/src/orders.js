// @ts-check
/**
 * orders: places orders by reserving stock at inventory and charging at payments, both through
 * the sidecar's outbound proxy (HTTP_PROXY), so the sidecar's breaker, retries and faults apply.
 *   POST /orders {items}          -> 201 placed · 409 out of stock · 502/503 failed (stock released)
 *   POST /orders/saga {items}     -> 202 {id}: the same order as a Saga run by the sidecars (Raft)
 *   GET  /orders/saga/{id}        -> the saga instance's state and step log
 *   GET  /leader                  -> which orders replica holds the lease, who answers, and why
 *                                    the sidecar could not say (`unavailable`), if so
 * Every answer has `outcome`, so a load driver can count what happened without parsing errors.
 */
import { randomUUID } from 'node:crypto';
import { callJson, createJsonServer, errorMessage, HttpError, readJson, sendJson } from './http.js';
import { parseItems, totalOf } from './items.js';

/** @typedef {import('./http.js').JsonResponse} JsonResponse */
/** @typedef {import('./items.js').Line} Line */

/**
 * The calls `placeOrder` makes; each resolves with the response, or rejects when none came.
 * @typedef {{
 *   reserve: (items: Line[], key: string) => Promise<JsonResponse>,
 *   charge: (amount: number, key: string) => Promise<JsonResponse>,
 *   release: (reservationId: string, key: string) => Promise<JsonResponse>,
 * }} OrderCalls
 */

/** @typedef {{ status: number, body: Record<string, unknown> }} Reply */

/**
 * Why a call failed, as an `outcome` suffix: the sidecar's breaker refusing it (503 +
 * `x-palisade-circuit: open`), its rate limit, a status, or no answer at all.
 * @param {JsonResponse | Error} response
 */
export function failureOf(response) {
  if (response instanceof Error) return 'unreachable';
  if (response.headers['x-palisade-circuit'] === 'open') return 'circuit-open';
  if (response.status === 429) return 'rate-limited';
  return `status-${response.status}`;
}

/**
 * Places one order: reserve, then charge; a failed charge releases the reservation (the
 * compensation a Saga automates). Pure apart from `calls`.
 * @param {string} orderId
 * @param {Line[]} items
 * @param {OrderCalls} calls
 * @returns {Promise<Reply>}
 */
export async function placeOrder(orderId, items, calls) {
  const total = totalOf(items);
  const reserved = await calls
    .reserve(items, `${orderId}-reserve`)
    .catch((/** @type {Error} */ e) => e);
  if (reserved instanceof Error || reserved.status !== 201) {
    const outOfStock = !(reserved instanceof Error) && reserved.status === 409;
    return {
      status: outOfStock ? 409 : 502,
      body: {
        order: orderId,
        outcome: outOfStock ? 'out-of-stock' : `inventory-${failureOf(reserved)}`,
      },
    };
  }
  const reservation = String(reserved.body?.id);
  const charged = await calls
    .charge(total, `${orderId}-charge`)
    .catch((/** @type {Error} */ e) => e);
  if (!(charged instanceof Error) && charged.status === 201) {
    return {
      status: 201,
      body: { order: orderId, outcome: 'placed', total, reservation, charge: charged.body?.id },
    };
  }
  const released = await calls
    .release(reservation, `${orderId}-release`)
    .then((r) => r.status === 200)
    .catch(() => false);
  const failure = failureOf(charged);
  return {
    status: failure === 'circuit-open' ? 503 : 502,
    body: { order: orderId, outcome: `payments-${failure}`, reservation, released },
  };
}

/**
 * Where orders finds the others; defaults are the demo's Kubernetes names.
 * @typedef {{ inventoryUrl: string, paymentsUrl: string, adminUrl: string, saga: string, lease: string, podName: string, callTimeoutMs: number }} OrdersConfig
 */

/**
 * @param {Record<string, string | undefined>} env
 * @returns {OrdersConfig}
 */
export function ordersConfigFromEnv(env) {
  return {
    // Full names: the CircuitBreaker's target host must match the authority the app uses.
    inventoryUrl: env.INVENTORY_URL || 'http://inventory.shop.svc.cluster.local',
    paymentsUrl: env.PAYMENTS_URL || 'http://payments.shop.svc.cluster.local',
    adminUrl: env.PALISADE_ADMIN_URL || 'http://127.0.0.1:15000',
    saga: env.SAGA_NAME || 'place-order',
    lease: env.LEASE_NAME || 'shop-leader',
    podName: env.POD_NAME || `orders-${process.pid}`,
    callTimeoutMs: Number(env.CALL_TIMEOUT_MS || 5000),
  };
}

/**
 * The calls of `placeOrder` over HTTP (through HTTP_PROXY when set).
 * @param {OrdersConfig} config
 * @returns {OrderCalls}
 */
export function httpOrderCalls(config) {
  const timeoutMs = config.callTimeoutMs;
  return {
    reserve: (items, key) =>
      callJson(`${config.inventoryUrl}/reservations`, {
        method: 'POST',
        body: { items },
        headers: { 'idempotency-key': key },
        timeoutMs,
      }),
    charge: (amount, key) =>
      callJson(`${config.paymentsUrl}/charges`, {
        method: 'POST',
        body: { amount },
        headers: { 'idempotency-key': key },
        timeoutMs,
      }),
    release: (id, key) =>
      callJson(`${config.inventoryUrl}/reservations/${encodeURIComponent(id)}`, {
        method: 'DELETE',
        headers: { 'idempotency-key': key },
        timeoutMs,
      }),
  };
}

/**
 * A call to this pod's sidecar admin API (loopback; never through the proxy).
 * @param {OrdersConfig} config
 * @param {string} method
 * @param {string} path
 * @param {unknown} [body]
 */
export function callSidecar(config, method, path, body) {
  return callJson(`${config.adminUrl}${path}`, { method, body, env: {}, timeoutMs: 3000 });
}

/**
 * @param {{ config: OrdersConfig, calls?: OrderCalls, leaseHolding?: () => boolean }} options
 */
export function createOrdersServer({
  config,
  calls = httpOrderCalls(config),
  leaseHolding = () => false,
}) {
  const sagaPath = `/v1/sagas/${encodeURIComponent(config.saga)}`;
  return createJsonServer('orders', async (req, res, url) => {
    if (req.method === 'POST' && url.pathname === '/orders') {
      const items = parseItems((await readJson(req)).items);
      const reply = await placeOrder(randomUUID(), items, calls);
      return sendJson(res, reply.status, reply.body);
    }
    if (req.method === 'POST' && url.pathname === '/orders/saga') {
      const items = parseItems((await readJson(req)).items);
      const started = await sidecarOrFail(
        callSidecar(config, 'POST', sagaPath, { input: { items, total: totalOf(items) } }),
      );
      const outcome = started.status === 202 ? 'saga-started' : `saga-${failureOf(started)}`;
      return sendJson(res, started.status, { outcome, ...started.body });
    }
    const instance = /^\/orders\/saga\/([A-Za-z0-9._-]{1,128})$/.exec(url.pathname);
    if (req.method === 'GET' && instance) {
      const found = await sidecarOrFail(callSidecar(config, 'GET', `${sagaPath}/${instance[1]}`));
      return sendJson(res, found.status, found.body);
    }
    if (req.method === 'GET' && url.pathname === '/leader') {
      const lease = await sidecarOrFail(
        callSidecar(config, 'GET', `/v1/leases/${encodeURIComponent(config.lease)}`),
      );
      return sendJson(res, 200, {
        lease: config.lease,
        holder: lease.status === 200 ? (lease.body?.holder ?? null) : null,
        token: lease.status === 200 ? (lease.body?.token ?? null) : null,
        answeredBy: config.podName,
        holding: leaseHolding(),
        // 404 is "nobody holds it"; anything else (503 while Raft is not up) says why here.
        ...(lease.status === 200 || lease.status === 404 ? {} : { unavailable: lease.body }),
      });
    }
    if (req.method === 'GET' && url.pathname === '/healthz')
      return sendJson(res, 200, { ok: true });
    throw new HttpError(404, `no route ${req.method} ${url.pathname}`);
  });
}

/**
 * The sidecar's answer as an object body, or 502 when it could not be asked (no sidecar, e.g.
 * run without Palisade).
 * @param {Promise<JsonResponse>} call
 * @returns {Promise<{ status: number, headers: import('node:http').IncomingHttpHeaders, body: Record<string, unknown> }>}
 */
async function sidecarOrFail(call) {
  let response;
  try {
    response = await call;
  } catch (error) {
    throw new HttpError(502, `the sidecar's admin API did not answer: ${errorMessage(error)}`);
  }
  const body =
    response.body !== null && typeof response.body === 'object'
      ? response.body
      : { message: response.body };
  return { status: response.status, headers: response.headers, body };
}
