/** Errors of the lease state machine, each with a stable `code` that the admin API maps to HTTP. */

/** Stable codes of refused lease commands. */
export type LeaseErrorCode =
  /** The token does not name the current grant (expired, released, or another holder's). → 409 */
  | 'PALISADE_LEASE_STALE_TOKEN'
  /** The command is malformed (empty name, bad TTL). → 400 */
  | 'PALISADE_LEASE_INVALID';

/** A lease command refused by the state machine, as an error for the API layer to throw. */
export class LeaseError extends Error {
  override readonly name = 'LeaseError';

  constructor(
    readonly code: LeaseErrorCode,
    message: string,
  ) {
    super(message);
  }
}
