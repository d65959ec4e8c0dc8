import { createHash } from 'node:crypto';

/**
 * JSON with object keys sorted at every level and `undefined` properties dropped, so that
 * equal content always yields the same text whatever order it was built in.
 */
export function canonicalJson(value: unknown): string {
  // The native serializer with a replacer that re-creates each plain object with sorted keys
  // (insertion order is what JSON.stringify follows) is several times faster than a
  // hand-written recursive serializer.
  return JSON.stringify(value, sortKeysReplacer) ?? 'null';
}

function sortKeysReplacer(_key: string, value: unknown): unknown {
  if (typeof value === 'number' && !Number.isFinite(value)) {
    throw new RangeError(`canonicalJson: ${value} has no JSON form`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record);
  let sorted = true;
  for (let i = 1; i < keys.length; i++) {
    if ((keys[i - 1] as string) > (keys[i] as string)) {
      sorted = false;
      break;
    }
  }
  if (sorted) return value;
  const out: Record<string, unknown> = {};
  for (const key of keys.sort()) out[key] = record[key];
  return out;
}

/** Length, in hex characters, of a content hash (64 bits: collisions are not a concern). */
export const CONTENT_HASH_LENGTH = 16;

/** Stable content hash: SHA-256 of the canonical JSON, first 16 hex characters. */
export function contentHash(value: unknown): string {
  return hashText(canonicalJson(value));
}

/** The content hash of text that already is canonical JSON. */
export function hashText(canonical: string): string {
  return createHash('sha256').update(canonical).digest('hex').slice(0, CONTENT_HASH_LENGTH);
}
