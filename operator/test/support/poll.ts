// Waiting for a condition in e2e tests: poll with a deadline, never a fixed sleep.

/**
 * Calls `probe` every `intervalMs` until it returns a value (not undefined) and returns it; a
 * probe that throws counts as not yet. After `timeoutMs` it fails, naming `what` and the last
 * error. The default bound allows for the shared 2-core host.
 */
export async function poll<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 30_000,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline)
      throw new Error(
        `timed out waiting for ${what}${last === undefined ? '' : `: ${String(last)}`}`,
      );
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
