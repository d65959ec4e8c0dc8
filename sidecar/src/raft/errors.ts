/**
 * Errors raised by the Raft core. Each has a stable `code` that callers branch on (never the
 * message).
 */
import type { NodeId } from './types.js';

/** Why the Raft core refused a call. */
export type RaftErrorCode =
  /** The requested entries were compacted into a snapshot. */
  | 'PALISADE_RAFT_COMPACTED'
  /** The requested entries are beyond the end of the log. */
  | 'PALISADE_RAFT_UNAVAILABLE'
  /** Storage cannot produce a snapshot right now; the core retries later. */
  | 'PALISADE_RAFT_SNAPSHOT_UNAVAILABLE'
  /** A snapshot older than the one in storage was offered. */
  | 'PALISADE_RAFT_SNAPSHOT_OUT_OF_DATE'
  /** The driver broke the Ready/advance contract or passed an impossible argument. */
  | 'PALISADE_RAFT_MISUSE';

/** A storage or usage failure inside the Raft core. */
export class RaftError extends Error {
  override readonly name = 'RaftError';

  constructor(
    readonly code: RaftErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Why a proposal was not appended. */
export type ProposalDroppedReason =
  /** This node is not the leader; `leader` says who is, if known. */
  | 'not-leader'
  /** The leader is handing over to another node and accepts nothing meanwhile. */
  | 'transferring'
  /** A membership change is still uncommitted, or the leader has not yet committed in its term. */
  | 'conf-change-pending'
  /** The membership change makes no sense against the current configuration. */
  | 'invalid-conf-change'
  /** The leader was removed from the configuration and is about to step down. */
  | 'removed';

/**
 * A proposal was refused. Followers do not forward proposals: the caller (the admin API) sends the
 * request to `leader` itself, because lease commands must be stamped by the leader's clock.
 */
export class ProposalDroppedError extends Error {
  readonly code = 'PALISADE_RAFT_PROPOSAL_DROPPED';
  override readonly name = 'ProposalDroppedError';

  constructor(
    readonly reason: ProposalDroppedReason,
    /** The leader as this node knows it, or '' when unknown. */
    readonly leader: NodeId,
    message: string,
  ) {
    super(message);
  }
}
