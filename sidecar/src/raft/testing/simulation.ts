/**
 * Deterministic simulation of a Raft group serving leases, with faults, checked after every step.
 *
 * Everything random comes from one seeded generator, so a seed replays exactly. Simulated real
 * time advances in steps of {@link STEP_MS}; each node has its own monotonic clock (offset and a
 * rate within ±ρ of real time) that drives its ticks and stamps its lease commands. Messages get a
 * random delay (so they reorder), may be lost or duplicated, and are dropped by partitions
 * (symmetric or one-way) at delivery. Nodes crash and restart, sometimes in the middle of a Ready
 * (before persisting it, or after persisting but before sending): only what was persisted
 * survives. Clients acquire, renew and release leases through whichever node they believe leads.
 *
 * Clients also read leases, as the driver serves reads: through the log (the leader appends an
 * empty entry and answers when it applies, if it still leads the entry's term).
 *
 * Checked invariants: election safety, log matching, leader completeness, state machine safety
 * (same entry, same lease result and same table at every index on every node), fencing tokens
 * strictly increasing per name, lease mutual exclusion in real time as the clients see it
 * (a client holds a lease from the grant's arrival until safeHoldMs after it sent the request,
 * on its own drifting clock), and linearizable reads (a read reflects every write acknowledged
 * to any client before the read was sent). At the end, with faults healed, a leader must emerge
 * and commit.
 */
import { SeededRandom } from '../../core/random.js';
import {
  DEFAULT_MAX_DRIFT,
  LeaseTable,
  decodeLeaseCommand,
  encodeLeaseCommand,
  safeHoldMs,
  type LeaseCommand,
  type LeaseResult,
} from '../../leases/index.js';
import { ProposalDroppedError } from '../errors.js';
import { RawNode, type Ready } from '../raw-node.js';
import { MemoryStorage } from '../storage.js';
import type { ConfChange, Entry, Message, MessageType, NodeId } from '../types.js';

/** Simulated milliseconds per step. */
export const STEP_MS = 5;
/** Local milliseconds per Raft tick. */
const TICK_MS = 10;
const ELECTION_TICK = 10;
const HEARTBEAT_TICK = 2;
const LEASE_NAMES = ['alpha', 'beta'];
const TTLS = [60, 120, 250, 500];

/** How to run one seed. */
export interface SimulationOptions {
  readonly seed: number;
  /** Steps with faults. */
  readonly steps: number;
  /** Steps after healing everything, before the liveness check. */
  readonly quiesceSteps?: number;
  /** Record every event (for replaying one seed), not only the last ones. */
  readonly trace?: boolean;
  /**
   * Deliberate bug, to prove the checker catches it: clients hold leases for this multiple of
   * the TTL from sending, instead of safeHoldMs.
   */
  readonly clientHoldFactor?: number;
  /**
   * Deliberate bug, to prove the checker catches it: a leader answers reads from its table at
   * once, without the log.
   */
  readonly staleReads?: boolean;
}

/** What a seed did, and the first invariant it broke, if any. */
export interface SimulationResult {
  readonly seed: number;
  readonly nodes: number;
  readonly steps: number;
  readonly violation?: string;
  /** The last events before the violation (all of them with `trace`). */
  readonly events: string[];
  readonly stats: SimulationStats;
}

/** Counters that show the simulation exercised what it claims to. */
export interface SimulationStats {
  elections: number;
  crashes: number;
  crashesLosingUnpersisted: number;
  partitions: number;
  pauses: number;
  confChanges: number;
  transfers: number;
  snapshotsSent: number;
  messagesDelivered: number;
  messagesDropped: number;
  grants: number;
  conflicts: number;
  reads: number;
  maxTerm: number;
  committed: number;
  /** Committed entries applied before their Ready's save (already durable on the node). */
  appliedBeforeSave: number;
  /**
   * Committed entries a leader applied while its save ran, when acknowledgements that arrived
   * meanwhile committed them.
   */
  appliedDuringSave: number;
  /** Of those, entries of the running save itself (committed by the followers alone). */
  appliedBeforeOwnSave: number;
}

class Violation extends Error {}

/** A read of one lease, served through the log. */
interface ReadCommand {
  readonly op: 'read';
  readonly name: string;
}

interface ClientRequest {
  readonly kind: 'request';
  readonly client: number;
  readonly id: number;
  readonly command: LeaseCommand | ReadCommand;
}

interface ClientReply {
  readonly kind: 'reply';
  readonly client: number;
  readonly id: number;
  readonly result?: LeaseResult;
  /** A write's log index, or for a read the index its answer reflects (every entry up to it). */
  readonly index?: number;
  /** Set when a read was answered. */
  readonly read?: true;
  readonly leaderHint?: NodeId;
}

type Packet =
  | { readonly kind: 'raft'; readonly message: Message }
  | (ClientRequest & { readonly to: NodeId })
  | (ClientReply & { readonly from: NodeId });

interface InFlight {
  readonly at: number;
  readonly order: number;
  readonly packet: Packet;
}

interface Clock {
  offset: number;
  rate: number;
}

function local(clock: Clock, real: number): number {
  return clock.offset + clock.rate * real;
}

function realAt(clock: Clock, localTime: number): number {
  return (localTime - clock.offset) / clock.rate;
}

/** Messages only a leader sends, which leave before its own save (as the driver, 0011). */
const LEADER_MESSAGES: ReadonlySet<MessageType> = new Set(['Append', 'Heartbeat', 'Snapshot']);

interface SimNode {
  readonly id: NodeId;
  readonly storage: MemoryStorage;
  node: RawNode;
  table: LeaseTable;
  clock: Clock;
  alive: boolean;
  restartAt: number;
  /** A paused process (GC, VM steal): it neither ticks nor reads messages until then. */
  pausedUntil: number;
  nextTick: number;
  role: string;
  term: number;
  /** Proposals awaiting their result, by log index. */
  pending: Map<number, { term: number; client: number; id: number; read?: true }>;
  compactEvery: number;
  /** The state machine's applied index (it may run ahead of the core's between Readies). */
  appliedIndex: number;
  /** A leader's save still running (it spans steps), and what its Ready applied early. */
  saving?: { readonly ready: Ready; readonly early: number; readonly until: number };
}

interface Hold {
  token: number;
  until: number;
}

interface SimClient {
  readonly index: number;
  readonly clock: Clock;
  guess: NodeId;
  nextActionAt: number;
  outstanding?: {
    id: number;
    command: LeaseCommand | ReadCommand;
    sentLocal: number;
    giveUpAt: number;
    /** Reads: the highest write index acknowledged to any client when the read was sent. */
    mustReflect: number;
  };
  holds: Map<string, Hold>;
}

const decoder = new TextDecoder();

function entryKey(entry: Entry): string {
  return `${entry.type}:${decoder.decode(entry.data)}`;
}

/** Runs one seed. Never throws for invariant violations: they are in `violation`. */
export function runSimulation(options: SimulationOptions): SimulationResult {
  return new Simulation(options).run();
}

class Simulation {
  private readonly random: SeededRandom;
  private readonly nodes: SimNode[] = [];
  private readonly ids: NodeId[];
  private readonly clients: SimClient[] = [];
  private inflight: InFlight[] = [];
  private order = 0;
  private now = 0;
  private step = 0;
  private readonly cut = new Set<string>();
  private readonly events: string[] = [];
  private readonly stats: SimulationStats = {
    elections: 0,
    crashes: 0,
    crashesLosingUnpersisted: 0,
    partitions: 0,
    pauses: 0,
    confChanges: 0,
    transfers: 0,
    snapshotsSent: 0,
    messagesDelivered: 0,
    messagesDropped: 0,
    grants: 0,
    conflicts: 0,
    reads: 0,
    maxTerm: 0,
    committed: 0,
    appliedBeforeSave: 0,
    appliedDuringSave: 0,
    appliedBeforeOwnSave: 0,
  };
  private nextRequestId = 1;

  // Fault rates, drawn per seed.
  private loss: number;
  private duplication: number;
  private maxDelay: number;
  private longDelay: number;
  private crashRate: number;
  private partitionRate: number;
  private pauseRate: number;
  /** Membership changes per step (0 for half of the seeds). */
  private confChangeRate: number;
  private faultsOn = true;
  private readonly preVote: boolean;
  /** Half of the seeds tell followers each commit at once (etcd), half as the driver does. */
  private readonly announceCommit: boolean;

  // Checker state.
  private readonly leaderOfTerm = new Map<number, NodeId>();
  /** `index:term` → entry key and the term of the entry before it. */
  private readonly logEntries = new Map<string, { key: string; prevTerm: number | undefined }>();
  /** Per index: the entry applied there and the earliest term of a leader that committed it. */
  private readonly committed: { term: number; key: string; commitTerm: number }[] = [];
  private readonly results = new Map<number, string>();
  private readonly tables = new Map<number, string>();
  private readonly lastToken = new Map<string, number>();
  /** The highest log index of a write acknowledged to a client so far. */
  private acknowledged = 0;

  constructor(private readonly options: SimulationOptions) {
    this.random = new SeededRandom(options.seed);
    const r = this.random;
    const count = 3 + r.int(3);
    this.ids = Array.from({ length: count }, (_, i) => String(i + 1));
    this.loss = r.next() * 0.15;
    this.duplication = r.next() * 0.05;
    this.maxDelay = 1 + r.int(30);
    this.longDelay = r.next() * 0.05;
    this.crashRate = r.next() * 0.015;
    this.partitionRate = r.next() * 0.015;
    this.pauseRate = r.next() * 0.004;
    this.confChangeRate = r.next() < 0.5 ? 0 : r.next() * 0.02;
    // Pre-vote is on by default; half of the seeds without membership changes run without it.
    // (With membership changes, a removed node that missed its removal keeps starting elections
    // with ever higher terms and, without pre-vote, can hold off a new leader indefinitely:
    // thesis §4.2.3. Seed 2122 showed it. Keep pre-vote on in production.)
    this.preVote = this.confChangeRate > 0 || r.next() < 0.5;
    this.announceCommit = r.next() < 0.5;
    for (const id of this.ids) {
      const storage = new MemoryStorage({ voters: this.ids, learners: [] });
      const node: SimNode = {
        id,
        storage,
        node: this.makeRawNode(id, storage),
        table: new LeaseTable(),
        clock: this.makeClock(),
        alive: true,
        restartAt: 0,
        pausedUntil: 0,
        nextTick: 0,
        role: 'follower',
        term: 1,
        pending: new Map(),
        compactEvery: 5 + r.int(40),
        appliedIndex: 0,
      };
      node.nextTick = local(node.clock, 0) + r.next() * TICK_MS;
      this.nodes.push(node);
    }
    for (let i = 0; i < 3; i++) {
      this.clients.push({
        index: i,
        clock: this.makeClock(),
        guess: this.randomId(),
        nextActionAt: r.next() * 200,
        holds: new Map(),
      });
    }
  }

  private makeClock(): Clock {
    const r = this.random;
    return { offset: r.int(1_000_000), rate: 1 + (2 * r.next() - 1) * DEFAULT_MAX_DRIFT };
  }

  private makeRawNode(id: NodeId, storage: MemoryStorage): RawNode {
    return new RawNode({
      id,
      storage,
      // The state machine is restored from the latest snapshot, which may be past the
      // compaction point: tell the core not to hand those entries out again.
      applied: storage.snapshot().metadata.index,
      random: new SeededRandom(this.random.int(2 ** 31)),
      electionTick: ELECTION_TICK,
      heartbeatTick: HEARTBEAT_TICK,
      preVote: this.preVote,
      announceCommit: this.announceCommit,
      maxInflight: 1 + this.random.int(8),
      // Often one entry per append, so that old and new entries travel separately (Figure 8).
      maxBytesPerAppend: this.random.next() < 0.5 ? 1 : 64 + this.random.int(2048),
    });
  }

  private randomId(): NodeId {
    return this.ids[this.random.int(this.ids.length)] ?? '1';
  }

  private log(event: string): void {
    this.events.push(`[${this.step} t=${this.now.toFixed(0)}] ${event}`);
    if (!this.options.trace && this.events.length > 60) this.events.shift();
  }

  private fail(what: string): never {
    throw new Violation(`${what} (step ${this.step}, t=${this.now.toFixed(1)}ms)`);
  }

  run(): SimulationResult {
    const quiesce = this.options.quiesceSteps ?? 300;
    let violation: string | undefined;
    try {
      for (; this.step < this.options.steps; this.step++) this.advance();
      this.heal();
      const end = this.step + quiesce;
      for (; this.step < end; this.step++) this.advance();
      this.checkLiveness();
    } catch (error) {
      if (!(error instanceof Violation)) {
        violation = `exception: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`;
      } else {
        violation = error.message;
      }
    }
    return {
      seed: this.options.seed,
      nodes: this.ids.length,
      steps: this.step,
      ...(violation !== undefined && { violation }),
      events: this.events,
      stats: this.stats,
    };
  }

  // -------------------------------------------------------------------------------------------
  // One step of simulated time

  private advance(): void {
    this.now += STEP_MS;
    if (this.faultsOn) this.injectFaults();
    this.deliverDue();
    for (const node of this.nodes) {
      if (!node.alive) {
        if (this.now >= node.restartAt && node.restartAt > 0) this.restart(node);
        continue;
      }
      if (node.pausedUntil > this.now) continue;
      while (local(node.clock, this.now) >= node.nextTick) {
        node.node.tick();
        node.nextTick += TICK_MS;
      }
      this.processReady(node);
    }
    for (const client of this.clients) this.clientAct(client);
    for (const node of this.nodes) {
      if (node.alive && node.pausedUntil <= this.now) this.maybeCompact(node);
    }
  }

  private injectFaults(): void {
    const r = this.random;
    if (r.next() < this.crashRate) {
      // Half of the crashes hit the leader: the interesting case for leases.
      const leader = this.nodes.find((n) => n.alive && n.role === 'leader');
      const node = leader && r.next() < 0.5 ? leader : this.nodes[r.int(this.nodes.length)];
      if (node?.alive) this.crash(node, 'between steps');
    }
    if (r.next() < this.pauseRate) {
      const leader = this.nodes.find((n) => n.alive && n.role === 'leader');
      const node = leader && r.next() < 0.5 ? leader : this.nodes[r.int(this.nodes.length)];
      if (node?.alive && node.pausedUntil <= this.now) {
        node.pausedUntil = this.now + 20 + r.next() * 500;
        this.stats.pauses++;
        this.log(`pause ${node.id} until ${node.pausedUntil.toFixed(0)}`);
      }
    }
    if (r.next() < this.confChangeRate) this.changeMembership();
    if (r.next() < this.pauseRate) this.transferLeadership();
    if (r.next() < this.partitionRate) {
      this.stats.partitions++;
      const kind = r.int(3);
      if (kind === 0) {
        const side = this.ids.filter(() => r.next() < 0.5);
        for (const a of side) {
          for (const b of this.ids) {
            if (side.includes(b)) continue;
            this.cut.add(`${a}->${b}`);
            this.cut.add(`${b}->${a}`);
          }
        }
        this.log(
          `partition ${side.join(' ')} | ${this.ids.filter((i) => !side.includes(i)).join(' ')}`,
        );
      } else if (kind === 1) {
        const a = this.randomId();
        const b = this.randomId();
        if (a !== b) {
          this.cut.add(`${a}->${b}`);
          this.log(`cut ${a}->${b}`);
        }
      } else {
        const a = this.randomId();
        for (const b of this.ids) {
          if (b !== a) this.cut.add(r.next() < 0.5 ? `${a}->${b}` : `${b}->${a}`);
        }
        this.log(`half-isolate ${a}`);
      }
    }
    if (this.cut.size > 0 && r.next() < 0.02) {
      this.cut.clear();
      this.log('heal');
    }
  }

  /** An operator changes the membership through the leader, one change at a time. */
  private changeMembership(): void {
    const r = this.random;
    const leader = this.nodes.find(
      (n) => n.alive && n.role === 'leader' && n.pausedUntil <= this.now,
    );
    if (!leader) return;
    const conf = leader.node.status().conf;
    const outsiders = this.ids.filter(
      (id) => !conf.voters.includes(id) && !conf.learners.includes(id),
    );
    let change: ConfChange | undefined;
    const dice = r.next();
    const pick = (ids: readonly NodeId[]) => ids[r.int(ids.length)];
    const learner = pick(conf.learners);
    const voter = pick(conf.voters);
    const outsider = pick(outsiders);
    if (dice < 0.3 && learner !== undefined) change = { type: 'promoteLearner', nodeId: learner };
    else if (dice < 0.6 && voter !== undefined && conf.voters.length > 2) {
      change = { type: 'removeNode', nodeId: voter };
    } else if (outsider !== undefined) {
      change = { type: r.next() < 0.7 ? 'addLearner' : 'addVoter', nodeId: outsider };
    } else if (learner !== undefined) change = { type: 'removeNode', nodeId: learner };
    if (!change) return;
    try {
      const position = leader.node.proposeConfChange(change);
      this.stats.confChanges++;
      this.log(`${leader.id} proposes ${change.type} ${change.nodeId} at ${position.index}`);
    } catch (error) {
      if (!(error instanceof ProposalDroppedError)) throw error;
    }
  }

  /** An operator moves leadership to another voter (e.g. before draining the leader's pod). */
  private transferLeadership(): void {
    const leader = this.nodes.find(
      (n) => n.alive && n.role === 'leader' && n.pausedUntil <= this.now,
    );
    if (!leader) return;
    const voters = leader.node.status().conf.voters.filter((id) => id !== leader.id);
    const target = voters[this.random.int(voters.length)];
    if (target === undefined) return;
    try {
      leader.node.transferLeadership(target);
    } catch (error) {
      // Deposed while its save ran (the role seen here is the one of its last saved Ready).
      if (!(error instanceof ProposalDroppedError)) throw error;
      return;
    }
    this.stats.transfers++;
    this.log(`${leader.id} transfers leadership to ${target}`);
  }

  private heal(): void {
    this.faultsOn = false;
    this.cut.clear();
    this.loss = 0;
    this.duplication = 0;
    this.longDelay = 0;
    for (const node of this.nodes) {
      if (!node.alive) this.restart(node);
      node.pausedUntil = 0;
    }
    this.log('heal all, restart all, no more faults');
  }

  // -------------------------------------------------------------------------------------------
  // Network

  private send(packet: Packet, from: string, to: string): void {
    const r = this.random;
    if (r.next() < this.loss) {
      this.stats.messagesDropped++;
      return;
    }
    const copies = r.next() < this.duplication ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      // Mostly short delays, and a long tail: a message may surface up to a second later.
      const delay = r.next() < this.longDelay ? r.next() * 1000 : r.next() * this.maxDelay;
      this.inflight.push({ at: this.now + delay, order: this.order++, packet });
    }
    void from;
    void to;
  }

  private deliverDue(): void {
    const due = this.inflight.filter((f) => f.at <= this.now);
    if (due.length === 0) return;
    this.inflight = this.inflight.filter((f) => f.at > this.now);
    due.sort((a, b) => a.at - b.at || a.order - b.order);
    for (const flight of due) {
      const packet = flight.packet;
      const to =
        packet.kind === 'raft' ? packet.message.to : packet.kind === 'request' ? packet.to : '';
      const paused = to === '' ? 0 : this.node(to).pausedUntil;
      if (paused > this.now) {
        // Sits in the socket buffer until the process runs again.
        this.inflight.push({ ...flight, at: paused });
        continue;
      }
      switch (packet.kind) {
        case 'raft': {
          const m = packet.message;
          const target = this.node(m.to);
          if (!target.alive || this.cut.has(`${m.from}->${m.to}`)) {
            this.stats.messagesDropped++;
            continue;
          }
          this.stats.messagesDelivered++;
          target.node.step(m);
          if (target.saving && m.type === 'AppendResponse') this.applyDuringSave(target);
          break;
        }
        case 'request': {
          const target = this.node(packet.to);
          if (target.alive) this.handleRequest(target, packet);
          break;
        }
        case 'reply':
          this.handleReply(packet);
          break;
      }
    }
  }

  private node(id: NodeId): SimNode {
    const node = this.nodes[Number(id) - 1];
    if (!node) throw new Error(`no node ${id}`);
    return node;
  }

  // -------------------------------------------------------------------------------------------
  // Nodes

  private crash(node: SimNode, how: string): void {
    if (node.saving) {
      this.stats.crashesLosingUnpersisted++;
      node.saving = undefined; // nothing of it reached the disk
    }
    node.alive = false;
    node.pending.clear();
    node.restartAt = this.now + 20 + this.random.next() * 400;
    this.stats.crashes++;
    this.log(`crash ${node.id} (${how})`);
  }

  private restart(node: SimNode): void {
    node.alive = true;
    node.restartAt = 0;
    node.node = this.makeRawNode(node.id, node.storage);
    node.table = LeaseTable.restore(node.storage.snapshot().data);
    node.appliedIndex = node.storage.snapshot().metadata.index;
    // A new process: a monotonic clock with another origin (and rate).
    node.clock = this.makeClock();
    node.nextTick = local(node.clock, this.now) + this.random.next() * TICK_MS;
    node.role = 'follower';
    node.term = node.storage.getHardState().term;
    this.checkTable(node);
    this.log(`restart ${node.id} term=${node.term} commit=${node.storage.getHardState().commit}`);
  }

  private processReady(node: SimNode): void {
    if (node.saving) {
      if (this.now < node.saving.until) return;
      this.finishSave(node);
    }
    while (node.alive && node.node.hasReady()) {
      const ready = node.node.ready();
      // As the driver (decision 0011): committed entries this node already holds durably are
      // applied and answered before the Ready's save (and before a crash in the middle of it).
      const overwritten = ready.entries[0]?.index ?? Infinity;
      const durable = ready.snapshot ? 0 : Math.min(node.storage.lastIndex(), overwritten - 1);
      let early = 0;
      while ((ready.committedEntries[early]?.index ?? Infinity) <= durable) early++;
      if (early > 0) {
        this.stats.appliedBeforeSave += early;
        this.apply(node, ready, ready.committedEntries.slice(0, early));
      }
      // As the driver: a leader's replication messages leave before its own save (they promise
      // nothing); a crash before the save then leaves followers with entries the leader lost.
      for (const message of ready.messages) {
        if (!LEADER_MESSAGES.has(message.type)) continue;
        if (message.type === 'Snapshot') this.stats.snapshotsSent++;
        this.send({ kind: 'raft', message }, message.from, message.to);
      }
      // As the driver: a leader's save runs in the background and may take a while (here, up to
      // three steps); the messages that arrive meanwhile are stepped, and what acknowledgements
      // commit is applied and answered at once (`applyDuringSave`).
      if (node.role === 'leader' && this.random.next() < 0.5) {
        const until = this.now + STEP_MS * (1 + this.random.int(3));
        node.saving = { ready, early, until };
        return;
      }
      if (this.faultsOn && this.random.next() < this.crashRate / 4) {
        // Crash in the middle of a Ready: either nothing of it reached the disk, or it did but
        // no message left (but a leader's replication messages) and nothing else was applied.
        if (this.random.next() < 0.5) {
          this.stats.crashesLosingUnpersisted++;
          this.crash(node, `before persisting ${ready.entries.length} entries`);
        } else {
          this.persist(node, ready);
          this.crash(node, 'after persisting, before sending the rest');
        }
        return;
      }
      node.saving = { ready, early, until: this.now };
      this.finishSave(node);
    }
  }

  /** The save of a Ready is done: send the rest of its messages, apply the rest, advance. */
  private finishSave(node: SimNode): void {
    const saving = node.saving;
    if (!saving) return;
    node.saving = undefined;
    const { ready, early } = saving;
    this.persist(node, ready);
    if (ready.softState) this.onSoftState(node, ready);
    for (const message of ready.messages) {
      if (LEADER_MESSAGES.has(message.type)) continue;
      this.send({ kind: 'raft', message }, message.from, message.to);
    }
    this.apply(node, ready, ready.committedEntries.slice(early));
    node.node.advance();
  }

  /**
   * A leader whose save is running stepped an acknowledgement: applies what is committed now,
   * in order — entries durable before the save, then the save's own entries (the core counts
   * the leader towards a commit only after its save, so those were committed by the followers
   * alone) — up to a config entry (left to the Ready, as the driver does).
   */
  private applyDuringSave(node: SimNode): void {
    const saving = node.saving;
    const status = node.node.basicStatus();
    if (!saving || status.role !== 'leader' || status.commit <= node.appliedIndex) return;
    const { ready } = saving;
    const overwritten = ready.entries[0]?.index ?? Infinity;
    const durable = ready.snapshot ? 0 : Math.min(node.storage.lastIndex(), overwritten - 1);
    const upTo = Math.min(status.commit, durable);
    const entries: Entry[] =
      upTo > node.appliedIndex
        ? node.storage.entries(node.appliedIndex + 1, upTo + 1, Infinity)
        : [];
    let next = Math.max(upTo, node.appliedIndex) + 1;
    for (const entry of ready.snapshot ? [] : ready.entries) {
      if (entry.index > status.commit) break;
      if (entry.index !== next) continue;
      entries.push(entry);
      next++;
    }
    const config = entries.findIndex((entry) => entry.type === 'config');
    const applied = config < 0 ? entries : entries.slice(0, config);
    this.stats.appliedDuringSave += applied.length;
    this.stats.appliedBeforeOwnSave += applied.filter((e) => e.index >= overwritten).length;
    this.applyEntries(node, applied);
  }

  private persist(node: SimNode, ready: Ready): void {
    if (ready.snapshot) node.storage.applySnapshot(ready.snapshot);
    if (ready.entries.length > 0) {
      node.storage.append(ready.entries);
      this.checkLogMatching(node, ready.entries);
    }
    if (ready.hardState) {
      node.storage.setHardState(ready.hardState);
      if (ready.hardState.term > this.stats.maxTerm) this.stats.maxTerm = ready.hardState.term;
      node.term = ready.hardState.term;
    }
  }

  private onSoftState(node: SimNode, ready: Ready): void {
    const soft = ready.softState;
    if (!soft) return;
    const status = node.node.status();
    node.term = status.term;
    if (soft.role === 'leader' && node.role !== 'leader') {
      this.stats.elections++;
      this.log(`${node.id} leads term ${status.term} (last=${status.lastIndex})`);
      const previous = this.leaderOfTerm.get(status.term);
      if (previous !== undefined && previous !== node.id) {
        this.fail(`election safety: ${previous} and ${node.id} both lead term ${status.term}`);
      }
      this.leaderOfTerm.set(status.term, node.id);
      this.checkLeaderCompleteness(node, status.term, status.firstIndex, 1);
    }
    node.role = soft.role;
  }

  /** Applies `entries` (committed entries of `ready`) and, with them, the Ready's snapshot. */
  private apply(node: SimNode, ready: Ready, entries: readonly Entry[]): void {
    if (ready.snapshot) {
      node.table = LeaseTable.restore(ready.snapshot.data);
      node.appliedIndex = ready.snapshot.metadata.index;
      this.checkTable(node);
      for (const [index, pending] of node.pending) {
        if (index <= ready.snapshot.metadata.index) {
          node.pending.delete(index);
          this.reply(node, { kind: 'reply', client: pending.client, id: pending.id });
        }
      }
    }
    const hardCommit = ready.hardState?.commit;
    if (hardCommit !== undefined && node.role === 'leader') this.recordCommit(node, hardCommit);
    this.applyEntries(node, entries);
  }

  /** Applies committed entries in order, skipping those applied already; answers their clients. */
  private applyEntries(node: SimNode, entries: readonly Entry[]): void {
    for (const entry of entries) {
      if (entry.index <= node.appliedIndex) continue;
      node.appliedIndex = entry.index;
      this.checkApplied(node, entry);
      let result: LeaseResult | undefined;
      const stamped = entry.type === 'normal' ? decodeLeaseCommand(entry.data) : undefined;
      if (stamped) {
        result = node.table.apply(entry, stamped);
        this.checkResult(node, entry, stamped.command, result);
        if (this.options.trace && this.results.get(entry.index) !== undefined) {
          const c = stamped.command;
          this.log(
            `${node.id} applies ${entry.index}@${entry.term} ${c.op} ${c.name} ${c.holder} ` +
              `stamp=${stamped.stamp.toFixed(1)} → ${JSON.stringify(result)}`,
          );
        }
      }
      const pending = node.pending.get(entry.index);
      if (pending?.read) {
        node.pending.delete(entry.index);
        // As the driver: only the leader of the read's term answers (decision 0011).
        const status = node.node.basicStatus();
        const ok =
          pending.term === entry.term && status.role === 'leader' && status.term === entry.term;
        this.reply(node, {
          kind: 'reply',
          client: pending.client,
          id: pending.id,
          ...(ok && { read: true, index: entry.index }),
        });
      } else if (pending) {
        node.pending.delete(entry.index);
        const ok = pending.term === entry.term && result !== undefined;
        this.reply(node, {
          kind: 'reply',
          client: pending.client,
          id: pending.id,
          ...(ok && { result, index: entry.index }),
        });
      }
    }
  }

  private maybeCompact(node: SimNode): void {
    if (node.saving) return;
    const status = node.node.basicStatus();
    if (status.applied - node.storage.firstIndex() < node.compactEvery) return;
    // The table must be at the core's applied index (as the driver's snapshot condition).
    if (node.appliedIndex !== status.applied) return;
    const index = status.applied;
    if (index <= node.storage.snapshot().metadata.index) return;
    const metadata = node.node.snapshotMetadata(index);
    this.checkTable(node);
    node.storage.createSnapshot(index, metadata.conf, node.table.snapshot());
    node.storage.compact(Math.max(node.storage.firstIndex(), index - this.random.int(6)));
  }

  // -------------------------------------------------------------------------------------------
  // Clients

  private handleRequest(node: SimNode, request: ClientRequest & { to: NodeId }): void {
    const reply = (leaderHint: NodeId) =>
      this.reply(node, { kind: 'reply', client: request.client, id: request.id, leaderHint });
    const status = node.node.basicStatus();
    if (status.role !== 'leader') {
      reply(status.leader);
      return;
    }
    const command = request.command;
    if (command.op === 'read' && this.options.staleReads) {
      this.reply(node, {
        kind: 'reply',
        client: request.client,
        id: request.id,
        read: true,
        index: status.applied,
      });
      return;
    }
    // The leader stamps the command with its monotonic clock right before proposing it; a read
    // is an empty entry.
    const stamp = local(node.clock, this.now);
    try {
      const [position] = node.node.propose(
        command.op === 'read' ? new Uint8Array(0) : encodeLeaseCommand(command, stamp),
      );
      if (position) {
        node.pending.set(position.index, {
          term: position.term,
          client: request.client,
          id: request.id,
          ...(command.op === 'read' && { read: true as const }),
        });
      }
    } catch (error) {
      if (!(error instanceof ProposalDroppedError)) throw error;
      reply(error.leader);
      return;
    }
    this.processReady(node);
  }

  private reply(node: SimNode, reply: ClientReply): void {
    this.send({ ...reply, from: node.id }, node.id, `client${reply.client}`);
  }

  private clientAct(client: SimClient): void {
    const r = this.random;
    const out = client.outstanding;
    if (out && this.now >= out.giveUpAt) {
      client.outstanding = undefined;
      client.guess = this.randomId();
    }
    if (client.outstanding || this.now < client.nextActionAt) return;
    client.nextActionAt = this.now + r.next() * 80;
    const name = LEASE_NAMES[r.int(LEASE_NAMES.length)] ?? 'alpha';
    const holder = `client${client.index}`;
    const hold = client.holds.get(name);
    let command: LeaseCommand | ReadCommand;
    if (r.next() < 0.2) {
      command = { op: 'read', name };
    } else if (hold && hold.until > this.now) {
      const dice = r.next();
      if (dice < 0.6) command = { op: 'renew', name, holder, token: hold.token };
      else if (dice < 0.8) {
        command = { op: 'release', name, holder, token: hold.token };
        // A releasing holder stops using the lease before it asks.
        client.holds.delete(name);
      } else return;
    } else {
      command = { op: 'acquire', name, holder, ttlMs: TTLS[r.int(TTLS.length)] ?? 100 };
    }
    const id = this.nextRequestId++;
    client.outstanding = {
      id,
      command,
      sentLocal: local(client.clock, this.now),
      giveUpAt: this.now + 300,
      mustReflect: this.acknowledged,
    };
    this.send(
      { kind: 'request', client: client.index, id, command, to: client.guess },
      holder,
      client.guess,
    );
  }

  private handleReply(reply: ClientReply & { readonly from: NodeId }): void {
    const client = this.clients[reply.client];
    const out = client?.outstanding;
    if (!client || !out || out.id !== reply.id) return;
    client.outstanding = undefined;
    const result = reply.result;
    const name = out.command.name;
    if (reply.index !== undefined && !reply.read) {
      this.acknowledged = Math.max(this.acknowledged, reply.index);
    }
    if (reply.read) {
      this.stats.reads++;
      if ((reply.index ?? 0) < out.mustReflect) {
        this.fail(
          `linearizable read: client${client.index} read ${name} as of index ${reply.index ?? 0} ` +
            `from ${reply.from}, but a write at ${out.mustReflect} was acknowledged before it asked`,
        );
      }
      return;
    }
    if (!result) {
      if (reply.leaderHint) client.guess = reply.leaderHint;
      else if (reply.leaderHint === '') client.guess = this.randomId();
      client.nextActionAt = this.now;
      return;
    }
    if (result.outcome === 'granted') {
      this.stats.grants++;
      const factor = this.options.clientHoldFactor;
      const holdFor =
        factor === undefined ? safeHoldMs(result.validForMs) : result.validForMs * factor;
      const until = realAt(client.clock, out.sentLocal + holdFor);
      if (until <= this.now) return; // Too late to use: the grant arrived after its safe window.
      for (const other of this.clients) {
        if (other === client) continue;
        const theirs = other.holds.get(name);
        if (theirs && theirs.until > this.now) {
          this.fail(
            `lease mutual exclusion: client${client.index} got ${name} (token ${result.token}) ` +
              `while client${other.index} holds it (token ${theirs.token}) until ` +
              `t=${theirs.until.toFixed(1)}`,
          );
        }
      }
      client.holds.set(name, { token: result.token, until });
      this.log(
        `client${client.index} holds ${name} token=${result.token} until ${until.toFixed(1)}`,
      );
    } else if (result.outcome === 'held') {
      this.stats.conflicts++;
    } else if (result.outcome === 'refused') {
      client.holds.delete(name);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Invariants

  private checkLogMatching(node: SimNode, entries: readonly Entry[]): void {
    let prevTerm: number | undefined;
    const first = entries[0];
    if (first) {
      try {
        prevTerm = node.storage.term(first.index - 1);
      } catch {
        prevTerm = undefined;
      }
    }
    for (const entry of entries) {
      const id = `${entry.index}:${entry.term}`;
      const key = entryKey(entry);
      const seen = this.logEntries.get(id);
      if (!seen) {
        this.logEntries.set(id, { key, prevTerm });
      } else {
        if (seen.key !== key) {
          this.fail(`log matching: two different entries at ${entry.index}@${entry.term}`);
        }
        if (seen.prevTerm !== undefined && prevTerm !== undefined && seen.prevTerm !== prevTerm) {
          this.fail(
            `log matching: ${entry.index}@${entry.term} follows term ${prevTerm} on ${node.id} ` +
              `but term ${seen.prevTerm} elsewhere`,
          );
        }
        if (seen.prevTerm === undefined) seen.prevTerm = prevTerm;
      }
      prevTerm = entry.term;
    }
  }

  /** A leader of term T committed up to `commit`: those entries are committed in term ≤ T. */
  private recordCommit(node: SimNode, commit: number): void {
    for (let index = commit; index >= 1; index--) {
      const known = this.committed[index];
      if (known && known.commitTerm <= node.term) break;
      const term = node.node.termAt(index);
      if (term === undefined) break;
      if (known) {
        if (known.term !== term) {
          this.fail(
            `state machine safety: ${index} committed with terms ${known.term} and ${term}`,
          );
        }
        known.commitTerm = node.term;
      } else {
        const [entry] = node.node.logEntries(index).slice(0, 1);
        if (!entry) break;
        this.committed[index] = { term, key: entryKey(entry), commitTerm: node.term };
        if (index > this.stats.committed) this.stats.committed = index;
      }
    }
    // Leaders of later terms elected before this commit was recorded must hold it too.
    for (const other of this.nodes) {
      if (other !== node && other.alive && other.role === 'leader' && other.term > node.term) {
        const status = other.node.status();
        this.checkLeaderCompleteness(other, status.term, status.firstIndex, commit);
      }
    }
  }

  /** Leader completeness: a leader of term T holds every entry committed in a term < T. */
  private checkLeaderCompleteness(node: SimNode, term: number, firstIndex: number, from: number) {
    for (let index = Math.max(firstIndex, from); index < this.committed.length; index++) {
      const known = this.committed[index];
      if (!known || known.commitTerm >= term) continue;
      const has = node.node.termAt(index);
      if (has !== known.term) {
        this.fail(
          `leader completeness: ${node.id}, leader of term ${term}, has ${has ?? 'nothing'}@${index} ` +
            `but ${index}@${known.term} was committed in term ${known.commitTerm}`,
        );
      }
    }
  }

  private checkApplied(node: SimNode, entry: Entry): void {
    const key = entryKey(entry);
    const known = this.committed[entry.index];
    if (known) {
      if (known.term !== entry.term || known.key !== key) {
        this.fail(
          `state machine safety: ${node.id} applied ${entry.index}@${entry.term} but ` +
            `${entry.index}@${known.term} was applied elsewhere`,
        );
      }
    } else {
      // Applied before we saw the leader commit it (e.g. learnt from a snapshot or heartbeat).
      this.committed[entry.index] = { term: entry.term, key, commitTerm: Number.MAX_SAFE_INTEGER };
      if (entry.index > this.stats.committed) this.stats.committed = entry.index;
    }
  }

  private checkResult(node: SimNode, entry: Entry, command: LeaseCommand, result: LeaseResult) {
    const text = JSON.stringify(result);
    const known = this.results.get(entry.index);
    if (known === undefined) {
      this.results.set(entry.index, text);
      if (result.outcome === 'granted' && result.token === entry.index) {
        const last = this.lastToken.get(command.name) ?? 0;
        if (result.token <= last) {
          this.fail(`fencing: ${command.name} granted with token ${result.token} after ${last}`);
        }
        this.lastToken.set(command.name, result.token);
      }
    } else if (known !== text) {
      this.fail(`determinism: ${node.id} computed ${text} at ${entry.index}, others ${known}`);
    }
    // Equal results make equal tables; comparing whole tables at every index would dominate the
    // run time, so sample them (and always compare after a restore or a snapshot).
    if (entry.index % 8 === 0) this.checkTable(node);
  }

  private checkTable(node: SimNode): void {
    const at = node.table.lastAppliedIndex;
    const text = decoder.decode(node.table.snapshot());
    const known = this.tables.get(at);
    if (known === undefined) this.tables.set(at, text);
    else if (known !== text) this.fail(`determinism: ${node.id}'s lease table differs at ${at}`);
  }

  private checkLiveness(): void {
    const leaders = this.nodes.filter((n) => n.node.basicStatus().role === 'leader');
    const top = leaders.sort((a, b) => b.term - a.term)[0];
    if (!top) this.fail('liveness: no leader after healing');
    // Nodes removed from the group are left alone (a driver would shut them down).
    const conf = top.node.status().conf;
    const members = this.nodes.filter(
      (n) => conf.voters.includes(n.id) || conf.learners.includes(n.id),
    );
    for (const node of members) {
      const status = node.node.basicStatus();
      if (status.leader !== top.id || status.term !== top.term) {
        this.fail(
          `liveness: ${node.id} follows ${status.leader || 'nobody'} in term ${status.term}, not ${top.id}`,
        );
      }
    }
    const [position] = top.node.propose(new TextEncoder().encode('liveness-marker'));
    if (!position) this.fail('liveness: proposal not appended');
    for (let i = 0; i < 200; i++, this.step++) {
      this.advance();
      if (members.every((n) => n.node.basicStatus().applied >= position.index)) {
        const known = this.committed[position.index];
        if (known?.term !== position.term)
          this.fail('liveness: the marker was not the entry committed');
        return;
      }
    }
    this.fail(`liveness: marker ${position.index} not applied everywhere within 1s`);
  }
}
