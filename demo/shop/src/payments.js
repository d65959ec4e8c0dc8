// @ts-check
/**
 * payments: charges orders and refunds them. A switch makes it fail or slow, so the demo can
 * show the circuit breaker and saga compensation:
 *   POST /charges {amount}   -> 201 {id, amount} | 503 while the switch says fail  (Idempotency-Key aware)
 *   POST /refunds {charge}   -> 201 {id, charge, amount} (again for the same charge: same refund) | 404
 *   GET  /switch             -> {mode, delayMs}
 *   PUT  /switch {mode, delayMs?}   mode: ok | fail | slow   (start value: PAYMENTS_MODE, PAYMENTS_DELAY_MS)
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { createJsonServer, HttpError, readJson, sendJson } from './http.js';
import { IdempotencyCache, idempotencyKey } from './idempotency.js';

/** Largest charge accepted, in cents. */
export const MAX_AMOUNT = 1_000_000;
/** Longest delay the slow mode may add (ms). */
export const MAX_DELAY_MS = 30_000;
export const MODES = /** @type {const} */ (['ok', 'fail', 'slow']);

/** @typedef {{ mode: (typeof MODES)[number], delayMs: number }} Switch */

/**
 * Validates a switch setting (PUT body or environment); fields left out keep `current`'s value.
 * @param {Record<string, unknown>} input
 * @param {Switch} current
 * @returns {Switch}
 */
export function parseSwitch(input, current) {
  const mode = input.mode ?? current.mode;
  const delayMs = input.delayMs ?? current.delayMs;
  if (typeof mode !== 'string' || !(/** @type {readonly string[]} */ (MODES).includes(mode))) {
    throw new HttpError(400, `mode must be one of ${MODES.join(', ')}`);
  }
  if (
    !Number.isInteger(delayMs) ||
    /** @type {number} */ (delayMs) < 0 ||
    /** @type {number} */ (delayMs) > MAX_DELAY_MS
  ) {
    throw new HttpError(400, `delayMs must be an integer 0–${MAX_DELAY_MS}`);
  }
  return { mode: /** @type {Switch['mode']} */ (mode), delayMs: /** @type {number} */ (delayMs) };
}

/**
 * The switch at start, from PAYMENTS_MODE / PAYMENTS_DELAY_MS.
 * @param {Record<string, string | undefined>} env
 * @returns {Switch}
 */
export function switchFromEnv(env) {
  return parseSwitch(
    {
      mode: env.PAYMENTS_MODE || undefined,
      delayMs: env.PAYMENTS_DELAY_MS ? Number(env.PAYMENTS_DELAY_MS) : undefined,
    },
    { mode: 'ok', delayMs: 1000 },
  );
}

/** Charges and refunds; no I/O. */
export class Payments {
  constructor() {
    /** @type {Map<string, { amount: number, refund?: string }>} */
    this.charges = new Map();
    this.nextId = 1;
  }

  /** @param {number} amount cents */
  charge(amount) {
    const id = `c-${this.nextId++}`;
    this.charges.set(id, { amount });
    return { id, amount };
  }

  /**
   * Refunds a charge once; refunding it again returns the same refund.
   * @param {string} chargeId
   * @returns {{ id: string, charge: string, amount: number } | undefined} undefined: no such charge
   */
  refund(chargeId) {
    const charge = this.charges.get(chargeId);
    if (charge === undefined) return undefined;
    charge.refund ??= `f-${this.nextId++}`;
    return { id: charge.refund, charge: chargeId, amount: charge.amount };
  }
}

/**
 * @param {{ payments?: Payments, initialSwitch?: Switch }} [options]
 */
export function createPaymentsServer(options = {}) {
  const payments = options.payments ?? new Payments();
  let setting = options.initialSwitch ?? { mode: 'ok', delayMs: 1000 };
  const replies = new IdempotencyCache();
  return createJsonServer('payments', async (req, res, url) => {
    if (req.method === 'POST' && url.pathname === '/charges') {
      const key = idempotencyKey(req);
      const stored = replies.get('charge', key);
      if (stored) return sendJson(res, stored.status, stored.body, { 'idempotent-replay': 'true' });
      const amount = (await readJson(req)).amount;
      if (
        !Number.isInteger(amount) ||
        /** @type {number} */ (amount) < 1 ||
        /** @type {number} */ (amount) > MAX_AMOUNT
      ) {
        throw new HttpError(400, `amount must be an integer 1–${MAX_AMOUNT} (cents)`);
      }
      if (setting.mode === 'slow') await sleep(setting.delayMs);
      // A refused charge is not remembered: the same key may succeed once payments recovers.
      if (setting.mode === 'fail') throw new HttpError(503, 'payments is failing (switch: fail)');
      const reply = { status: 201, body: payments.charge(/** @type {number} */ (amount)) };
      replies.put('charge', key, reply);
      return sendJson(res, reply.status, reply.body);
    }
    if (req.method === 'POST' && url.pathname === '/refunds') {
      const charge = (await readJson(req)).charge;
      if (typeof charge !== 'string' || charge === '')
        throw new HttpError(400, 'charge must be a charge id');
      const refund = payments.refund(charge);
      if (refund === undefined) throw new HttpError(404, `no charge ${charge}`);
      return sendJson(res, 201, refund);
    }
    if (url.pathname === '/switch' && (req.method === 'GET' || req.method === 'PUT')) {
      if (req.method === 'PUT') {
        setting = parseSwitch(await readJson(req), setting);
        console.log(`payments: switch set to ${setting.mode} (delay ${setting.delayMs} ms)`);
      }
      return sendJson(res, 200, setting);
    }
    if (req.method === 'GET' && url.pathname === '/healthz')
      return sendJson(res, 200, { ok: true });
    throw new HttpError(404, `no route ${req.method} ${url.pathname}`);
  });
}
