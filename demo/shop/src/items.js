// @ts-check
/** Order lines, as every service reads them: `[{sku, quantity}]`, validated once at the edge. */
import { HttpError } from './http.js';

/** Prices in cents of what the shop sells; inventory stocks the same SKUs. */
export const CATALOG = Object.freeze({ tea: 450, coffee: 600, mug: 1200 });

/** Most lines in one order, and most of one SKU per line. */
export const MAX_LINES = 20;
export const MAX_QUANTITY = 100;

/** @typedef {{ sku: keyof typeof CATALOG, quantity: number }} Line */

/**
 * Validates order lines. Accepts the array itself or its JSON text (a saga template may pass the
 * input's items as text). Throws HttpError(400) naming the first bad field.
 * @param {unknown} value
 * @returns {Line[]}
 */
export function parseItems(value) {
  let items = value;
  if (typeof items === 'string') {
    try {
      items = JSON.parse(items);
    } catch {
      throw new HttpError(400, 'items must be an array of {sku, quantity}');
    }
  }
  if (!Array.isArray(items) || items.length === 0 || items.length > MAX_LINES) {
    throw new HttpError(400, `items must be an array of 1–${MAX_LINES} {sku, quantity}`);
  }
  return items.map((item, i) => {
    const sku = item?.sku;
    const quantity = item?.quantity;
    if (typeof sku !== 'string' || !Object.hasOwn(CATALOG, sku)) {
      throw new HttpError(400, `items[${i}].sku must be one of ${Object.keys(CATALOG).join(', ')}`);
    }
    if (!Number.isInteger(quantity) || quantity < 1 || quantity > MAX_QUANTITY) {
      throw new HttpError(400, `items[${i}].quantity must be an integer 1–${MAX_QUANTITY}`);
    }
    return { sku: /** @type {keyof typeof CATALOG} */ (sku), quantity };
  });
}

/**
 * Total price in cents.
 * @param {Line[]} items
 */
export function totalOf(items) {
  return items.reduce((sum, line) => sum + CATALOG[line.sku] * line.quantity, 0);
}
