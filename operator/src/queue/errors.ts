/** Thrown by a reconcile to say that retrying cannot help (bad input, not a transient fault). */
export class TerminalReconcileError extends Error {
  readonly code = 'TERMINAL_RECONCILE_ERROR';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TerminalReconcileError';
  }
}

/** The reason a reconcile's AbortSignal fires when its deadline passes. */
export class ReconcileTimeoutError extends Error {
  readonly code = 'RECONCILE_TIMEOUT';
  constructor(
    readonly key: string,
    readonly timeoutMs: number,
  ) {
    super(`reconcile of ${key} exceeded its ${timeoutMs} ms deadline`);
    this.name = 'ReconcileTimeoutError';
  }
}

/** Whether `error` says not to retry: a TerminalReconcileError, or any error with `terminal: true`. */
export function isTerminalError(error: unknown): boolean {
  if (error instanceof TerminalReconcileError) return true;
  return (
    typeof error === 'object' &&
    error !== null &&
    (error as { terminal?: unknown }).terminal === true
  );
}
