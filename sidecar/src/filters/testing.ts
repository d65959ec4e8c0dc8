/**
 * Helpers shared by the filters' tests (and the micro-benchmark); not used on the request path.
 */

/**
 * How far a sequence of admission times (sorted, ms or µs) exceeds the rate-limit bound
 * `capacity + rate × length` over its worst closed interval: ≤ 0 means the bound always held.
 * O(n²); for test-sized inputs.
 */
export function worstIntervalExcess(
  admittedAt: readonly number[],
  capacity: number,
  ratePerMs: number,
): number {
  let worst = -Infinity;
  for (let i = 0; i < admittedAt.length; i++) {
    for (let j = i; j < admittedAt.length; j++) {
      const count = j - i + 1;
      const allowance = capacity + ((admittedAt[j] ?? 0) - (admittedAt[i] ?? 0)) * ratePerMs;
      worst = Math.max(worst, count - allowance);
    }
  }
  return worst;
}
