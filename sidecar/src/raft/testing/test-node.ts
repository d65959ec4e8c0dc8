/**
 * Test harness pieces shared by the scenario interpreter, the paper tests and the simulation: a
 * node with its "disk" (a MemoryStorage that survives crashes) and a trivial state machine (the
 * list of applied payloads), processing Readies exactly as the driver contract says.
 */
import { SeededRandom } from '../../core/random.js';
import { RawNode } from '../raw-node.js';
import type { Ready } from '../raw-node.js';
import { MemoryStorage } from '../storage.js';
import type { ConfState, Entry, Message, NodeId } from '../types.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** UTF-8 bytes of a string, for proposals in tests. */
export function bytes(text: string): Uint8Array {
  return encoder.encode(text);
}

/** UTF-8 text of bytes. */
export function text(data: Uint8Array): string {
  return decoder.decode(data);
}

/** Options of a {@link TestNode}. */
export interface TestNodeOptions {
  readonly id: NodeId;
  /** Initial membership; omit for a node that waits to be added. */
  readonly conf?: ConfState;
  readonly seed: number;
  readonly electionTick?: number;
  readonly heartbeatTick?: number;
  readonly preVote?: boolean;
  readonly checkQuorum?: boolean;
  readonly maxInflight?: number;
  readonly maxBytesPerAppend?: number;
  readonly announceCommit?: boolean;
}

/** A Raft node, its storage and its applied payloads; can crash and restart. */
export class TestNode {
  readonly id: NodeId;
  readonly storage: MemoryStorage;
  node: RawNode;
  /** Payloads of applied normal entries (empty entries skipped), with their indexes. */
  applied: { index: number; term: number; data: string }[] = [];
  private restarts = 0;

  constructor(readonly options: TestNodeOptions) {
    this.id = options.id;
    this.storage = new MemoryStorage(options.conf);
    this.node = this.makeNode();
  }

  private makeNode(): RawNode {
    const o = this.options;
    return new RawNode({
      id: o.id,
      storage: this.storage,
      random: new SeededRandom(o.seed * 7919 + this.restarts * 104729),
      ...(o.electionTick !== undefined && { electionTick: o.electionTick }),
      ...(o.heartbeatTick !== undefined && { heartbeatTick: o.heartbeatTick }),
      ...(o.preVote !== undefined && { preVote: o.preVote }),
      ...(o.checkQuorum !== undefined && { checkQuorum: o.checkQuorum }),
      ...(o.maxInflight !== undefined && { maxInflight: o.maxInflight }),
      ...(o.maxBytesPerAppend !== undefined && { maxBytesPerAppend: o.maxBytesPerAppend }),
      ...(o.announceCommit !== undefined && { announceCommit: o.announceCommit }),
    });
  }

  /** Loses all volatile state; only what was persisted survives. The state machine is rebuilt. */
  restart(): void {
    this.restarts++;
    this.node = this.makeNode();
    this.applied = decodeApplied(this.storage.snapshot().data);
  }

  /** Persists a Ready into storage (the "fsync"). */
  persist(ready: Ready): void {
    if (ready.snapshot) this.storage.applySnapshot(ready.snapshot);
    this.storage.append(ready.entries);
    if (ready.hardState) this.storage.setHardState(ready.hardState);
  }

  /** Applies a Ready's snapshot and committed entries to the state machine. */
  apply(ready: Ready): Entry[] {
    if (ready.snapshot) this.applied = decodeApplied(ready.snapshot.data);
    for (const entry of ready.committedEntries) {
      if (entry.type === 'normal' && entry.data.byteLength > 0) {
        this.applied.push({ index: entry.index, term: entry.term, data: text(entry.data) });
      }
    }
    return [...ready.committedEntries];
  }

  /** One full Ready cycle: persist, collect messages, apply, advance. */
  processReady(): Message[] {
    const messages: Message[] = [];
    while (this.node.hasReady()) {
      const ready = this.node.ready();
      this.persist(ready);
      messages.push(...ready.messages);
      this.apply(ready);
      this.node.advance();
    }
    return messages;
  }

  /** Snapshots the state machine at the applied index and compacts the log up to it. */
  compact(index = this.node.status().applied): void {
    const metadata = this.node.snapshotMetadata(index);
    const state = this.applied.filter((a) => a.index <= index);
    this.storage.createSnapshot(index, metadata.conf, encoder.encode(JSON.stringify(state)));
    this.storage.compact(index);
  }
}

function decodeApplied(data: Uint8Array): { index: number; term: number; data: string }[] {
  if (data.byteLength === 0) return [];
  return JSON.parse(text(data)) as { index: number; term: number; data: string }[];
}
