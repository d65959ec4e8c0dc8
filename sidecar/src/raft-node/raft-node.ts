/**
 * The Raft driver: the thin shell that runs the pure core (raft/) among sidecar processes. It
 * owns one RawNode, the durable store, the authenticated transport and the lease table, and runs
 * one loop (see docs/decisions/0011-raft-driver.md):
 *
 *   ticks (setInterval), transport messages (step), lease requests (queued)
 *        │
 *   turn: propose every queued command in ONE batch (stamped with the leader's monotonic clock
 *         right before `propose`), then while hasReady():
 *           0. send the leader's Append/Heartbeat/Snapshot messages (they acknowledge nothing);
 *              apply the committed entries already durable here, answer their waiters
 *           1. save snapshot + entries + hard state, fsync
 *           2. send the other messages                         (votes and acks are now durable)
 *           3. apply the snapshot and the other committed entries, answer waiters
 *           4. advance(); take a snapshot past the threshold
 *
 * Only one turn runs at a time; work that arrives during an fsync goes into the next Ready, which
 * is how proposals batch: one fsync per Ready whatever the number of entries.
 */
import type { Logger } from 'pino';
import { systemClock, type Clock } from '../core/clock.js';
import { systemRandom, type Random } from '../core/random.js';
import {
  LeaseTable,
  decodeLeaseCommand,
  encodeLeaseCommand,
  type LeaseCommand,
  type LeaseResult,
  type StampedLeaseCommand,
} from '../leases/index.js';
import type { Metrics } from '../metrics/index.js';
import {
  ProposalDroppedError,
  RawNode,
  bootstrapLog,
  type Entry,
  type HardState,
  type Message,
  type MessageType,
  type NodeId,
  type Ready,
  type Role,
} from '../raft/index.js';
import { FileRaftStorage, type RaftStorage } from '../raft-storage/index.js';
import { RaftTransport, type TrafficFilter } from '../raft-transport/index.js';
import {
  CoreStorage,
  decodeStoredEntry,
  encodeStoredEntry,
  encodeStoredSnapshot,
  decodeStoredSnapshot,
} from './core-storage.js';
import { RaftNodeError } from './errors.js';
import { composeSnapshot, splitSnapshot, type LogMachine } from './log-machine.js';
import {
  desiredConf,
  discoveryDecision,
  nextConfChange,
  type PeerSpec,
} from './membership-policy.js';
import {
  decodeNodeMessage,
  decodeNodeMessageBinary,
  encodeNodeMessageBinary,
  type CallReply,
  type LeaseReply,
  type LeaseRequest,
  type NodeMessage,
  type RaftNodeUnavailableCode,
} from './wire-messages.js';

/**
 * Timing defaults. A tick is 50 ms; heartbeats every tick; election timeout uniform in
 * [6, 12) ticks = [300, 600) ms. Failover after a leader crash ≈ the first follower's timeout
 * (≤ 600 ms) + pre-vote, vote and the first commit (three round trips and two fsyncs, tens of
 * ms) — under the 1 s p99 target with room for a loaded machine, while a needless election
 * needs six heartbeats in a row to go missing (300 ms of silence).
 */
export const DEFAULT_TIMING = Object.freeze({ tickMs: 50, electionTick: 6, heartbeatTick: 1 });

/**
 * After this long sending to a peer without hearing from it, the transport redials it: two
 * maximal election timeouts, at least 1 s. Every Raft message but a response is answered (a
 * heartbeat, an append, a vote request), and a leader sends every heartbeat tick, so a live
 * peer is heard from many times over; a path that lost its packets in a partition is redialed
 * instead of waiting for TCP's retransmission backoff, which over a few seconds of partition
 * grows to 3-13 s (the netns tests measured agreement 3.1 and 11 s after a heal without this).
 */
function silenceTimeoutMs(options: { tickMs?: number; electionTick?: number }): number {
  const tickMs = options.tickMs ?? DEFAULT_TIMING.tickMs;
  const electionTick = options.electionTick ?? DEFAULT_TIMING.electionTick;
  return Math.max(1000, 2 * 2 * electionTick * tickMs);
}

/** Messages only a leader sends, which need not wait for the leader's own fsync. */
const LEADER_MESSAGES: ReadonlySet<MessageType> = new Set(['Append', 'Heartbeat', 'Snapshot']);

/** A heartbeat, or an append without entries: it carries the leader's commit index and no log. */
function tellsOnlyCommit(message: Message): boolean {
  return (
    message.type === 'Heartbeat' || (message.type === 'Append' && message.entries.length === 0)
  );
}

/** Commands waiting to be proposed or committed at most: beyond, requests are refused (503). */
export const MAX_WAITING_COMMANDS = 20_000;

/** Options of {@link RaftNode.start}. */
export interface RaftNodeOptions {
  readonly group: string;
  readonly id: NodeId;
  /** The config's peer list, oldest pod first (this node included). */
  readonly peers: readonly PeerSpec[];
  /** The group secret (≥ 16 bytes). */
  readonly secret: Uint8Array;
  /** Where the Raft transport listens. */
  readonly listen: { readonly host: string; readonly port: number };
  /** This member's data directory (WAL and snapshots). */
  readonly dataDir: string;
  readonly metrics?: Metrics;
  readonly logger?: Logger;
  /** Monotonic clock: ticks are timers, but lease stamps read this. Default `performance.now`. */
  readonly clock?: Clock;
  readonly random?: Random;
  readonly tickMs?: number;
  readonly electionTick?: number;
  readonly heartbeatTick?: number;
  /** Take a snapshot after this many applied entries (default 10,000). */
  readonly snapshotEvery?: number;
  /** Entries kept behind a snapshot for slow followers (default 1,000). */
  readonly snapshotKeep?: number;
  /** A lease request gets an answer or `PALISADE_RAFT_TIMEOUT` within this (default 3 s). */
  readonly requestTimeoutMs?: number;
  /** Called once when the node stops on a fatal error (storage): the process should exit. */
  readonly onFatal?: (error: RaftNodeError) => void;
  /** A second state machine on the log (sagas): gets the entries that are not lease commands. */
  readonly machine?: LogMachine;
}

/** The answer to {@link RaftNode.proposeEntry} and {@link RaftNode.callLeader}. */
export type EntryReply = CallReply;

/** A member as `GET /v1/raft` shows it. */
export interface RaftMemberView {
  readonly id: NodeId;
  readonly address: string | undefined;
  readonly suffrage: 'voter' | 'learner';
  /** Leader only: the member's replication progress (`replicate match=… next=…`). */
  readonly progress?: string;
}

/** `GET /v1/raft`. */
export interface RaftStatusView {
  readonly id: NodeId;
  readonly group: string;
  readonly role: Role | 'joining';
  readonly term: number;
  readonly leader: NodeId | null;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly members: readonly RaftMemberView[];
}

interface Waiter {
  settle(reply: LeaseReply): void;
}

interface QueuedCommand extends Waiter {
  readonly command: LeaseCommand;
}

interface QueuedRead extends Waiter {
  readonly name: string;
}

/** The reads answered when the (empty) entry at an index applies in `term`. */
interface PendingReads {
  readonly term: number;
  readonly reads: readonly QueuedRead[];
}

interface ForwardedRequest extends Waiter {
  readonly leader: NodeId;
}

interface PendingEntry extends Waiter {
  readonly term: number;
  /** The command as proposed: applied as is if its entry commits at the same index and term. */
  readonly stamped: StampedLeaseCommand;
}

/** One running Raft member. */
export class RaftNode {
  private node: RawNode | undefined;
  private table = new LeaseTable();
  private readonly coreStorage: CoreStorage;
  private peers: readonly PeerSpec[];
  private readonly queue: QueuedCommand[] = [];
  private readonly pending = new Map<number, PendingEntry>();
  private readonly reads: QueuedRead[] = [];
  private readonly pendingReads = new Map<number, PendingReads>();
  private readonly forwarded = new Map<number, ForwardedRequest>();
  /** Machine entries proposed here, by index, until applied (or their deadline). */
  private readonly entryWaiters = new Map<number, { term: number; settle(r: EntryReply): void }>();
  /** Calls sent to the leader, by id, until answered. */
  private readonly calls = new Map<number, { leader: NodeId; settle(r: EntryReply): void }>();
  private callHandler: ((payload: unknown) => Promise<unknown>) | undefined;
  private nextForwardId = 1;
  private turnScheduled = false;
  private turnRunning: Promise<void> | undefined;
  /** The first index the save in flight writes (0: it writes a snapshot; none: Infinity). */
  private savingFrom = Infinity;
  /** The entries the save in flight writes. */
  private savingEntries: readonly Entry[] = [];
  /** The snapshot being saved and compacted, beside the turns (one at a time). */
  private snapshotting: Promise<void> | undefined;
  private initializing: Promise<void> | undefined;
  private ticker: NodeJS.Timeout | undefined;
  private membershipTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private fatal: RaftNodeError | undefined;
  private lastSnapshotIndex = 0;
  /** A commit-only hard state not yet written (see `persist`). */
  private deferredHardState: HardState | undefined;
  private applied = 0;
  private knownLeader: NodeId = '';
  private readonly probeReplies = new Map<NodeId, boolean>();
  /**
   * Whether this member belongs to a group: it has Raft state, or its discovery decided to join
   * or bootstrap one. What it answers to probes (see `discover`).
   */
  private inGroup = false;
  private readonly clock: Clock;
  private readonly tickMs: number;
  private readonly electionTick: number;
  private readonly heartbeatTick: number;
  private readonly snapshotEvery: number;
  private readonly snapshotKeep: number;
  private readonly requestTimeoutMs: number;

  private constructor(
    private readonly options: RaftNodeOptions,
    private readonly store: RaftStorage,
    private readonly transport: RaftTransport<NodeMessage>,
  ) {
    this.peers = options.peers;
    this.clock = options.clock ?? systemClock;
    this.tickMs = options.tickMs ?? DEFAULT_TIMING.tickMs;
    this.electionTick = options.electionTick ?? DEFAULT_TIMING.electionTick;
    this.heartbeatTick = options.heartbeatTick ?? DEFAULT_TIMING.heartbeatTick;
    this.snapshotEvery = options.snapshotEvery ?? 10_000;
    this.snapshotKeep = options.snapshotKeep ?? 1_000;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 3_000;
    this.coreStorage = new CoreStorage(store);
  }

  /**
   * Opens the store (recovering from the WAL), starts the transport and the loop. With an empty
   * data directory the node first probes its peers: it bootstraps the group from the peer list
   * only when every other listed voter answered that it is in no group (see `discover`);
   * otherwise it starts empty and waits for the leader to add it and send it the log.
   */
  static async start(options: RaftNodeOptions): Promise<RaftNode> {
    if (!options.peers.some((peer) => peer.id === options.id)) {
      throw new RaftNodeError(
        'PALISADE_RAFT_NODE_CONFIG',
        `raft.id ${options.id} is not in raft.peers`,
      );
    }
    const { storage, report } = await FileRaftStorage.open({ dir: options.dataDir });
    if (report.truncatedBytes > 0) {
      options.logger?.warn(
        { bytes: report.truncatedBytes, reason: report.truncatedReason },
        'cut a torn write from the end of the Raft WAL',
      );
    }
    let transport: RaftTransport<NodeMessage>;
    try {
      transport = await RaftTransport.start<NodeMessage>({
        group: options.group,
        id: options.id,
        secret: options.secret,
        listen: options.listen,
        peers: options.peers,
        decode: decodeNodeMessage,
        codec: { encode: encodeNodeMessageBinary, decode: decodeNodeMessageBinary },
        random: options.random,
        onDrop: (reason) => options.metrics?.raftDroppedMessages.bind(reason).inc(),
        silenceTimeoutMs: silenceTimeoutMs(options),
      });
    } catch (error) {
      await storage.close();
      throw error;
    }
    const node = new RaftNode(options, storage, transport);
    transport.onMessage((message, from) => node.receive(message, from));
    if (!node.hasState()) {
      // Discovery can take as long as the peers need to learn about this member: run it in the
      // background, so that the admin API (liveness, "not joined yet") is up meanwhile.
      node.initializing = node.initialize().catch((error: unknown) => node.fail(error));
      return node;
    }
    try {
      await node.initialize();
    } catch (error) {
      await node.stop();
      throw error;
    }
    return node;
  }

  /** Whether this node is a member of the group and knows a leader (the readiness check). */
  joined(): boolean {
    const node = this.node;
    if (node === undefined || this.fatal || this.stopped) return false;
    const status = node.basicStatus();
    const conf = node.status().conf;
    const member = conf.voters.includes(this.options.id) || conf.learners.includes(this.options.id);
    return member && status.leader !== '';
  }

  /** Why the node is not joined, for the readiness check's message. */
  describeState(): string {
    if (this.fatal) return `stopped: ${this.fatal.message}`;
    if (this.node === undefined) return 'discovering peers before bootstrap';
    const s = this.node.basicStatus();
    return `${s.role} term=${s.term} leader=${s.leader || 'none'} commit=${s.commit}`;
  }

  /** The state for `GET /v1/raft`. */
  status(): RaftStatusView {
    const node = this.node;
    const addresses = new Map(this.peers.map((p) => [p.id, p.address]));
    if (node === undefined) {
      return {
        id: this.options.id,
        group: this.options.group,
        role: 'joining',
        term: 0,
        leader: null,
        commitIndex: 0,
        appliedIndex: 0,
        members: [],
      };
    }
    const s = node.status();
    const members: RaftMemberView[] = [
      ...s.conf.voters.map((id) => ({ id, suffrage: 'voter' as const })),
      ...s.conf.learners.map((id) => ({ id, suffrage: 'learner' as const })),
    ].map((m) => ({
      ...m,
      address: addresses.get(m.id),
      ...(s.progress[m.id] !== undefined ? { progress: s.progress[m.id] } : {}),
    }));
    return {
      id: s.id,
      group: this.options.group,
      role: s.role,
      term: s.term,
      leader: s.leader === '' ? null : s.leader,
      commitIndex: s.commit,
      appliedIndex: s.applied,
      members,
    };
  }

  /** The address of a member from the peer list. */
  addressOf(id: NodeId): string | undefined {
    return this.peers.find((p) => p.id === id)?.address;
  }

  /**
   * Serves a lease request: on the leader, a command is proposed (batched with the others of the
   * same loop turn) and answered once applied; on a follower it is forwarded to the leader over
   * the Raft transport. Never rejects: failures are `{kind: 'error'}` replies (retryable).
   */
  submit(request: LeaseRequest): Promise<LeaseReply> {
    const unavailable = this.unavailable();
    if (unavailable) return Promise.resolve(unavailable);
    const node = this.node as RawNode;
    const status = node.basicStatus();
    if (status.role === 'leader') return this.serveLocally(request);
    if (status.leader === '') {
      return Promise.resolve(
        errorReply('PALISADE_RAFT_NO_LEADER', 'no leader is known (election in progress)', ''),
      );
    }
    return this.forward(status.leader, request);
  }

  /** Follows the config's peer list: transport peers now, membership one change at a time. */
  updatePeers(peers: readonly PeerSpec[]): void {
    this.peers = peers;
    this.transport.updatePeers(peers);
    this.reconcileMembership();
  }

  /** Installs (or removes) a partition filter on the transport, for fault experiments. */
  setPartition(filter: TrafficFilter | undefined): void {
    this.transport.setFilter(filter);
  }

  /** Stops the loop and the transport, fails waiting requests, closes the store. Idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.ticker);
    clearInterval(this.membershipTimer);
    await this.initializing;
    clearInterval(this.ticker);
    clearInterval(this.membershipTimer);
    await this.turnRunning?.catch(() => undefined);
    await this.snapshotting;
    const stopped = errorReply('PALISADE_RAFT_STOPPED', 'the Raft node is stopping', '');
    this.settleAll(stopped);
    for (const waiter of this.forwarded.values()) waiter.settle(stopped);
    this.forwarded.clear();
    if (this.deferredHardState && !this.fatal) {
      await this.store.save({ hardState: this.deferredHardState }).catch(() => undefined);
    }
    await this.transport.close();
    await this.store.close();
  }

  // ---------------------------------------------------------------------------------------------
  // Start-up

  /** Whether the data directory holds any Raft state (else: discovery, then bootstrap or join). */
  private hasState(): boolean {
    const state = this.store.state();
    return state.entries.length > 0 || state.snapshot !== undefined || state.hardState.term > 0;
  }

  private async initialize(): Promise<void> {
    this.inGroup = this.hasState();
    if (!this.inGroup && (await this.discover()) === 'bootstrap') {
      const conf = desiredConf(this.peers);
      const { entries, hardState } = bootstrapLog(conf);
      await this.store.save({ entries: entries.map(encodeStoredEntry), hardState });
      this.options.logger?.info(
        { voters: conf.voters, learners: conf.learners },
        'bootstrapped a new Raft group',
      );
    }
    if (this.stopped) return;
    const snapshot = this.store.snapshot();
    if (snapshot) {
      const decoded = decodeStoredSnapshot(snapshot);
      this.restoreMachines(decoded.data);
      this.lastSnapshotIndex = snapshot.index;
      this.applied = snapshot.index;
    }
    this.node = new RawNode({
      id: this.options.id,
      storage: this.coreStorage,
      random: this.options.random ?? systemRandom,
      electionTick: this.electionTick,
      heartbeatTick: this.heartbeatTick,
      applied: snapshot?.index ?? 0,
      // Followers learn a commit from the next append or heartbeat: an append just to tell it
      // would double every follower's frames, wake-ups and answers per request at low rates.
      announceCommit: false,
    });
    this.options.metrics?.setRaftRole('follower');
    this.ticker = setInterval(() => {
      this.node?.tick();
      this.scheduleTurn();
    }, this.tickMs);
    this.membershipTimer = setInterval(() => this.reconcileMembership(), 10 * this.tickMs);
    this.scheduleTurn();
  }

  /**
   * Probes the peers until it is clear whether a group exists: 'join' as soon as one peer says it
   * belongs to a group (or a Raft message shows a running group), 'bootstrap' only once EVERY
   * other listed voter said it does not (a quorum is not enough: a voter that has not answered
   * yet may hold the running group — its answer can wait behind a reconnect backoff — while the
   * ones that answered "no" may be members that joined it and have not received its log yet;
   * bootstrapping then writes a second term-1 log whose entries the group's own contradict).
   * Waits as long as it takes (until stop). The voters are re-read every round: in a pod the
   * first peer list often has none yet (the operator picks voters among Ready pods), and
   * `updatePeers` brings them later.
   */
  private async discover(): Promise<'bootstrap' | 'join'> {
    for (;;) {
      if (this.stopped) return 'join';
      const decision = discoveryDecision(
        this.options.id,
        desiredConf(this.peers),
        this.probeReplies,
      );
      if (decision !== undefined) {
        this.inGroup = true;
        return decision;
      }
      for (const peer of this.peers) {
        if (peer.id !== this.options.id) this.transport.send(peer.id, { kind: 'probe' });
      }
      await new Promise((resolve) => setTimeout(resolve, 4 * this.tickMs));
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Inbound

  private receive(message: NodeMessage, from: NodeId): void {
    if (this.stopped) return;
    switch (message.kind) {
      case 'raft': {
        if (message.message.from !== from || message.message.to !== this.options.id) {
          this.options.metrics?.raftDroppedMessages.bind('spoofed-sender').inc();
          return;
        }
        if (this.node === undefined) {
          // A running group talks to us: join it rather than bootstrap another one.
          if (message.message.term > 1) this.probeReplies.set(from, true);
          return;
        }
        try {
          this.node.step(message.message);
        } catch (error) {
          this.options.metrics?.raftDroppedMessages.bind('step-failed').inc();
          this.options.logger?.warn({ err: error, from }, 'a Raft message could not be stepped');
        }
        if (message.message.type === 'AppendResponse' && this.turnRunning !== undefined) {
          this.applyCommittedDuringSave(this.node);
        }
        this.scheduleTurn();
        return;
      }
      case 'probe':
        // A member that joined a group and waits for its log is in that group too: answering
        // "not initialized" would let a newcomer count it towards bootstrapping another one.
        this.transport.send(from, { kind: 'probe-reply', initialized: this.inGroup });
        return;
      case 'probe-reply':
        this.probeReplies.set(from, message.initialized);
        return;
      case 'forward': {
        const { id } = message;
        const reply = (r: LeaseReply): void =>
          this.transport.send(from, { kind: 'forward-reply', id, reply: r });
        const node = this.node;
        if (node === undefined || node.basicStatus().role !== 'leader') {
          const leader = node?.basicStatus().leader ?? '';
          reply(
            errorReply('PALISADE_RAFT_NOT_LEADER', `${this.options.id} is not the leader`, leader),
          );
          return;
        }
        void this.serveLocally(message.request).then(reply);
        return;
      }
      case 'call': {
        const { id } = message;
        const node = this.node;
        const answer =
          node !== undefined && node.basicStatus().role === 'leader'
            ? this.serveCall(message.payload)
            : Promise.resolve<EntryReply>({
                ok: false,
                ...notLeaderError(this.options.id, node?.basicStatus().leader ?? ''),
              });
        void answer.then((reply) => this.transport.send(from, { kind: 'call-reply', id, reply }));
        return;
      }
      case 'call-reply':
        this.calls.get(message.id)?.settle(message.reply);
        return;
      case 'forward-reply': {
        const waiter = this.forwarded.get(message.id);
        if (waiter) {
          this.forwarded.delete(message.id);
          waiter.settle(message.reply);
        }
        return;
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Lease requests

  private unavailable(): LeaseReply | undefined {
    if (this.fatal) return errorReply('PALISADE_RAFT_STOPPED', this.fatal.message, '');
    if (this.stopped) return errorReply('PALISADE_RAFT_STOPPED', 'the Raft node is stopping', '');
    if (this.node === undefined) {
      return errorReply('PALISADE_RAFT_NO_LEADER', 'this node has not joined its group yet', '');
    }
    return undefined;
  }

  private serveLocally(request: LeaseRequest): Promise<LeaseReply> {
    if (this.node === undefined) return Promise.resolve(this.unavailable() as LeaseReply);
    if (this.queue.length + this.reads.length + this.pending.size >= MAX_WAITING_COMMANDS) {
      return Promise.resolve(
        errorReply(
          'PALISADE_RAFT_OVERLOADED',
          `${MAX_WAITING_COMMANDS} commands already wait for the log`,
          this.knownLeader,
        ),
      );
    }
    return new Promise<LeaseReply>((resolve) => {
      let done = false;
      const timer = setTimeout(() => {
        settle(
          errorReply(
            'PALISADE_RAFT_TIMEOUT',
            `no commit within ${this.requestTimeoutMs} ms: the command may or may not apply`,
            this.knownLeader,
          ),
        );
      }, this.requestTimeoutMs);
      const settle = (reply: LeaseReply): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        resolve(reply);
      };
      if (request.op === 'view') this.reads.push({ name: request.name, settle });
      else this.queue.push({ command: request, settle });
      this.scheduleTurn();
    });
  }

  /**
   * Answers the reads that waited for the entry at `entry`'s index: only a node that is still the
   * leader of the entry's term may, since it then led that term until the read's commit, so no
   * other leader granted anything newer meanwhile (reads through the log; decision 0011).
   */
  private answerReads(entry: Entry, node: RawNode): void {
    const waiting = this.pendingReads.get(entry.index);
    if (waiting === undefined) return;
    this.pendingReads.delete(entry.index);
    const status = node.basicStatus();
    if (waiting.term !== entry.term || status.role !== 'leader' || status.term !== entry.term) {
      const reply = notLeader(this.options.id, status.leader);
      for (const read of waiting.reads) read.settle(reply);
      return;
    }
    const now = this.clock.now();
    for (const read of waiting.reads) {
      const lease = this.table.view(read.name, status.term, now);
      read.settle(
        lease === undefined
          ? { kind: 'view' }
          : {
              kind: 'view',
              lease: {
                name: lease.name,
                holder: lease.holder,
                token: lease.token,
                validForMs: lease.expiresAt - now,
              },
            },
      );
    }
  }

  private forward(leader: NodeId, request: LeaseRequest): Promise<LeaseReply> {
    const id = this.nextForwardId++;
    return new Promise<LeaseReply>((resolve) => {
      const timer = setTimeout(() => {
        this.forwarded.delete(id);
        resolve(
          errorReply(
            'PALISADE_RAFT_TIMEOUT',
            `the leader ${leader} did not answer within ${this.requestTimeoutMs} ms`,
            leader,
          ),
        );
      }, this.requestTimeoutMs);
      this.forwarded.set(id, {
        leader,
        settle: (reply) => {
          clearTimeout(timer);
          resolve(reply);
        },
      });
      this.transport.send(leader, { kind: 'forward', id, request });
    });
  }

  // ---------------------------------------------------------------------------------------------
  // The second state machine (sagas): proposals, calls forwarded to the leader, snapshots

  /**
   * Leader only: appends `data` (an entry of `options.machine`) and resolves with what the machine
   * returned when it applied it here, or a retryable error (not leader, term changed, timeout).
   * Proposed at once, outside the lease queue: it still goes into the next Ready's fsync.
   */
  proposeEntry(data: Uint8Array): Promise<EntryReply> {
    const unavailable = this.unavailableEntry();
    if (unavailable) return Promise.resolve(unavailable);
    const node = this.node as RawNode;
    let position;
    try {
      [position] = node.propose(data);
    } catch (error) {
      if (!(error instanceof ProposalDroppedError)) throw error;
      return Promise.resolve({ ok: false, ...notLeaderError(this.options.id, error.leader) });
    }
    const { index, term } = position as { index: number; term: number };
    this.scheduleTurn();
    return this.awaitReply(this.entryWaiters, index, { term }, this.knownLeader);
  }

  /** Registers the leader-side handler of {@link callLeader} payloads (validated by it). */
  setCallHandler(handler: (payload: unknown) => Promise<unknown>): void {
    this.callHandler = handler;
  }

  /** Runs the call handler on the leader (here, or over the Raft transport) with `payload`. */
  callLeader(payload: unknown): Promise<EntryReply> {
    const unavailable = this.unavailableEntry();
    if (unavailable) return Promise.resolve(unavailable);
    const status = (this.node as RawNode).basicStatus();
    if (status.role === 'leader') return this.serveCall(payload);
    if (status.leader === '') {
      return Promise.resolve({
        ok: false,
        code: 'PALISADE_RAFT_NO_LEADER',
        message: 'no leader is known (election in progress)',
        leader: '',
      });
    }
    const id = this.nextForwardId++;
    const reply = this.awaitReply(this.calls, id, { leader: status.leader }, status.leader);
    this.transport.send(status.leader, { kind: 'call', id, payload });
    return reply;
  }

  private unavailableEntry(): EntryReply | undefined {
    const unavailable = this.unavailable();
    if (unavailable?.kind !== 'error') return undefined;
    return {
      ok: false,
      code: unavailable.code,
      message: unavailable.message,
      leader: unavailable.leader,
    };
  }

  private async serveCall(payload: unknown): Promise<EntryReply> {
    if (this.callHandler === undefined) {
      return { ok: false, ...notLeaderError(this.options.id, '') };
    }
    return { ok: true, result: await this.callHandler(payload) };
  }

  /** Registers a waiter under `key` in `waiters`, answered by its owner or timed out. */
  private awaitReply<K, T extends object>(
    waiters: Map<K, T & { settle(r: EntryReply): void }>,
    key: K,
    fields: T,
    leader: NodeId,
  ): Promise<EntryReply> {
    return new Promise<EntryReply>((resolve) => {
      const timer = setTimeout(() => {
        waiters.delete(key);
        resolve({
          ok: false,
          code: 'PALISADE_RAFT_TIMEOUT',
          message: `no answer within ${this.requestTimeoutMs} ms: the outcome is unknown`,
          leader,
        });
      }, this.requestTimeoutMs);
      waiters.set(key, {
        ...fields,
        settle: (reply: EntryReply) => {
          clearTimeout(timer);
          waiters.delete(key);
          resolve(reply);
        },
      });
    });
  }

  private applyMachineEntry(entry: Entry): void {
    const applied = this.options.machine?.apply(entry, entry.data);
    const waiter = this.entryWaiters.get(entry.index);
    if (waiter === undefined) return;
    if (waiter.term !== entry.term || applied === undefined) {
      waiter.settle({ ok: false, ...notLeaderError(this.options.id, this.knownLeader) });
    } else waiter.settle({ ok: true, result: applied.result });
  }

  private snapshotMachines(): Uint8Array {
    const machine = this.options.machine;
    return machine
      ? composeSnapshot(this.table.snapshot(), machine.snapshot())
      : this.table.snapshot();
  }

  private restoreMachines(data: Uint8Array): void {
    const { leases, machine } = splitSnapshot(data);
    this.table = LeaseTable.restore(leases);
    this.options.machine?.restore(machine);
  }

  /** Settles every machine proposal and call waiting here (stop, fatal error). */
  private failEntryWaiters(reply: EntryReply): void {
    for (const waiter of [...this.entryWaiters.values(), ...this.calls.values()])
      waiter.settle(reply);
  }

  // ---------------------------------------------------------------------------------------------
  // The loop

  private scheduleTurn(): void {
    if (this.turnScheduled || this.stopped || this.fatal) return;
    this.turnScheduled = true;
    setImmediate(() => {
      this.turnScheduled = false;
      if (this.turnRunning) return; // the running turn loops until nothing is left
      this.turnRunning = this.turn()
        .catch((error: unknown) => this.fail(error))
        .finally(() => {
          this.turnRunning = undefined;
        });
    });
  }

  private async turn(): Promise<void> {
    const node = this.node;
    if (node === undefined) return;
    for (;;) {
      if (this.stopped) return;
      this.proposeQueued(node);
      if (!node.hasReady()) return;
      const ready = node.ready();
      // A leader's replication messages go out before its own fsync (Raft thesis §10.2.1, as
      // etcd does): they acknowledge nothing, and the leader counts itself towards a commit only
      // after advance(). Everything else (votes, append and heartbeat answers) waits for the fsync.
      // Those that only tell the commit index (heartbeats, appends without entries) go after the
      // answers of this turn's early applies: on loopback a socket write wakes the receiving
      // member, which on a busy host can take the CPU from this one before its HTTP answers are
      // written (0.4–0.8 ms of an acquire's latency at the median). A follower learns the commit
      // index one event-loop turn later, which delays nobody's answer.
      const late: Message[] = [];
      const commitOnly: Message[] = [];
      for (const message of ready.messages) {
        if (!LEADER_MESSAGES.has(message.type)) late.push(message);
        else if (tellsOnlyCommit(message)) commitOnly.push(message);
        else this.transport.send(message.to, { kind: 'raft', message });
      }
      // Committed entries this node already holds durably (a leader's, acknowledged while its
      // previous save ran) are applied and answered before this Ready's save: they are on a
      // quorum's disks, this one included, and waiting would add a second fsync — the one of
      // the entries proposed meanwhile — to every request's latency. The rest (a follower's
      // entries that commit in the same Ready that brings them, or that replace conflicting
      // ones on disk) waits for the save.
      const durable = ready.snapshot ? 0 : durableBefore(ready, this.store.lastIndex());
      const committed = ready.committedEntries;
      let early = 0;
      while (early < committed.length && (committed[early] as Entry).index <= durable) early++;
      let configApplied = this.applyCommitted(committed.slice(0, early), node);
      if (commitOnly.length > 0) this.sendAfterAnswers(commitOnly);
      this.savingFrom = ready.snapshot ? 0 : (ready.entries[0]?.index ?? Infinity);
      this.savingEntries = ready.snapshot ? [] : ready.entries;
      try {
        await this.persist(ready);
      } finally {
        this.savingFrom = Infinity;
        this.savingEntries = [];
      }
      this.observeState(ready, node);
      for (const message of late) this.transport.send(message.to, { kind: 'raft', message });
      if (ready.snapshot) {
        this.restoreMachines(ready.snapshot.data);
        this.applied = ready.snapshot.metadata.index;
        this.lastSnapshotIndex = Math.max(this.lastSnapshotIndex, this.applied);
      }
      configApplied = this.applyCommitted(committed.slice(early), node) || configApplied;
      node.advance();
      this.options.metrics?.raftAppliedIndex.bind().set(this.applied);
      if (configApplied) this.reconcileMembership();
      if (
        this.snapshotting === undefined &&
        this.applied - this.lastSnapshotIndex >= this.snapshotEvery &&
        this.applied <= node.basicStatus().applied // none applied during a save, ahead of the core
      ) {
        this.snapshotting = this.takeSnapshot(node)
          .catch((error: unknown) => this.fail(error))
          .finally(() => {
            this.snapshotting = undefined;
          });
      }
    }
  }

  /**
   * Sends `messages` once the answers settled so far are written: they are written in microtasks
   * (the waiter's promise, then the HTTP handler's), and an immediate runs after all of them.
   */
  private sendAfterAnswers(messages: readonly Message[]): void {
    setImmediate(() => {
      if (this.stopped || this.fatal) return;
      for (const message of messages) this.transport.send(message.to, { kind: 'raft', message });
    });
  }

  /**
   * Leader, while its turn awaits its own save (made in the background, see `persist`): applies
   * and answers the entries an acknowledgement just committed — the early apply of step 2,
   * without waiting for the turn. At 1,000 ops/s the acknowledgement of request k usually
   * arrives while the leader writes request k + 1's entry; before, k's answer waited for that
   * write too. That includes entries of the save in flight once the followers alone committed
   * them (the core counts the leader towards a commit only after its own save): they are on a
   * majority of disks without this one's (Raft thesis §10.2.1), and a crash or a failed write
   * here loses nothing the group committed (this node restarts from its disk and learns them
   * from the next leader). The simulation does the same (`applyDuringSave`). Stops at a config
   * entry (the turn applies those: membership). The turn skips what was applied here when the
   * next Ready brings it.
   */
  private applyCommittedDuringSave(node: RawNode): void {
    const status = node.basicStatus();
    if (status.role !== 'leader' || this.fatal || this.stopped) return;
    if (status.commit <= this.applied) return;
    const entries: Entry[] = [];
    // Durable here, and not replaced by the save in flight (as `durableBefore`) …
    const durable = Math.min(status.commit, this.store.lastIndex(), this.savingFrom - 1);
    if (durable > this.applied) {
      for (const stored of this.store.entries(this.applied + 1, durable + 1)) {
        entries.push(decodeStoredEntry(stored));
      }
    }
    // … then those of the save in flight (the core's log from `savingFrom` on), in order.
    let next = Math.max(durable, this.applied) + 1;
    for (const entry of this.savingEntries) {
      if (entry.index > status.commit) break;
      if (entry.index !== next) continue;
      entries.push(entry);
      next++;
    }
    const config = entries.findIndex((entry) => entry.type === 'config');
    this.applyCommitted(config < 0 ? entries : entries.slice(0, config), node);
  }

  /**
   * Applies committed entries in order (those not applied yet: see `applyCommittedDuringSave`);
   * whether one of them was a config entry.
   */
  private applyCommitted(entries: readonly Entry[], node: RawNode): boolean {
    let configApplied = false;
    for (const entry of entries) {
      if (entry.index <= this.applied) continue;
      if (entry.type === 'config') configApplied = true;
      else this.applyEntry(entry);
      this.applied = entry.index;
      this.answerReads(entry, node);
    }
    return configApplied;
  }

  /**
   * All commands queued since the last turn go in one `propose`: one batch, one fsync. Reads
   * queued meanwhile share one empty entry after them, answered when it applies.
   */
  private proposeQueued(node: RawNode): void {
    if (this.queue.length === 0 && this.reads.length === 0) return;
    const batch = this.queue.splice(0);
    const reads = this.reads.splice(0);
    const refuse = (leader: NodeId): void => {
      const reply = notLeader(this.options.id, leader);
      for (const waiter of batch) waiter.settle(reply);
      for (const waiter of reads) waiter.settle(reply);
    };
    const status = node.basicStatus();
    if (status.role !== 'leader') return refuse(status.leader);
    // The stamp: the leader's monotonic clock immediately before `propose` (decision 0004).
    const stamp = this.clock.now();
    const stamped = batch.map((q): StampedLeaseCommand => ({ command: q.command, stamp }));
    const payloads = stamped.map((s) => encodeLeaseCommand(s.command, s.stamp));
    if (reads.length > 0) payloads.push(new Uint8Array(0));
    let positions;
    try {
      positions = node.propose(...payloads);
    } catch (error) {
      if (!(error instanceof ProposalDroppedError)) throw error;
      return refuse(error.leader);
    }
    batch.forEach((waiter, i) => {
      const position = positions[i] as { index: number; term: number };
      this.pending.set(position.index, {
        term: position.term,
        settle: waiter.settle,
        stamped: stamped[i] as StampedLeaseCommand,
      });
    });
    if (reads.length > 0) {
      const position = positions[batch.length] as { index: number; term: number };
      this.pendingReads.set(position.index, { term: position.term, reads });
    }
  }

  /**
   * Persists a Ready. A hard state that only moves the commit index is not fsynced on its own
   * (as etcd's `MustSync`): the commit index is not a promise to anyone and is relearned from
   * the leader after a restart; it is written with the next save that must be durable (entries,
   * term or vote). This keeps an fsync off the path from commit to apply.
   */
  private async persist(ready: Ready): Promise<void> {
    const hard = ready.hardState;
    const saved = this.store.hardState();
    if (
      hard !== undefined &&
      !ready.snapshot &&
      ready.entries.length === 0 &&
      hard.term === saved.term &&
      hard.vote === saved.vote
    ) {
      this.deferredHardState = hard;
      return;
    }
    const hardState = hard ?? this.deferredHardState;
    if (!ready.snapshot && ready.entries.length === 0 && hardState === undefined) return;
    // A snapshot from the leader replaces the log: a local one still being saved must land first
    // (the store takes snapshots in order only).
    if (ready.snapshot) await this.snapshotting;
    this.deferredHardState = undefined;
    const started = performance.now();
    // A leader whose durable entries still wait for their commit writes on a pool thread: its
    // loop then has work during the write — the acknowledgements of those entries, and the
    // answers they commit (`applyCommittedDuringSave`). Otherwise (a follower, or a leader with
    // nothing to answer meanwhile, e.g. one request at a time) the write is made inline, without
    // the thread hand-offs (≈ 100 µs of the leader's CPU per save on this host, 0009).
    const background =
      this.node?.basicStatus().role === 'leader' && this.store.lastIndex() > this.applied;
    try {
      await this.store.save(
        {
          snapshot: ready.snapshot && encodeStoredSnapshot(ready.snapshot),
          entries: ready.entries.map(encodeStoredEntry),
          hardState,
        },
        { background },
      );
    } catch (error) {
      throw new RaftNodeError(
        'PALISADE_RAFT_NODE_STORAGE_FAILED',
        'persisting a Ready failed: the node stops',
        { cause: error },
      );
    }
    if (ready.entries.length > 0) {
      this.options.metrics?.raftAppendDuration.bind().observe((performance.now() - started) / 1000);
    }
  }

  private observeState(ready: Ready, node: RawNode): void {
    const metrics = this.options.metrics;
    if (ready.softState) {
      metrics?.setRaftRole(ready.softState.role);
      if (ready.softState.leader !== this.knownLeader) {
        this.knownLeader = ready.softState.leader;
        metrics?.raftLeaderChanges.bind().inc();
        this.options.logger?.info(
          {
            leader: this.knownLeader || null,
            role: ready.softState.role,
            term: node.basicStatus().term,
          },
          'Raft leader changed',
        );
        // Waiters of a leader that lost its role will not be answered by this node.
        if (ready.softState.role !== 'leader') this.failPending(node);
        this.failForwarded(this.knownLeader);
      }
    }
    if (ready.hardState) {
      metrics?.raftTerm.bind().set(ready.hardState.term);
      metrics?.raftCommitIndex.bind().set(ready.hardState.commit);
    }
  }

  /**
   * A former leader cannot tell whether its uncommitted proposals will commit under the next
   * leader; they stay pending (answered if they do apply at their index and term) until their
   * deadline. Queued, not yet proposed commands are refused at once.
   */
  private failPending(node: RawNode): void {
    const reply = notLeader(this.options.id, node.basicStatus().leader);
    for (const waiter of this.queue.splice(0)) waiter.settle(reply);
    for (const waiter of this.reads.splice(0)) waiter.settle(reply);
  }

  /**
   * Requests forwarded to a former leader: it may be dead or cut off, so rather than wait for
   * the deadline they are answered "not leader, retry" at once (the outcome is unknown either
   * way; the client must treat it as not granted).
   */
  private failForwarded(leader: NodeId): void {
    for (const waiter of this.calls.values()) {
      if (waiter.leader === leader) continue;
      waiter.settle({ ok: false, ...notLeaderError(this.options.id, leader) });
    }
    for (const [id, waiter] of this.forwarded) {
      if (waiter.leader === leader) continue;
      this.forwarded.delete(id);
      waiter.settle(
        errorReply(
          'PALISADE_RAFT_NOT_LEADER',
          `the leader changed from ${waiter.leader} while the request was in flight; retry`,
          leader,
        ),
      );
    }
  }

  private applyEntry(entry: Entry): void {
    const waiter = this.pending.get(entry.index);
    if (waiter) this.pending.delete(entry.index);
    // The entry at the index and term of our own proposal is that proposal (log matching): its
    // command need not be decoded again (a twentieth of the leader's CPU per lease op at peak).
    const stamped =
      waiter !== undefined && waiter.term === entry.term
        ? waiter.stamped
        : entry.data.byteLength > 0
          ? decodeLeaseCommand(entry.data)
          : undefined;
    if (stamped === undefined) {
      waiter?.settle(notLeader(this.options.id, this.knownLeader));
      this.applyMachineEntry(entry);
      return;
    }
    const result = this.table.apply({ index: entry.index, term: entry.term }, stamped);
    // Counted on every replica (unlike grants below): a chaos run reads it from whichever
    // members are up, and every member sees the same changes.
    if (result.outcome === 'granted' && result.previousHolder !== undefined) {
      this.options.metrics?.countLeaseHolderChange(stamped.command.name);
    }
    // Counted where the request is answered (the leader), so that a group's grants are not
    // multiplied by its number of replicas.
    if (waiter === undefined) return;
    if (waiter.term !== entry.term) {
      waiter.settle(notLeader(this.options.id, this.knownLeader));
      return;
    }
    if (result.outcome === 'granted' && stamped.command.op === 'acquire') {
      this.options.metrics?.leaseGrants.bind().inc();
    }
    if (result.outcome === 'held' || result.outcome === 'refused') {
      this.options.metrics?.leaseConflicts.bind().inc();
    }
    waiter.settle(resultReply(result));
  }

  /**
   * Snapshots the machines at the applied index, saves and compacts, beside the loop: the turns
   * go on meanwhile (the store writes the snapshot file and the checkpoint segment outside its
   * queue of saves; the state is serialized here, synchronously, first). Only the leader's own
   * turns matter to a request's latency, and before this the turn waited ≈ 45–60 ms (several
   * fsyncs) every `snapshotEvery` entries on every member at once. The store raises the durable
   * commit index to the snapshot's: a restart never finds a snapshot beyond its commit index.
   */
  private async takeSnapshot(node: RawNode): Promise<void> {
    const metadata = node.snapshotMetadata(this.applied);
    this.lastSnapshotIndex = metadata.index;
    await this.store.saveSnapshot(
      encodeStoredSnapshot({ metadata, data: this.snapshotMachines() }),
    );
    const compactTo = metadata.index - this.snapshotKeep;
    if (compactTo >= this.store.firstIndex()) await this.store.compact(compactTo);
    this.options.logger?.debug({ index: metadata.index }, 'took a Raft snapshot');
  }

  private reconcileMembership(): void {
    const node = this.node;
    if (node === undefined || this.stopped || this.fatal) return;
    const status = node.status();
    if (status.role !== 'leader') return;
    const change = nextConfChange(status.conf, desiredConf(this.peers), (id) => {
      const match = /match=(\d+)/.exec(status.progress[id] ?? '');
      return match !== null && Number(match[1]) + 100 >= status.commit;
    });
    if (change === undefined) return;
    try {
      node.proposeConfChange(change);
      this.options.logger?.info({ change }, 'proposed a Raft membership change');
      this.scheduleTurn();
    } catch (error) {
      if (!(error instanceof ProposalDroppedError)) throw error;
      // conf-change-pending: the previous change (or the first commit of the term) is not
      // committed yet; the timer asks again.
    }
  }

  /** Answers every local waiter (queued, proposed, reads) with `reply`. */
  private settleAll(reply: LeaseReply): void {
    for (const waiter of this.queue.splice(0)) waiter.settle(reply);
    for (const waiter of this.reads.splice(0)) waiter.settle(reply);
    for (const waiter of this.pending.values()) waiter.settle(reply);
    for (const waiting of this.pendingReads.values()) {
      for (const read of waiting.reads) read.settle(reply);
    }
    this.pending.clear();
    this.pendingReads.clear();
    if (reply.kind === 'error') {
      const { code, message, leader } = reply;
      this.failEntryWaiters({ ok: false, code, message, leader });
    }
  }

  private fail(error: unknown): void {
    const fatal =
      error instanceof RaftNodeError
        ? error
        : new RaftNodeError('PALISADE_RAFT_NODE_STORAGE_FAILED', 'the Raft loop failed', {
            cause: error,
          });
    if (this.fatal) return;
    this.fatal = fatal;
    this.options.logger?.error({ err: error }, 'Raft node stopped on a fatal error');
    clearInterval(this.ticker);
    clearInterval(this.membershipTimer);
    this.settleAll(errorReply('PALISADE_RAFT_STOPPED', fatal.message, ''));
    this.options.onFatal?.(fatal);
  }
}

/**
 * The last index whose durable entry is the one the core sees: the store's last index, unless the
 * Ready's entries overwrite some of it (a follower's conflicting tail).
 */
function durableBefore(ready: Ready, lastIndex: number): number {
  const first = ready.entries[0];
  return first === undefined ? lastIndex : Math.min(lastIndex, first.index - 1);
}

function errorReply(code: RaftNodeUnavailableCode, message: string, leader: NodeId): LeaseReply {
  return { kind: 'error', code, message, leader };
}

function notLeader(self: NodeId, leader: NodeId): LeaseReply {
  return { kind: 'error', ...notLeaderError(self, leader) };
}

function notLeaderError(self: NodeId, leader: NodeId) {
  return {
    code: 'PALISADE_RAFT_NOT_LEADER' as const,
    message: `${self} lost the leadership before the command committed; retry`,
    leader: leader === self ? '' : leader,
  };
}

function resultReply(result: LeaseResult): LeaseReply {
  switch (result.outcome) {
    case 'granted':
      return {
        kind: 'result',
        outcome: 'granted',
        token: result.token,
        validForMs: result.validForMs,
      };
    case 'held':
      return {
        kind: 'result',
        outcome: 'held',
        holder: result.holder,
        validForMs: result.validForMs,
      };
    case 'released':
      return { kind: 'result', outcome: 'released' };
    case 'refused':
      return { kind: 'result', outcome: 'refused', code: result.code, message: result.message };
  }
}
