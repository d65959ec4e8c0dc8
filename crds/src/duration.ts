/**
 * Durations as users write them in every Palisade document: one or more `<number><unit>`
 * groups, unit one of ms, s, m, h (`250ms`, `10s`, `1m30s`). The same pattern is enforced by
 * the API server (OpenAPI `pattern`) and by the runtime validator, and `parseDuration` is
 * the one place that turns it into milliseconds.
 */
export const DURATION_PATTERN = '^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$';

const DURATION_RE = new RegExp(DURATION_PATTERN);
const GROUP_RE = /([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)/g;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Thrown by `parseDuration` for a string that is not a duration. */
export class InvalidDurationError extends Error {
  readonly code = 'INVALID_DURATION';
  constructor(readonly input: string) {
    super(`"${input}" is not a duration (expected e.g. 250ms, 10s, 1m30s)`);
  }
}

/** Parses a duration string into milliseconds. */
export function parseDuration(input: string): number {
  if (!DURATION_RE.test(input)) throw new InvalidDurationError(input);
  let total = 0;
  for (const [, amount, unit] of input.matchAll(GROUP_RE)) {
    total += Number(amount) * (UNIT_MS[unit as string] as number);
  }
  return total;
}
