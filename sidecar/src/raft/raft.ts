/**
 * The Raft state machine of one node: roles, terms, elections (with pre-vote and check-quorum),
 * log replication with fast backtracking and pipelining, commitment, snapshots, leader transfer
 * and single-server membership changes. It does no I/O: inputs are `tick`, `step` and the
 * proposal calls; outputs accumulate in `msgs` and in the log's unstable/committed parts, which
 * {@link RawNode} packages into a Ready.
 */
import type { Random } from '../core/random.js';
import { ProposalDroppedError, RaftError } from './errors.js';
import {
  applyConfChange,
  committedIndex,
  confAfter,
  encodeConfChange,
  tallyVotes,
} from './membership.js';
import { Progress } from './progress.js';
import { RaftLog } from './raft-log.js';
import type { Storage } from './storage.js';
import {
  NONE,
  type AppendMessage,
  type AppendResponseMessage,
  type ConfChange,
  type ConfState,
  type Entry,
  type EntryType,
  type HardState,
  type HeartbeatMessage,
  type Message,
  type NodeId,
  type Role,
  type Snapshot,
  type SnapshotMessage,
  type SoftState,
} from './types.js';

/** Everything a node is configured with. Times are in ticks; the driver decides a tick's length. */
export interface RaftOptions {
  readonly id: NodeId;
  readonly storage: Storage;
  /** Source of the election timeout jitter. Seeded in tests, `systemRandom` in production. */
  readonly random: Random;
  /** Ticks without hearing from a leader before campaigning: randomized in [e, 2e). Default 10. */
  readonly electionTick?: number;
  /** Ticks between heartbeats; must be well below `electionTick`. Default 1. */
  readonly heartbeatTick?: number;
  /** Ask for a pre-vote before disturbing the group with a new term (§9.6). Default true. */
  readonly preVote?: boolean;
  /** A leader steps down when it has not heard from a quorum for an election timeout. Default true. */
  readonly checkQuorum?: boolean;
  /** Appends in flight per follower in `replicate` state (pipelining). Default 64. */
  readonly maxInflight?: number;
  /** Bytes of entry data per append message (always at least one entry). Default 1 MiB. */
  readonly maxBytesPerAppend?: number;
  /** Bytes of committed entries per Ready. Default 4 MiB. */
  readonly maxBytesPerReady?: number;
  /** Highest index the application has already applied (it holds that state). Default: snapshot. */
  readonly applied?: number;
  /**
   * When the commit index moves, send every follower an append even if it has no entries to
   * carry, just to tell it the new commit index (etcd's `bcastAppend` on commit). Default true.
   * Off, a follower learns it from the next append that carries entries or the next heartbeat
   * (one heartbeat interval at most): nothing waits for a follower's commit index (clients are
   * answered by the leader), and at a low request rate those appends and their answers are half
   * of every follower's messages per request. A leader that commits its own removal announces it
   * either way, since it sends no heartbeats after stepping down.
   */
  readonly announceCommit?: boolean;
}

type CampaignKind = 'pre-vote' | 'election' | 'transfer';

/** One Raft node. Use it through {@link RawNode}. */
export class Raft {
  readonly id: NodeId;
  term = 0;
  vote: NodeId = NONE;
  lead: NodeId = NONE;
  role: Role = 'follower';
  readonly log: RaftLog;
  /** Only meaningful on the leader. */
  readonly progress = new Map<NodeId, Progress>();
  /** Messages to send once the Ready that carries them has been persisted. */
  msgs: Message[] = [];
  leadTransferee: NodeId = NONE;

  private readonly random: Random;
  readonly electionTick: number;
  readonly heartbeatTick: number;
  private readonly preVote: boolean;
  private readonly checkQuorum: boolean;
  private readonly maxInflight: number;
  private readonly announceCommit: boolean;
  readonly maxBytesPerAppend: number;
  readonly maxBytesPerReady: number;

  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTimeout = 0;
  private readonly votes = new Map<NodeId, boolean>();

  /** Membership as of `confBaseIndex` (the snapshot point), then one step per config entry. */
  private confBase: ConfState;
  private confBaseIndex: number;
  private confHistory: { index: number; conf: ConfState }[] = [];

  constructor(options: RaftOptions) {
    this.id = options.id;
    this.random = options.random;
    this.electionTick = options.electionTick ?? 10;
    this.heartbeatTick = options.heartbeatTick ?? 1;
    if (this.heartbeatTick <= 0 || this.electionTick <= this.heartbeatTick) {
      throw new RaftError('PALISADE_RAFT_MISUSE', 'need 0 < heartbeatTick < electionTick');
    }
    this.preVote = options.preVote ?? true;
    this.checkQuorum = options.checkQuorum ?? true;
    this.maxInflight = options.maxInflight ?? 64;
    this.announceCommit = options.announceCommit ?? true;
    this.maxBytesPerAppend = options.maxBytesPerAppend ?? 1024 * 1024;
    this.maxBytesPerReady = options.maxBytesPerReady ?? 4 * 1024 * 1024;

    const storage = options.storage;
    this.log = new RaftLog(storage, this.maxBytesPerAppend);
    const { hardState, conf } = storage.initialState();
    this.confBase = conf;
    this.confBaseIndex = storage.firstIndex() - 1;
    this.recordConfEntries(this.log.allEntriesFrom(storage.firstIndex()));
    if (hardState.commit > 0) this.log.commitTo(hardState.commit);
    if (options.applied !== undefined) this.log.appliedTo(options.applied);
    this.becomeFollower(hardState.term, NONE);
    this.vote = hardState.vote;
  }

  // ---------------------------------------------------------------------------------------------
  // Membership

  /** The configuration in force: the latest config entry in the log, committed or not. */
  conf(): ConfState {
    return this.confHistory.at(-1)?.conf ?? this.confBase;
  }

  /** The configuration as of log index `index` (for snapshot metadata). */
  confAt(index: number): ConfState {
    let conf = this.confBase;
    for (const step of this.confHistory) {
      if (step.index > index) break;
      conf = step.conf;
    }
    return conf;
  }

  private lastConfIndex(): number {
    return this.confHistory.at(-1)?.index ?? this.confBaseIndex;
  }

  private isVoter(id: NodeId = this.id): boolean {
    return this.conf().voters.includes(id);
  }

  private isMember(id: NodeId): boolean {
    const conf = this.conf();
    return conf.voters.includes(id) || conf.learners.includes(id);
  }

  /** Records config entries just written to the log, after forgetting truncated ones. */
  private onEntriesWritten(entries: readonly Entry[]): void {
    const first = entries[0];
    if (first === undefined) return;
    const before = this.confHistory.length;
    this.confHistory = this.confHistory.filter((step) => step.index < first.index);
    const truncated = this.confHistory.length !== before;
    const recorded = this.recordConfEntries(entries);
    if ((truncated || recorded) && this.role === 'leader') this.syncProgress();
  }

  private recordConfEntries(entries: readonly Entry[]): boolean {
    let recorded = false;
    for (const entry of entries) {
      if (entry.type !== 'config') continue;
      this.confHistory.push({ index: entry.index, conf: confAfter(this.conf(), [entry]) });
      recorded = true;
    }
    return recorded;
  }

  /** Makes the leader's progress map follow the configuration. */
  private syncProgress(): void {
    const conf = this.conf();
    const members = new Set([...conf.voters, ...conf.learners]);
    for (const id of members) {
      if (!this.progress.has(id)) {
        const progress = new Progress(this.log.lastIndex() + 1, this.maxInflight);
        progress.recentActive = true;
        if (id === this.id) progress.match = this.log.stableLastIndex();
        this.progress.set(id, progress);
      }
    }
    for (const id of [...this.progress.keys()]) {
      if (!members.has(id)) this.progress.delete(id);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Role transitions

  private reset(term: number): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = NONE;
    }
    this.lead = NONE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.randomizedElectionTimeout =
      this.electionTick + Math.floor(this.random.next() * this.electionTick);
    this.leadTransferee = NONE;
    this.votes.clear();
    this.progress.clear();
  }

  becomeFollower(term: number, lead: NodeId): void {
    this.reset(term);
    this.lead = lead;
    this.role = 'follower';
  }

  private becomePreCandidate(): void {
    // Neither the term nor the vote changes: a pre-vote disturbs nobody.
    this.votes.clear();
    this.lead = NONE;
    this.role = 'pre-candidate';
  }

  private becomeCandidate(): void {
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = 'candidate';
  }

  private becomeLeader(): void {
    this.reset(this.term);
    this.lead = this.id;
    this.role = 'leader';
    this.syncProgress();
    const self = this.progress.get(this.id);
    if (self) self.becomeReplicate();
    // The empty entry of the new term: committing it commits everything before it (§5.4.2) and
    // unlocks membership changes (see proposeConfChange).
    this.appendEntries([{ type: 'normal', data: new Uint8Array() }]);
  }

  /** Whether this node may campaign: only voters ever do (learners and outsiders never). */
  promotable(): boolean {
    return this.isVoter();
  }

  // ---------------------------------------------------------------------------------------------
  // Time

  tick(): void {
    if (this.role === 'leader') this.tickHeartbeat();
    else this.tickElection();
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.hup('pre-vote');
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    for (const [id, progress] of this.progress) {
      if (progress.state !== 'snapshot') continue;
      // A snapshot message may have been lost: after an election timeout without an answer,
      // probe again (which sends a fresh snapshot if still needed).
      if (++progress.snapshotTicks >= this.electionTick) {
        progress.becomeProbe();
        this.sendAppend(id);
      }
    }
    if (this.electionElapsed >= this.electionTick) {
      this.electionElapsed = 0;
      if (this.checkQuorum && !this.quorumActive()) {
        this.becomeFollower(this.term, NONE);
        return;
      }
      // A transfer that did not finish within an election timeout is abandoned.
      this.leadTransferee = NONE;
    }
    if (this.heartbeatElapsed >= this.heartbeatTick) {
      this.heartbeatElapsed = 0;
      this.broadcastHeartbeat();
    }
  }

  /** Check-quorum: has a majority of voters (counting ourselves) been heard from lately? */
  private quorumActive(): boolean {
    const votes = new Map<NodeId, boolean>();
    for (const [id, progress] of this.progress) {
      votes.set(id, id === this.id || progress.recentActive);
      if (id !== this.id) progress.recentActive = false;
    }
    return tallyVotes(this.conf().voters, votes) === 'won';
  }

  // ---------------------------------------------------------------------------------------------
  // Elections

  /** Starts a campaign (if this node may), with a pre-vote first unless told otherwise. */
  hup(kind: CampaignKind): void {
    if (this.role === 'leader' || !this.promotable()) return;
    if (kind === 'pre-vote' && !this.preVote) kind = 'election';
    this.campaign(kind);
  }

  private campaign(kind: CampaignKind): void {
    let voteTerm: number;
    if (kind === 'pre-vote') {
      this.becomePreCandidate();
      voteTerm = this.term + 1;
    } else {
      this.becomeCandidate();
      voteTerm = this.term;
    }
    if (this.recordVote(this.id, true) === 'won') {
      // A group of one voter.
      if (kind === 'pre-vote') this.campaign('election');
      else this.becomeLeader();
      return;
    }
    const lastIndex = this.log.lastIndex();
    const lastTerm = this.log.lastTerm();
    for (const voter of this.conf().voters) {
      if (voter === this.id) continue;
      if (kind === 'pre-vote') {
        this.send({
          type: 'PreVote',
          from: this.id,
          to: voter,
          term: voteTerm,
          lastIndex,
          lastTerm,
        });
      } else {
        this.send({
          type: 'Vote',
          from: this.id,
          to: voter,
          term: voteTerm,
          lastIndex,
          lastTerm,
          transfer: kind === 'transfer',
        });
      }
    }
  }

  private recordVote(id: NodeId, granted: boolean) {
    if (!this.votes.has(id)) this.votes.set(id, granted);
    return tallyVotes(this.conf().voters, this.votes);
  }

  // ---------------------------------------------------------------------------------------------
  // Messages

  private send(message: Message): void {
    this.msgs.push(message);
  }

  /** Handles one message from a peer. Messages not addressed to this node are ignored. */
  step(m: Message): void {
    if (m.to !== this.id || m.from === this.id) return;

    if (m.term > this.term) {
      if (m.type === 'PreVote' || m.type === 'Vote') {
        const transfer = m.type === 'Vote' && m.transfer;
        const inLease =
          this.checkQuorum && this.lead !== NONE && this.electionElapsed < this.electionTick;
        // We heard from a live leader within the minimum election timeout: a node campaigning
        // now is disruptive (partitioned, or removed), so ignore it entirely (§9.6 / §4.2.3).
        if (!transfer && inLease) return;
      }
      if (m.type === 'PreVote' || (m.type === 'PreVoteResponse' && !m.reject)) {
        // Pre-votes carry a future term that nobody adopts.
      } else if (m.type === 'Append' || m.type === 'Heartbeat' || m.type === 'Snapshot') {
        this.becomeFollower(m.term, m.from);
      } else {
        this.becomeFollower(m.term, NONE);
      }
    } else if (m.term < this.term) {
      if ((this.checkQuorum || this.preVote) && (m.type === 'Append' || m.type === 'Heartbeat')) {
        // A stale leader (for instance back from a partition) learns our term and steps down.
        // Without this, with pre-vote on, a node whose term ran ahead could be stuck forever.
        this.send(this.appendResponse(m.from, 0, false));
      } else if (m.type === 'PreVote') {
        this.send({
          type: 'PreVoteResponse',
          from: this.id,
          to: m.from,
          term: this.term,
          reject: true,
        });
      }
      return;
    }

    switch (m.type) {
      case 'PreVote':
      case 'Vote': {
        const canVote =
          this.vote === m.from ||
          (this.vote === NONE && this.lead === NONE) ||
          (m.type === 'PreVote' && m.term > this.term);
        const grant = canVote && this.log.isUpToDate(m.lastIndex, m.lastTerm);
        const responseType = m.type === 'PreVote' ? 'PreVoteResponse' : 'VoteResponse';
        if (grant) {
          this.send({ type: responseType, from: this.id, to: m.from, term: m.term, reject: false });
          if (m.type === 'Vote') {
            this.electionElapsed = 0;
            this.vote = m.from;
          }
        } else {
          this.send({
            type: responseType,
            from: this.id,
            to: m.from,
            term: this.term,
            reject: true,
          });
        }
        return;
      }
    }

    switch (this.role) {
      case 'leader':
        this.stepLeader(m);
        return;
      case 'candidate':
      case 'pre-candidate':
        this.stepCandidate(m);
        return;
      case 'follower':
        this.stepFollower(m);
        return;
    }
  }

  private stepLeader(m: Message): void {
    const progress = this.progress.get(m.from);
    if (progress === undefined) return;
    switch (m.type) {
      case 'AppendResponse':
        progress.recentActive = true;
        this.handleAppendResponse(m, progress);
        return;
      case 'HeartbeatResponse':
        progress.recentActive = true;
        progress.probeSent = false;
        if (progress.state === 'replicate' && progress.inflights.full()) {
          progress.inflights.freeFirstOne();
        }
        if (progress.match < this.log.lastIndex()) this.sendAppend(m.from);
        return;
      default:
        return;
    }
  }

  private handleAppendResponse(m: AppendResponseMessage, progress: Progress): void {
    if (m.reject) {
      let nextProbe = m.hintIndex;
      if (m.hintTerm > 0) nextProbe = this.log.findConflictByTerm(m.hintIndex, m.hintTerm);
      if (progress.maybeDecrTo(m.index, nextProbe)) {
        if (progress.state === 'replicate') progress.becomeProbe();
        this.sendAppend(m.from);
      }
      return;
    }
    const oldPaused = progress.isPaused();
    if (!progress.maybeUpdate(m.index)) {
      if (oldPaused && !progress.isPaused()) this.sendAppend(m.from);
      return;
    }
    if (progress.state === 'probe') {
      progress.becomeReplicate();
    } else if (progress.state === 'snapshot' && progress.match >= progress.pendingSnapshot) {
      progress.becomeProbe();
      progress.becomeReplicate();
    } else if (progress.state === 'replicate') {
      progress.inflights.freeLE(m.index);
    }
    if (this.maybeCommit()) {
      this.broadcastCommit();
      this.maybeStepDownAfterRemoval();
      if (this.role !== 'leader') return;
    } else if (oldPaused) {
      // It was paused, so it may have missed the latest commit index: tell it, even if empty.
      this.sendAppend(m.from);
    }
    // Pipelining: fill the window again.
    while (this.sendAppend(m.from, false)) {
      /* keep sending */
    }
    if (m.from === this.leadTransferee && progress.match === this.log.lastIndex()) {
      this.sendTimeoutNow(m.from);
    }
  }

  private stepCandidate(m: Message): void {
    switch (m.type) {
      case 'Append':
        this.becomeFollower(m.term, m.from);
        this.handleAppend(m);
        return;
      case 'Heartbeat':
        this.becomeFollower(m.term, m.from);
        this.handleHeartbeat(m);
        return;
      case 'Snapshot':
        this.becomeFollower(m.term, m.from);
        this.handleSnapshot(m);
        return;
      case 'PreVoteResponse':
      case 'VoteResponse': {
        const expected = this.role === 'pre-candidate' ? 'PreVoteResponse' : 'VoteResponse';
        if (m.type !== expected) return;
        const outcome = this.recordVote(m.from, !m.reject);
        if (outcome === 'won') {
          if (this.role === 'pre-candidate') {
            this.campaign('election');
          } else {
            this.becomeLeader();
            this.broadcastAppend();
          }
        } else if (outcome === 'lost') {
          this.becomeFollower(this.term, NONE);
        }
        return;
      }
      default:
        return;
    }
  }

  private stepFollower(m: Message): void {
    switch (m.type) {
      case 'Append':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleAppend(m);
        return;
      case 'Heartbeat':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleHeartbeat(m);
        return;
      case 'Snapshot':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleSnapshot(m);
        return;
      case 'TimeoutNow':
        // Leader transfer: campaign at once, skipping pre-vote (the leader asked for it).
        this.hup('transfer');
        return;
      default:
        return;
    }
  }

  private appendResponse(
    to: NodeId,
    index: number,
    reject: boolean,
    hintIndex = 0,
    hintTerm = 0,
  ): AppendResponseMessage {
    return {
      type: 'AppendResponse',
      from: this.id,
      to,
      term: this.term,
      index,
      reject,
      hintIndex,
      hintTerm,
    };
  }

  private handleAppend(m: AppendMessage): void {
    if (m.prevIndex < this.log.committed) {
      this.send(this.appendResponse(m.from, this.log.committed, false));
      return;
    }
    const result = this.log.maybeAppend(m.prevIndex, m.prevTerm, m.commit, m.entries);
    if (result) {
      if (result.firstWritten !== undefined) {
        this.onEntriesWritten(m.entries.slice(result.firstWritten - (m.prevIndex + 1)));
      }
      this.send(this.appendResponse(m.from, result.lastNewIndex, false));
      return;
    }
    // Fast backtracking (§5.3): point the leader at our last entry whose term is ≤ prevTerm, so
    // that it skips a whole term of conflicting entries per round trip.
    const hintIndex = this.log.findConflictByTerm(
      Math.min(m.prevIndex, this.log.lastIndex()),
      m.prevTerm,
    );
    const hintTerm = this.log.term(hintIndex) ?? 0;
    this.send(this.appendResponse(m.from, m.prevIndex, true, hintIndex, hintTerm));
  }

  private handleHeartbeat(m: HeartbeatMessage): void {
    this.log.commitTo(Math.min(m.commit, this.log.lastIndex()));
    this.send({ type: 'HeartbeatResponse', from: this.id, to: m.from, term: this.term });
  }

  private handleSnapshot(m: SnapshotMessage): void {
    const { index, term } = m.snapshot.metadata;
    if (index <= this.log.committed) {
      this.send(this.appendResponse(m.from, this.log.committed, false));
      return;
    }
    if (this.log.matchTerm(index, term)) {
      // We already have the entries: just learn that they are committed.
      this.log.commitTo(index);
    } else {
      this.restore(m.snapshot);
    }
    this.send(this.appendResponse(m.from, this.log.lastIndex(), false));
  }

  private restore(snapshot: Snapshot): void {
    this.log.restore(snapshot);
    this.confBase = snapshot.metadata.conf;
    this.confBaseIndex = snapshot.metadata.index;
    this.confHistory = [];
  }

  // ---------------------------------------------------------------------------------------------
  // Leader: replication

  private sendAppend(to: NodeId, sendIfEmpty = true): boolean {
    const progress = this.progress.get(to);
    if (progress === undefined || to === this.id || progress.isPaused()) return false;
    const prevIndex = progress.next - 1;
    const prevTerm = this.log.term(prevIndex);
    let entries: Entry[] | undefined;
    if (prevTerm !== undefined) {
      try {
        entries = this.log.entries(progress.next, this.maxBytesPerAppend);
      } catch (error) {
        if (!(error instanceof RaftError && error.code === 'PALISADE_RAFT_COMPACTED')) throw error;
      }
    }
    if (prevTerm === undefined || entries === undefined) {
      // What the follower needs is compacted: send the snapshot instead.
      let snapshot: Snapshot;
      try {
        snapshot = this.log.snapshot();
      } catch (error) {
        if (error instanceof RaftError && error.code === 'PALISADE_RAFT_SNAPSHOT_UNAVAILABLE') {
          return false;
        }
        throw error;
      }
      progress.becomeSnapshot(snapshot.metadata.index);
      this.send({ type: 'Snapshot', from: this.id, to, term: this.term, snapshot });
      return true;
    }
    if (!sendIfEmpty && entries.length === 0) return false;
    this.send({
      type: 'Append',
      from: this.id,
      to,
      term: this.term,
      prevIndex,
      prevTerm,
      entries,
      commit: this.log.committed,
    });
    const last = entries.at(-1);
    if (progress.state === 'replicate' && last !== undefined) {
      progress.next = last.index + 1;
      progress.inflights.add(last.index);
    } else if (progress.state === 'probe') {
      progress.probeSent = true;
    }
    return true;
  }

  private broadcastAppend(): void {
    for (const id of this.progress.keys()) this.sendAppend(id);
  }

  /** After the commit index moved: appends to the followers (see `announceCommit`). */
  private broadcastCommit(): void {
    const leaving = !this.isVoter() && this.log.committed >= this.lastConfIndex();
    const sendIfEmpty = this.announceCommit || leaving;
    for (const id of this.progress.keys()) this.sendAppend(id, sendIfEmpty);
  }

  private broadcastHeartbeat(): void {
    for (const [id, progress] of this.progress) {
      if (id === this.id) continue;
      // Never tell a follower to commit beyond what it is known to hold.
      const commit = Math.min(progress.match, this.log.committed);
      this.send({ type: 'Heartbeat', from: this.id, to: id, term: this.term, commit });
    }
  }

  private sendTimeoutNow(to: NodeId): void {
    this.send({ type: 'TimeoutNow', from: this.id, to, term: this.term });
  }

  /**
   * Commits the highest index stored by a majority of voters, but only if that entry is of the
   * current term (§5.4.2, Figure 8): older entries are committed indirectly.
   */
  private maybeCommit(): boolean {
    const index = committedIndex(this.conf().voters, (id) => this.progress.get(id)?.match ?? 0);
    if (index > this.log.committed && this.log.term(index) === this.term) {
      this.log.commitTo(index);
      return true;
    }
    return false;
  }

  /** A leader that removed itself keeps leading until the removal commits, then steps down. */
  private maybeStepDownAfterRemoval(): void {
    if (this.role === 'leader' && !this.isVoter() && this.log.committed >= this.lastConfIndex()) {
      this.becomeFollower(this.term, NONE);
    }
  }

  /** Called by RawNode.advance: entries up to `index` are now on stable storage. */
  stableTo(index: number, term: number): void {
    this.log.stableTo(index, term);
    if (this.role !== 'leader') return;
    const self = this.progress.get(this.id);
    if (self?.maybeUpdate(this.log.stableLastIndex()) && this.maybeCommit()) {
      this.broadcastCommit();
      this.maybeStepDownAfterRemoval();
    }
  }

  private appendEntries(entries: { type: EntryType; data: Uint8Array }[]): Entry[] {
    let index = this.log.lastIndex();
    const full = entries.map((e) => ({
      term: this.term,
      index: ++index,
      type: e.type,
      data: e.data,
    }));
    this.log.append(full);
    this.onEntriesWritten(full);
    return full;
  }

  // ---------------------------------------------------------------------------------------------
  // Proposals

  private checkCanPropose(): void {
    if (this.role !== 'leader') {
      throw new ProposalDroppedError('not-leader', this.lead, `${this.id} is not the leader`);
    }
    if (this.leadTransferee !== NONE) {
      throw new ProposalDroppedError(
        'transferring',
        this.lead,
        `leadership is moving to ${this.leadTransferee}`,
      );
    }
    if (!this.isVoter()) {
      throw new ProposalDroppedError('removed', NONE, `${this.id} was removed from the group`);
    }
  }

  /**
   * Appends normal entries (one per payload: a batch travels in one append) and returns the
   * (term, index) of each, so the caller can match them with what it later applies.
   */
  propose(payloads: readonly Uint8Array[]): { term: number; index: number }[] {
    this.checkCanPropose();
    const entries = this.appendEntries(payloads.map((data) => ({ type: 'normal', data })));
    this.broadcastAppend();
    return entries.map((e) => ({ term: e.term, index: e.index }));
  }

  /**
   * Appends a membership change. One at a time: refused while the previous change is
   * uncommitted, and until the leader has committed an entry of its own term (the fix to the
   * single-server change bug described by Ongaro on raft-dev, 2015).
   */
  proposeConfChange(change: ConfChange): { term: number; index: number } {
    this.checkCanPropose();
    if (
      this.lastConfIndex() > this.log.committed ||
      this.log.term(this.log.committed) !== this.term
    ) {
      throw new ProposalDroppedError(
        'conf-change-pending',
        this.lead,
        'a membership change or the leader’s first entry is not committed yet',
      );
    }
    const result = applyConfChange(this.conf(), change);
    if (!result.ok) throw new ProposalDroppedError('invalid-conf-change', this.lead, result.reason);
    const [entry] = this.appendEntries([{ type: 'config', data: encodeConfChange(change) }]);
    this.broadcastAppend();
    this.maybeStepDownAfterRemoval();
    if (entry === undefined) throw new RaftError('PALISADE_RAFT_MISUSE', 'nothing appended');
    return { term: entry.term, index: entry.index };
  }

  /** Hands leadership to `to` (a voter): catch it up, then tell it to campaign now (§3.10). */
  transferLeadership(to: NodeId): void {
    if (this.role !== 'leader') {
      throw new ProposalDroppedError('not-leader', this.lead, `${this.id} is not the leader`);
    }
    if (to === this.id || !this.isVoter(to)) {
      throw new RaftError('PALISADE_RAFT_MISUSE', `cannot transfer leadership to ${to}`);
    }
    if (this.leadTransferee === to) return;
    this.leadTransferee = to;
    this.electionElapsed = 0;
    const progress = this.progress.get(to);
    if (progress && progress.match === this.log.lastIndex()) this.sendTimeoutNow(to);
    else this.sendAppend(to);
  }

  /** The driver reports the fate of a snapshot it was asked to send. */
  reportSnapshot(to: NodeId, ok: boolean): void {
    const progress = this.progress.get(to);
    if (this.role !== 'leader' || progress?.state !== 'snapshot') return;
    if (!ok) progress.pendingSnapshot = 0;
    // Wait for the follower's answer (or the next heartbeat) before sending more.
    progress.becomeProbe();
    progress.probeSent = true;
  }

  // ---------------------------------------------------------------------------------------------
  // State for the Ready

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  softState(): SoftState {
    return { leader: this.lead, role: this.role, conf: this.conf() };
  }
}
