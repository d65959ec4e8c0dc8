/**
 * The driver's handle on a Raft node (etcd's RawNode). Single-threaded and synchronous: the driver
 * calls `tick`, `step` and the proposal methods, then loops:
 *
 * ```
 * while (node.hasReady()) {
 *   const rd = node.ready();
 *   persist(rd.snapshot, rd.entries, rd.hardState);   // fsync before anything else
 *   send(rd.messages);                                 // only after the persist
 *   apply(rd.snapshot, rd.committedEntries);           // in order
 *   node.advance();
 * }
 * ```
 *
 * `tick`, `step` and proposals may be called between `ready()` and `advance()`; what they produce
 * goes into the next Ready. `ready()` may not be called twice without `advance()` in between.
 */
import { RaftError } from './errors.js';
import { describeConf } from './membership.js';
import { Raft, type RaftOptions } from './raft.js';
import type {
  ConfChange,
  ConfState,
  Entry,
  HardState,
  Message,
  NodeId,
  Role,
  Snapshot,
  SnapshotMetadata,
  SoftState,
} from './types.js';

/**
 * A batch of work for the driver. Order of duties: persist `snapshot`, `entries` and `hardState`
 * atomically and durably; then send `messages`; then apply `snapshot` (if any) and
 * `committedEntries` to the state machine; then call `advance()`.
 */
export interface Ready {
  /** Set when role, leader or membership changed since the previous Ready. */
  readonly softState?: SoftState;
  /** Set when term, vote or commit changed: persist it. */
  readonly hardState?: HardState;
  /** A snapshot received from the leader: persist it (it replaces the whole log), then load it. */
  readonly snapshot?: Snapshot;
  /** Entries to append to stable storage (truncating any conflicting suffix there). */
  readonly entries: readonly Entry[];
  /** Committed entries to apply, in order (config entries included: they need no action). */
  readonly committedEntries: readonly Entry[];
  /** Messages to send, after persisting. Delivery may fail, repeat or reorder: Raft copes. */
  readonly messages: readonly Message[];
}

/** A snapshot of a node's state for `/v1/raft`, tests and debugging. */
export interface Status {
  readonly id: NodeId;
  readonly role: Role;
  readonly term: number;
  readonly vote: NodeId;
  readonly leader: NodeId;
  readonly commit: number;
  readonly applied: number;
  readonly firstIndex: number;
  readonly lastIndex: number;
  readonly conf: ConfState;
  /** Leader only: each member's replication progress (`state match=M next=N`). */
  readonly progress: Readonly<Record<NodeId, string>>;
}

/** Where a proposal landed: it is committed iff the entry applied at `index` has this `term`. */
export interface ProposalPosition {
  readonly term: number;
  readonly index: number;
}

interface Pending {
  lastEntry?: { index: number; term: number };
  snapshotIndex?: number;
  lastCommitted?: number;
}

/** The Ready/advance façade over {@link Raft}. */
export class RawNode {
  private readonly raft: Raft;
  private prevHardState: HardState;
  private prevSoftState: SoftState;
  private pending: Pending | undefined;

  constructor(options: RaftOptions) {
    this.raft = new Raft(options);
    this.prevHardState = options.storage.initialState().hardState;
    this.prevSoftState = this.raft.softState();
  }

  /** Advances logical time by one tick (elections, heartbeats, check-quorum). */
  tick(): void {
    this.raft.tick();
  }

  /** Starts a campaign now, as if the election timeout had elapsed (tests, operator hints). */
  campaign(): void {
    this.raft.hup('pre-vote');
  }

  /** Feeds a message received from a peer. */
  step(message: Message): void {
    this.raft.step(message);
  }

  /**
   * Leader only: appends one entry per payload (all in one batch). Throws
   * {@link ProposalDroppedError} (with the leader hint) elsewhere.
   */
  propose(...payloads: Uint8Array[]): ProposalPosition[] {
    return this.raft.propose(payloads);
  }

  /** Leader only: appends a membership change (one at a time; effective once appended). */
  proposeConfChange(change: ConfChange): ProposalPosition {
    return this.raft.proposeConfChange(change);
  }

  /** Leader only: hands leadership over to the voter `to`. Proposals are refused meanwhile. */
  transferLeadership(to: NodeId): void {
    this.raft.transferLeadership(to);
  }

  /** The driver tells whether a `Snapshot` message could be sent to `to`. */
  reportSnapshot(to: NodeId, ok: boolean): void {
    this.raft.reportSnapshot(to, ok);
  }

  /**
   * Metadata for a snapshot the application takes at `index` (≤ applied): the term and the
   * membership as of that index.
   */
  snapshotMetadata(index: number): SnapshotMetadata {
    const term = this.raft.log.term(index);
    if (term === undefined || index > this.raft.log.applied) {
      throw new RaftError('PALISADE_RAFT_MISUSE', `no applied entry at ${index} to snapshot`);
    }
    return { index, term, conf: this.raft.confAt(index) };
  }

  hasReady(): boolean {
    if (this.pending) return false;
    const raft = this.raft;
    const soft = this.prevSoftState;
    if (
      raft.lead !== soft.leader ||
      raft.role !== soft.role ||
      !confEqual(raft.conf(), soft.conf)
    ) {
      return true;
    }
    const hard = this.prevHardState;
    if (raft.term !== hard.term || raft.vote !== hard.vote || raft.log.committed !== hard.commit) {
      return true;
    }
    if (raft.msgs.length > 0) return true;
    if (raft.log.unstableSnapshot() || raft.log.hasUnstableEntries()) return true;
    return raft.log.hasNextCommittedEntries();
  }

  /** The cheap part of {@link status}, for hot paths (routing a request, deciding to compact). */
  basicStatus(): Pick<Status, 'id' | 'role' | 'term' | 'leader' | 'commit' | 'applied'> {
    const raft = this.raft;
    return {
      id: raft.id,
      role: raft.role,
      term: raft.term,
      leader: raft.lead,
      commit: raft.log.committed,
      applied: raft.log.applied,
    };
  }

  /** Collects the work to do. Must be followed by `advance()` before the next call. */
  ready(): Ready {
    if (this.pending) {
      throw new RaftError('PALISADE_RAFT_MISUSE', 'ready() called again before advance()');
    }
    const raft = this.raft;
    const entries = raft.log.unstableEntries();
    const snapshot = raft.log.unstableSnapshot();
    const committedEntries = raft.log.nextCommittedEntries(raft.maxBytesPerReady);
    const messages = raft.msgs;
    raft.msgs = [];
    const softState = raft.softState();
    const hardState = raft.hardState();
    const last = entries.at(-1);
    this.pending = {
      lastEntry: last && { index: last.index, term: last.term },
      snapshotIndex: snapshot?.metadata.index,
      lastCommitted: committedEntries.at(-1)?.index,
    };
    const ready: {
      -readonly [K in keyof Ready]: Ready[K];
    } = { entries, committedEntries, messages };
    if (!softStateEqual(softState, this.prevSoftState)) {
      ready.softState = softState;
      this.prevSoftState = softState;
    }
    if (!hardStateEqual(hardState, this.prevHardState)) {
      ready.hardState = hardState;
      this.prevHardState = hardState;
    }
    if (snapshot) ready.snapshot = snapshot;
    return ready;
  }

  /** Declares the last Ready done: persisted, sent and applied. */
  advance(): void {
    const pending = this.pending;
    if (!pending) throw new RaftError('PALISADE_RAFT_MISUSE', 'advance() without ready()');
    this.pending = undefined;
    const log = this.raft.log;
    if (pending.snapshotIndex !== undefined) {
      log.stableSnapshotTo(pending.snapshotIndex);
      if (pending.snapshotIndex > log.applied) log.applied = pending.snapshotIndex;
    }
    if (pending.lastEntry) this.raft.stableTo(pending.lastEntry.index, pending.lastEntry.term);
    if (pending.lastCommitted !== undefined && pending.lastCommitted > log.applied) {
      log.appliedTo(pending.lastCommitted);
    }
  }

  status(): Status {
    const raft = this.raft;
    const progress: Record<NodeId, string> = {};
    if (raft.role === 'leader') {
      for (const [id, p] of [...raft.progress].sort(([a], [b]) => (a < b ? -1 : 1))) {
        progress[id] = p.describe();
      }
    }
    return {
      id: raft.id,
      role: raft.role,
      term: raft.term,
      vote: raft.vote,
      leader: raft.lead,
      commit: raft.log.committed,
      applied: raft.log.applied,
      firstIndex: raft.log.firstIndex(),
      lastIndex: raft.log.lastIndex(),
      conf: raft.conf(),
      progress,
    };
  }

  /** Test aid: the log as this node sees it (stable and unstable), from `lo`. */
  logEntries(lo = this.raft.log.firstIndex()): Entry[] {
    return this.raft.log.allEntriesFrom(lo);
  }

  /** Test aid: the term of entry `index`, or undefined when compacted or absent. */
  termAt(index: number): number | undefined {
    return this.raft.log.term(index);
  }

  /** Test aid: one line describing the node. */
  describe(): string {
    const s = this.status();
    return (
      `${s.id}: ${s.role} term=${s.term} leader=${s.leader || '-'} ` +
      `commit=${s.commit} applied=${s.applied} last=${s.lastIndex} ${describeConf(s.conf)}`
    );
  }
}

function hardStateEqual(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

function confEqual(a: ConfState, b: ConfState): boolean {
  return (
    a === b || (a.voters.join() === b.voters.join() && a.learners.join() === b.learners.join())
  );
}

function softStateEqual(a: SoftState, b: SoftState): boolean {
  return a.leader === b.leader && a.role === b.role && confEqual(a.conf, b.conf);
}
