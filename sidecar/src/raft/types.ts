/**
 * The vocabulary of the Raft core: entries, persistent state, snapshots and messages. Everything
 * here is plain data (no classes), so that a driver can encode it for the wire or the WAL as it
 * likes and a test can compare it structurally.
 */

/** A member of the group. Strings, because sidecars are named after their pods. */
export type NodeId = string;

/** "No node": no vote cast, no known leader. */
export const NONE: NodeId = '';

/**
 * `normal` entries carry application commands (or nothing: the empty entry a new leader appends);
 * `config` entries carry an encoded {@link ConfChange} and are interpreted by the core itself.
 */
export type EntryType = 'normal' | 'config';

/**
 * One slot of the replicated log.
 *
 * `data` is opaque bytes: the core never looks inside a normal entry, the WAL and the transport
 * are byte streams anyway, and byte length gives an honest size for batching limits. The
 * application owns its encoding (the lease state machine uses UTF-8 JSON).
 */
export interface Entry {
  readonly term: number;
  readonly index: number;
  readonly type: EntryType;
  readonly data: Uint8Array;
}

/** What must be on stable storage before any message of the same Ready is sent. */
export interface HardState {
  readonly term: number;
  /** Who this node voted for in `term`, or {@link NONE}. */
  readonly vote: NodeId;
  /** Highest log index known to be committed. */
  readonly commit: number;
}

/** The membership in force: voters decide elections and commits; learners only replicate. */
export interface ConfState {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
}

/**
 * One membership change. Changes are applied one at a time (single-server changes, Raft thesis
 * §4.1) and take effect as soon as the entry is appended to a log, not when it commits.
 * `promoteLearner` turns an existing learner into a voter; `removeNode` removes a voter or a
 * learner.
 */
export interface ConfChange {
  readonly type: 'addVoter' | 'addLearner' | 'promoteLearner' | 'removeNode';
  readonly nodeId: NodeId;
}

/** Where a snapshot stands in the log, and the membership at that point. */
export interface SnapshotMetadata {
  readonly index: number;
  readonly term: number;
  readonly conf: ConfState;
}

/** The application's state as of `metadata.index`, produced and consumed by the application. */
export interface Snapshot {
  readonly metadata: SnapshotMetadata;
  readonly data: Uint8Array;
}

/** The role a node plays in its current term. */
export type Role = 'follower' | 'pre-candidate' | 'candidate' | 'leader';

/** Volatile state, reported for observability (`/v1/raft`) and routing (the leader hint). */
export interface SoftState {
  readonly leader: NodeId;
  readonly role: Role;
  readonly conf: ConfState;
}

interface Envelope {
  readonly from: NodeId;
  readonly to: NodeId;
  /**
   * The sender's term; for `PreVote` and a granted `PreVoteResponse`, the term the pre-candidate
   * would campaign in (its term + 1), which nobody adopts.
   */
  readonly term: number;
}

/** Asks whether the receiver would vote for the sender, without disturbing anyone's term. */
export interface PreVoteMessage extends Envelope {
  readonly type: 'PreVote';
  readonly lastIndex: number;
  readonly lastTerm: number;
}

/** Asks for a vote in `term`. `transfer` is set when the campaign follows a `TimeoutNow`. */
export interface VoteMessage extends Envelope {
  readonly type: 'Vote';
  readonly lastIndex: number;
  readonly lastTerm: number;
  readonly transfer: boolean;
}

/** Answer to a `PreVote` or a `Vote`. */
export interface VoteResponseMessage extends Envelope {
  readonly type: 'PreVoteResponse' | 'VoteResponse';
  readonly reject: boolean;
}

/** Replicates `entries` after (`prevIndex`, `prevTerm`) and tells the leader's commit index. */
export interface AppendMessage extends Envelope {
  readonly type: 'Append';
  readonly prevIndex: number;
  readonly prevTerm: number;
  readonly entries: readonly Entry[];
  readonly commit: number;
}

/**
 * Answer to `Append` or `Snapshot`. On success `index` is the highest index known to match the
 * leader. On rejection `index` is the rejected `prevIndex`, and (`hintIndex`, `hintTerm`) is the
 * follower's last entry that could still match, for fast backtracking (one round trip per term
 * instead of one per entry).
 */
export interface AppendResponseMessage extends Envelope {
  readonly type: 'AppendResponse';
  readonly index: number;
  readonly reject: boolean;
  readonly hintIndex: number;
  readonly hintTerm: number;
}

/** Keeps followers from campaigning; carries a commit index the follower is known to reach. */
export interface HeartbeatMessage extends Envelope {
  readonly type: 'Heartbeat';
  readonly commit: number;
}

/** Answer to `Heartbeat`: proves the follower is alive (check-quorum) and unpauses probing. */
export interface HeartbeatResponseMessage extends Envelope {
  readonly type: 'HeartbeatResponse';
}

/** Replaces a lagging follower's log with the leader's snapshot. */
export interface SnapshotMessage extends Envelope {
  readonly type: 'Snapshot';
  readonly snapshot: Snapshot;
}

/** Leader transfer: "campaign now, skipping pre-vote and the leader lease". */
export interface TimeoutNowMessage extends Envelope {
  readonly type: 'TimeoutNow';
}

/** Everything nodes say to each other. The driver delivers them, in any order, or not at all. */
export type Message =
  | PreVoteMessage
  | VoteMessage
  | VoteResponseMessage
  | AppendMessage
  | AppendResponseMessage
  | HeartbeatMessage
  | HeartbeatResponseMessage
  | SnapshotMessage
  | TimeoutNowMessage;

/** The discriminant of {@link Message}. */
export type MessageType = Message['type'];
