/**
 * A deterministic, step-by-step network of {@link TestNode}s for scenario scripts and paper tests:
 * messages wait in a queue until delivered explicitly; partitions drop them at delivery.
 */
import { describeConf } from '../membership.js';
import type { ConfState, Message, NodeId } from '../types.js';
import { formatEntry, formatMessage } from './format.js';
import { TestNode, type TestNodeOptions } from './test-node.js';

/** Options shared by every node of a {@link Network}. */
export type NetworkNodeOptions = Omit<TestNodeOptions, 'id' | 'conf' | 'seed'>;

/** A set of nodes and the messages in flight between them. */
export class Network {
  readonly nodes = new Map<NodeId, TestNode>();
  readonly crashed = new Set<NodeId>();
  queue: Message[] = [];
  /** Directed links that drop everything: `from->to`. */
  private readonly cut = new Set<string>();

  constructor(
    /** Options for nodes created from now on. */
    public nodeOptions: NetworkNodeOptions = {},
    private readonly seed = 1,
  ) {}

  /** Creates nodes sharing the membership `conf` (or an empty one, for nodes yet to be added). */
  add(ids: readonly NodeId[], conf?: ConfState): void {
    for (const id of ids) {
      const index = this.nodes.size + 1;
      const node = new TestNode({
        ...this.nodeOptions,
        id,
        seed: this.seed * 1000 + index,
        ...(conf && { conf }),
      });
      this.nodes.set(id, node);
    }
  }

  node(id: NodeId): TestNode {
    const node = this.nodes.get(id);
    if (!node) throw new Error(`no node ${id}`);
    return node;
  }

  /** Runs the Ready loop of a node, queueing its messages. */
  process(id: NodeId): void {
    if (this.crashed.has(id)) return;
    this.queue.push(...this.node(id).processReady());
  }

  processAll(): void {
    for (const id of this.nodes.keys()) this.process(id);
  }

  isCut(from: NodeId, to: NodeId): boolean {
    return this.cut.has(`${from}->${to}`) || this.crashed.has(to) || this.crashed.has(from);
  }

  /** Symmetric partition between every node of `a` and every node of `b`. */
  partition(a: readonly NodeId[], b: readonly NodeId[]): void {
    for (const x of a) {
      for (const y of b) {
        this.cut.add(`${x}->${y}`);
        this.cut.add(`${y}->${x}`);
      }
    }
  }

  /** One-way cut: messages from `from` to `to` are dropped. */
  cutLink(from: NodeId, to: NodeId): void {
    this.cut.add(`${from}->${to}`);
  }

  heal(): void {
    this.cut.clear();
  }

  /** Removes queued messages matching `filter` and returns them. */
  take(filter: (m: Message) => boolean): Message[] {
    const taken = this.queue.filter(filter);
    this.queue = this.queue.filter((m) => !filter(m));
    return taken;
  }

  /**
   * Delivers the queued messages (those matching `filter`), in order; messages they cause are
   * queued, not delivered. Returns a line per message (`dropped` when a partition ate it).
   */
  deliver(filter: (m: Message) => boolean = () => true): string[] {
    const lines: string[] = [];
    const batch = this.take(filter);
    const receivers = new Set<NodeId>();
    for (const m of batch) {
      if (this.isCut(m.from, m.to) || !this.nodes.has(m.to)) {
        lines.push(`${formatMessage(m)} (dropped)`);
        continue;
      }
      lines.push(formatMessage(m));
      this.node(m.to).node.step(m);
      receivers.add(m.to);
    }
    for (const id of receivers) this.process(id);
    return lines;
  }

  /** Delivers and processes until nothing moves (at most `limit` rounds). */
  stabilize(limit = 1000): void {
    this.processAll();
    for (let round = 0; round < limit; round++) {
      if (this.queue.length === 0) return;
      this.deliver();
      this.processAll();
    }
    throw new Error('network did not stabilize');
  }

  /** Ticks a node `times` times, processing its Ready after each tick. */
  tick(id: NodeId, times = 1): void {
    for (let i = 0; i < times; i++) {
      if (this.crashed.has(id)) return;
      this.node(id).node.tick();
      this.process(id);
    }
  }

  crash(id: NodeId): void {
    this.crashed.add(id);
    this.queue = this.queue.filter((m) => m.to !== id && m.from !== id);
  }

  restart(id: NodeId): void {
    this.crashed.delete(id);
    this.node(id).restart();
    this.process(id);
  }

  leaders(): NodeId[] {
    return [...this.nodes.values()]
      .filter((n) => !this.crashed.has(n.id) && n.node.status().role === 'leader')
      .map((n) => n.id);
  }

  /** One line per node; `crashed` for crashed nodes. */
  status(ids: readonly NodeId[] = [...this.nodes.keys()]): string[] {
    return ids.map((id) =>
      this.crashed.has(id) ? `${id}: crashed` : this.node(id).node.describe(),
    );
  }

  /** The log of a node in compact form. */
  log(id: NodeId): string {
    const node = this.node(id).node;
    const entries = node.logEntries();
    const first = node.status().firstIndex;
    let head = first > 1 ? `(compacted to ${first - 1}) ` : '';
    // The bootstrap entries (config entries of term 1) are summarized: `1..3@1:bootstrap`.
    let boot = 0;
    while (first === 1 && entries[boot]?.type === 'config' && entries[boot]?.term === 1) boot++;
    if (boot > 0) head = `1..${boot}@1:bootstrap `;
    return `${id}: ${head}${entries.slice(boot).map(formatEntry).join(' ')}`.trimEnd();
  }

  describeConf(id: NodeId): string {
    return describeConf(this.node(id).node.status().conf);
  }
}
