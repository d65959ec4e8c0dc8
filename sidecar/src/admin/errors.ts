/**
 * Admin API failures. `AdminHttpError` is what route handlers (ours and mounted `/v1/…`
 * routers) throw to answer with a given status and stable `code`; the server's error handler
 * is the one place that turns errors into JSON bodies `{ error: { code, message, details? } }`.
 */
import type { FieldError } from '@palisade/crds/runtime';

/** An HTTP answer carried as an error: status, stable code, optional field errors. */
export class AdminHttpError extends Error {
  constructor(
    readonly status: number,
    /** Stable machine-readable identifier, e.g. `INVALID_REQUEST`, `LEASE_HELD`. */
    readonly code: string,
    message: string,
    /** Per-field problems of a refused request body. */
    readonly details: readonly FieldError[] = [],
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'AdminHttpError';
  }
}

/** Why the admin server could not be created or started. */
export type AdminServerErrorCode = 'ADMIN_BIND_NOT_LOOPBACK' | 'ADMIN_LISTEN_FAILED';

/** The admin server refused its options or could not listen. */
export class AdminServerError extends Error {
  constructor(
    readonly code: AdminServerErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'AdminServerError';
  }
}
