/** Errors of the Raft driver, each with a stable `code`. */

/** Why the Raft node could not start or had to stop. */
export type RaftNodeErrorCode =
  /** The config has no usable `raft` section (no secret file, this id not in the peer list…). */
  | 'PALISADE_RAFT_NODE_CONFIG'
  /** Storage failed (write or fsync): the node stopped and the process should restart. */
  | 'PALISADE_RAFT_NODE_STORAGE_FAILED';

/** A start-up or fatal failure of the Raft node. */
export class RaftNodeError extends Error {
  override readonly name = 'RaftNodeError';

  constructor(
    readonly code: RaftNodeErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
