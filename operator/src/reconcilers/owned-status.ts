import { statusEqual } from '../conditions.js';

/**
 * Whether `current` already says what `desired` says, looking only at the fields the operator
 * owns (the keys of `desired`): fields written by others never cause a write.
 */
export function ownedStatusUpToDate(current: object | undefined, desired: object): boolean {
  const record = (current ?? {}) as Record<string, unknown>;
  const owned: Record<string, unknown> = {};
  for (const key of Object.keys(desired)) owned[key] = record[key];
  return statusEqual(owned, desired);
}
