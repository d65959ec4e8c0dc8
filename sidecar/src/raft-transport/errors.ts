/**
 * Errors raised by the Raft transport. Each has a stable `code` that callers branch on (never the
 * message). Messages never contain the group secret.
 */

/** Why the transport refused to start or to take a call. */
export type TransportErrorCode =
  /** The group secret is shorter than 16 bytes (or empty): too weak to authenticate anything. */
  | 'PALISADE_TRANSPORT_WEAK_SECRET'
  /** The secret file could not be read. */
  | 'PALISADE_TRANSPORT_SECRET_UNREADABLE'
  /** An option or a peer is unusable (bad address, duplicate id, non-positive bound…). */
  | 'PALISADE_TRANSPORT_INVALID_OPTIONS'
  /** A message does not fit in a frame (or is not JSON-serializable). */
  | 'PALISADE_TRANSPORT_MESSAGE_TOO_LARGE'
  /** The listening socket could not be opened. */
  | 'PALISADE_TRANSPORT_LISTEN_FAILED';

/** A transport that cannot be set up as asked. */
export class TransportError extends Error {
  override readonly name = 'TransportError';

  constructor(
    readonly code: TransportErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
