// @ts-check
/**
 * inventory: reserves stock for orders and releases it (a failed payment's compensation).
 *   POST   /reservations {items}  -> 201 {id, items} | 409 out of stock   (Idempotency-Key aware)
 *   DELETE /reservations/{id}     -> 200 {id, released: true} (again: same answer) | 404
 *   GET    /stock                 -> available units per SKU
 */
import { createJsonServer, HttpError, readJson, sendJson } from './http.js';
import { IdempotencyCache, idempotencyKey } from './idempotency.js';
import { CATALOG, parseItems } from './items.js';

/** Units of each SKU at start: enough that a demo never runs out. */
export const INITIAL_STOCK = 1_000_000;

/** @typedef {import('./items.js').Line} Line */

/** Stock and reservations; no I/O. */
export class Inventory {
  /** @param {number} [initialStock] */
  constructor(initialStock = INITIAL_STOCK) {
    /** @type {Map<string, number>} */
    this.available = new Map(Object.keys(CATALOG).map((sku) => [sku, initialStock]));
    /** @type {Map<string, { items: Line[], released: boolean }>} */
    this.reservations = new Map();
    this.nextId = 1;
  }

  /**
   * Takes the units of every line, or none of them.
   * @param {Line[]} items
   * @returns {{ ok: true, id: string } | { ok: false, sku: string }}
   */
  reserve(items) {
    const wanted = new Map();
    for (const line of items) wanted.set(line.sku, (wanted.get(line.sku) ?? 0) + line.quantity);
    for (const [sku, quantity] of wanted) {
      if ((this.available.get(sku) ?? 0) < quantity) return { ok: false, sku };
    }
    for (const [sku, quantity] of wanted)
      this.available.set(sku, (this.available.get(sku) ?? 0) - quantity);
    const id = `r-${this.nextId++}`;
    this.reservations.set(id, { items, released: false });
    return { ok: true, id };
  }

  /**
   * Gives a reservation's units back; releasing twice is a no-op.
   * @param {string} id
   * @returns {boolean} false when the reservation does not exist
   */
  release(id) {
    const reservation = this.reservations.get(id);
    if (reservation === undefined) return false;
    if (!reservation.released) {
      reservation.released = true;
      for (const line of reservation.items) {
        this.available.set(line.sku, (this.available.get(line.sku) ?? 0) + line.quantity);
      }
    }
    return true;
  }
}

/** @param {Inventory} [inventory] */
export function createInventoryServer(inventory = new Inventory()) {
  const replies = new IdempotencyCache();
  return createJsonServer('inventory', async (req, res, url) => {
    const release = /^\/reservations\/([A-Za-z0-9-]{1,64})$/.exec(url.pathname);
    if (req.method === 'POST' && url.pathname === '/reservations') {
      const key = idempotencyKey(req);
      const stored = replies.get('reserve', key);
      if (stored) return sendJson(res, stored.status, stored.body, { 'idempotent-replay': 'true' });
      const items = parseItems((await readJson(req)).items);
      const result = inventory.reserve(items);
      const reply = result.ok
        ? { status: 201, body: { id: result.id, items } }
        : { status: 409, body: { error: `out of stock: ${result.sku}` } };
      replies.put('reserve', key, reply);
      return sendJson(res, reply.status, reply.body);
    }
    if (req.method === 'DELETE' && release) {
      const id = /** @type {string} */ (release[1]);
      if (!inventory.release(id)) throw new HttpError(404, `no reservation ${id}`);
      return sendJson(res, 200, { id, released: true });
    }
    if (req.method === 'GET' && url.pathname === '/stock') {
      return sendJson(res, 200, Object.fromEntries(inventory.available));
    }
    if (req.method === 'GET' && url.pathname === '/healthz')
      return sendJson(res, 200, { ok: true });
    throw new HttpError(404, `no route ${req.method} ${url.pathname}`);
  });
}
