/**
 * The core's read-only view of stable storage, and an in-memory implementation for tests and the
 * simulation. The driver writes to its storage (WAL, snapshot files) from each Ready; the core
 * only ever reads through {@link Storage}.
 */
import { RaftError } from './errors.js';
import { bootstrapLog } from './membership.js';
import type { ConfState, Entry, HardState, Snapshot } from './types.js';

/** What the core needs to know at start-up. */
export interface InitialState {
  readonly hardState: HardState;
  /** The membership recorded in the latest snapshot (config entries after it are in the log). */
  readonly conf: ConfState;
}

/**
 * Stable storage as the core reads it. The log is the entries (firstIndex−1, lastIndex]; the
 * entry at firstIndex−1 has been compacted, but its term is still known (the snapshot's term).
 * Methods throw {@link RaftError} `PALISADE_RAFT_COMPACTED` below that range and
 * `PALISADE_RAFT_UNAVAILABLE` above it.
 */
export interface Storage {
  initialState(): InitialState;
  /** Entries [lo, hi), at least one if lo < hi, then as many as fit in `maxBytes` of data. */
  entries(lo: number, hi: number, maxBytes: number): Entry[];
  /** Term of entry `index`, for firstIndex−1 ≤ index ≤ lastIndex. */
  term(index: number): number;
  firstIndex(): number;
  lastIndex(): number;
  /** The latest snapshot; may throw `PALISADE_RAFT_SNAPSHOT_UNAVAILABLE` while one is built. */
  snapshot(): Snapshot;
}

/** The empty configuration of a node that waits to be added to a group. */
export const EMPTY_CONF: ConfState = { voters: [], learners: [] };

/** Sum of entry payload sizes, the measure used for `maxBytes` limits. */
export function entriesSize(entries: readonly Entry[]): number {
  let size = 0;
  for (const entry of entries) size += entry.data.byteLength;
  return size;
}

/** Keeps a prefix of `entries` holding at least one entry and at most `maxBytes` of data. */
export function limitSize(entries: Entry[], maxBytes: number): Entry[] {
  if (entries.length === 0) return entries;
  let size = entries[0]?.data.byteLength ?? 0;
  let count = 1;
  while (count < entries.length) {
    size += entries[count]?.data.byteLength ?? 0;
    if (size > maxBytes) break;
    count++;
  }
  return count === entries.length ? entries : entries.slice(0, count);
}

/**
 * A {@link Storage} held in memory. Besides the reads, it has the writes a driver performs:
 * `setHardState`, `append`, `applySnapshot`, `createSnapshot`, `compact`. In the simulation it
 * plays the disk: it survives a crash, the Raft node does not.
 */
export class MemoryStorage implements Storage {
  private hardState: HardState = { term: 0, vote: '', commit: 0 };
  private snap: Snapshot;
  /** entries[0] is a dummy standing for the snapshot point (its index and term). */
  private ents: Entry[];

  /**
   * An empty storage, or, given `conf`, the storage of an initial member of a new group: its log
   * holds the bootstrap entries of {@link bootstrapLog}.
   */
  constructor(conf?: ConfState) {
    this.snap = { metadata: { index: 0, term: 0, conf: EMPTY_CONF }, data: new Uint8Array() };
    this.ents = [dummy(0, 0)];
    if (conf) {
      const { entries, hardState } = bootstrapLog(conf);
      this.ents.push(...entries);
      this.hardState = hardState;
    }
  }

  initialState(): InitialState {
    return { hardState: this.hardState, conf: this.snap.metadata.conf };
  }

  /** The persisted hard state (what a restarted node reads). */
  getHardState(): HardState {
    return this.hardState;
  }

  setHardState(hardState: HardState): void {
    this.hardState = hardState;
  }

  private offset(): number {
    return this.ents[0]?.index ?? 0;
  }

  firstIndex(): number {
    return this.offset() + 1;
  }

  lastIndex(): number {
    return this.offset() + this.ents.length - 1;
  }

  term(index: number): number {
    const offset = this.offset();
    if (index < offset) throw new RaftError('PALISADE_RAFT_COMPACTED', `index ${index} compacted`);
    const entry = this.ents[index - offset];
    if (entry === undefined) {
      throw new RaftError('PALISADE_RAFT_UNAVAILABLE', `index ${index} beyond ${this.lastIndex()}`);
    }
    return entry.term;
  }

  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    const offset = this.offset();
    if (lo <= offset) throw new RaftError('PALISADE_RAFT_COMPACTED', `index ${lo} compacted`);
    if (hi > this.lastIndex() + 1) {
      throw new RaftError(
        'PALISADE_RAFT_UNAVAILABLE',
        `index ${hi - 1} beyond ${this.lastIndex()}`,
      );
    }
    return limitSize(this.ents.slice(lo - offset, hi - offset), maxBytes);
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  /**
   * Persists entries, discarding any conflicting suffix (entries at or after the first new index).
   * Entries at or below the compaction point are ignored.
   */
  append(entries: readonly Entry[]): void {
    const first = entries[0];
    if (first === undefined) return;
    const offset = this.offset();
    let fresh = entries;
    if (first.index <= offset) fresh = entries.slice(offset + 1 - first.index);
    const head = fresh[0];
    if (head === undefined) return;
    if (head.index > this.lastIndex() + 1) {
      throw new RaftError(
        'PALISADE_RAFT_MISUSE',
        `gap: appending ${head.index} after ${this.lastIndex()}`,
      );
    }
    this.ents = this.ents.slice(0, head.index - offset).concat(fresh);
  }

  /** Replaces the whole log by a snapshot received from the leader. */
  applySnapshot(snapshot: Snapshot): void {
    if (snapshot.metadata.index <= this.snap.metadata.index) {
      throw new RaftError(
        'PALISADE_RAFT_SNAPSHOT_OUT_OF_DATE',
        `snapshot at ${snapshot.metadata.index} older than ${this.snap.metadata.index}`,
      );
    }
    this.snap = snapshot;
    this.ents = [dummy(snapshot.metadata.index, snapshot.metadata.term)];
  }

  /**
   * Records the application's snapshot at `index` (≤ lastIndex, entries up to it applied). Does
   * not compact: call {@link compact} afterwards, possibly keeping some entries for slow followers.
   */
  createSnapshot(index: number, conf: ConfState, data: Uint8Array): Snapshot {
    if (index <= this.snap.metadata.index) {
      throw new RaftError(
        'PALISADE_RAFT_SNAPSHOT_OUT_OF_DATE',
        `snapshot at ${index} not newer than ${this.snap.metadata.index}`,
      );
    }
    const term = this.term(index);
    this.snap = { metadata: { index, term, conf }, data };
    return this.snap;
  }

  /** Discards entries up to and including `index` (which must be ≤ the snapshot's index). */
  compact(index: number): void {
    const offset = this.offset();
    if (index <= offset) return;
    if (index > this.snap.metadata.index) {
      throw new RaftError('PALISADE_RAFT_MISUSE', `compact ${index} beyond the snapshot`);
    }
    const term = this.term(index);
    this.ents = [dummy(index, term)].concat(this.ents.slice(index - offset + 1));
  }
}

function dummy(index: number, term: number): Entry {
  return { index, term, type: 'normal', data: new Uint8Array() };
}
