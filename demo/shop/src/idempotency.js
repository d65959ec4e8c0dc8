// @ts-check
import { HttpError } from './http.js';

/**
 * Remembers the response given to each Idempotency-Key, so a retried call (the sidecar's retry,
 * a saga step re-issued by a new Raft leader) gets the first answer instead of acting twice.
 * Bounded: the oldest keys are forgotten first.
 */

/** @typedef {{ status: number, body: unknown }} StoredResponse */

/** Keys a service remembers by default. */
export const DEFAULT_MAX_KEYS = 10_000;

/** Longest Idempotency-Key accepted (characters). */
export const MAX_KEY_LENGTH = 200;

export class IdempotencyCache {
  /** @param {number} [maxKeys] */
  constructor(maxKeys = DEFAULT_MAX_KEYS) {
    this.maxKeys = maxKeys;
    /** @type {Map<string, StoredResponse>} insertion order = age */
    this.responses = new Map();
  }

  /**
   * The response stored for `key` (scoped by operation), or undefined.
   * @param {string} scope
   * @param {string | undefined} key
   */
  get(scope, key) {
    return key === undefined ? undefined : this.responses.get(`${scope} ${key}`);
  }

  /**
   * @param {string} scope
   * @param {string | undefined} key
   * @param {StoredResponse} response
   */
  put(scope, key, response) {
    if (key === undefined) return;
    this.responses.set(`${scope} ${key}`, response);
    if (this.responses.size > this.maxKeys) {
      const oldest = this.responses.keys().next().value;
      if (oldest !== undefined) this.responses.delete(oldest);
    }
  }
}

/**
 * The Idempotency-Key header of a request: undefined when absent; HttpError(400) on a bad one.
 * @param {import('node:http').IncomingMessage} req
 * @returns {string | undefined}
 */
export function idempotencyKey(req) {
  const value = req.headers['idempotency-key'];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value === '' || value.length > MAX_KEY_LENGTH) {
    throw new HttpError(400, `Idempotency-Key must be 1–${MAX_KEY_LENGTH} characters`);
  }
  return value;
}
