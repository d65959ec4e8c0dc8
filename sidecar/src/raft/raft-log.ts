/**
 * The log as the Raft node sees it: stable entries (read through {@link Storage}) followed by
 * unstable ones (appended in memory, handed to the driver in a Ready, declared stable by
 * `advance`). An unstable snapshot, when present, replaces the whole stable part.
 */
import { RaftError } from './errors.js';
import { limitSize, type Storage } from './storage.js';
import type { Entry, Snapshot } from './types.js';

/** Entries not yet on stable storage. Invariant: entries[i].index === offset + i. */
class Unstable {
  snapshot: Snapshot | undefined;
  entries: Entry[] = [];

  constructor(public offset: number) {}

  firstIndex(): number | undefined {
    return this.snapshot ? this.snapshot.metadata.index + 1 : undefined;
  }

  lastIndex(): number | undefined {
    if (this.entries.length > 0) return this.offset + this.entries.length - 1;
    return this.snapshot?.metadata.index;
  }

  term(index: number): number | undefined {
    if (index >= this.offset) return this.entries[index - this.offset]?.term;
    if (this.snapshot && this.snapshot.metadata.index === index) return this.snapshot.metadata.term;
    return undefined;
  }

  truncateAndAppend(entries: readonly Entry[]): void {
    const first = entries[0];
    if (first === undefined) return;
    const after = first.index;
    if (after === this.offset + this.entries.length) {
      this.entries.push(...entries);
    } else if (after <= this.offset) {
      // Replaces everything unstable; stable entries from `after` on are shadowed until the driver
      // persists these (its append truncates them).
      this.offset = after;
      this.entries = entries.slice();
    } else {
      this.entries = this.entries.slice(0, after - this.offset).concat(entries);
    }
  }

  stableTo(index: number, term: number): void {
    const current = this.term(index);
    // Only if the entry is still the one that was persisted (not truncated since the Ready).
    if (current === term && index >= this.offset) {
      this.entries = this.entries.slice(index + 1 - this.offset);
      this.offset = index + 1;
    }
  }

  restore(snapshot: Snapshot): void {
    this.offset = snapshot.metadata.index + 1;
    this.entries = [];
    this.snapshot = snapshot;
  }
}

/** The replicated log of one node, with its commit and apply positions. */
export class RaftLog {
  private readonly unstable: Unstable;
  /** Highest index known to be committed (may run ahead of what is stable on this node). */
  committed: number;
  /** Highest index handed to the application for applying. */
  applied: number;

  constructor(
    private readonly storage: Storage,
    readonly maxBytesPerRead: number,
  ) {
    this.unstable = new Unstable(storage.lastIndex() + 1);
    this.committed = storage.firstIndex() - 1;
    this.applied = storage.firstIndex() - 1;
  }

  firstIndex(): number {
    return this.unstable.firstIndex() ?? this.storage.firstIndex();
  }

  lastIndex(): number {
    return this.unstable.lastIndex() ?? this.storage.lastIndex();
  }

  lastTerm(): number {
    return this.term(this.lastIndex()) ?? 0;
  }

  /** Index of the last entry on stable storage (the leader counts itself up to here). */
  stableLastIndex(): number {
    // A pending snapshot replaces the stable log: nothing of it counts until persisted.
    if (this.unstable.snapshot) return 0;
    return this.unstable.offset - 1;
  }

  /** Term of entry `index`, or undefined when compacted away or beyond the end. */
  term(index: number): number | undefined {
    const dummyIndex = this.firstIndex() - 1;
    if (index < dummyIndex || index > this.lastIndex()) return undefined;
    const unstableTerm = this.unstable.term(index);
    if (unstableTerm !== undefined) return unstableTerm;
    try {
      return this.storage.term(index);
    } catch (error) {
      if (error instanceof RaftError) return undefined;
      throw error;
    }
  }

  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term;
  }

  /** Raft §5.4.1: is a log ending at (`lastIndex`, `lastTerm`) at least as up to date as ours? */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const ourTerm = this.lastTerm();
    return lastTerm > ourTerm || (lastTerm === ourTerm && lastIndex >= this.lastIndex());
  }

  /**
   * Entries [lo, min(hi, lastIndex+1)), at least one, within `maxBytes`. Throws `COMPACTED` when
   * lo has been compacted (the leader then sends a snapshot instead).
   */
  entries(lo: number, maxBytes: number, hi = this.lastIndex() + 1): Entry[] {
    const last = Math.min(hi, this.lastIndex() + 1);
    if (lo >= last) return [];
    if (lo < this.firstIndex()) {
      throw new RaftError('PALISADE_RAFT_COMPACTED', `index ${lo} compacted`);
    }
    const offset = this.unstable.offset;
    let result: Entry[] = [];
    if (lo < offset) {
      result = this.storage.entries(lo, Math.min(last, offset), maxBytes);
      // Storage stopped early (size limit): do not append unstable entries after a gap.
      if (result.length < Math.min(last, offset) - lo) return result;
    }
    if (last > offset) {
      const from = Math.max(lo, offset);
      result = result.concat(
        this.unstable.entries.slice(from - offset, last - offset) as readonly Entry[],
      );
    }
    return limitSize(result, maxBytes);
  }

  /** All entries from `lo` to the end, ignoring size limits (used for scanning and tests). */
  allEntriesFrom(lo: number): Entry[] {
    return this.entries(lo, Number.POSITIVE_INFINITY);
  }

  /** Appends entries at their own indexes, truncating any conflicting suffix. */
  append(entries: readonly Entry[]): void {
    const first = entries[0];
    if (first === undefined) return;
    if (first.index - 1 < this.committed) {
      throw new RaftError(
        'PALISADE_RAFT_MISUSE',
        `append at ${first.index} would truncate committed entry ${this.committed}`,
      );
    }
    this.unstable.truncateAndAppend(entries);
  }

  /**
   * The follower side of AppendEntries: if our log matches (`prevIndex`, `prevTerm`), keep the
   * agreeing prefix of `entries`, write the rest, and advance the commit index. Returns the index
   * of the last new entry and the first index written (undefined when nothing changed), or
   * undefined when the log does not match.
   */
  maybeAppend(
    prevIndex: number,
    prevTerm: number,
    commit: number,
    entries: readonly Entry[],
  ): { lastNewIndex: number; firstWritten: number | undefined } | undefined {
    if (!this.matchTerm(prevIndex, prevTerm)) return undefined;
    const lastNewIndex = prevIndex + entries.length;
    const conflict = this.findConflict(entries);
    let firstWritten: number | undefined;
    if (conflict !== 0) {
      if (conflict <= this.committed) {
        throw new RaftError(
          'PALISADE_RAFT_MISUSE',
          `entry ${conflict} conflicts with committed entry ${this.committed}`,
        );
      }
      this.append(entries.slice(conflict - (prevIndex + 1)));
      firstWritten = conflict;
    }
    this.commitTo(Math.min(commit, lastNewIndex));
    return { lastNewIndex, firstWritten };
  }

  /** First index of `entries` that is absent from, or conflicts with, our log; 0 if none. */
  private findConflict(entries: readonly Entry[]): number {
    for (const entry of entries) {
      if (!this.matchTerm(entry.index, entry.term)) return entry.index;
    }
    return 0;
  }

  /**
   * Fast backtracking: the largest index ≤ `index` whose term is ≤ `term`. Stops at the first
   * index whose term is unknown (compacted), which makes the leader fall back to a snapshot.
   */
  findConflictByTerm(index: number, term: number): number {
    let candidate = Math.min(index, this.lastIndex());
    while (candidate > 0) {
      const candidateTerm = this.term(candidate);
      if (candidateTerm === undefined || candidateTerm <= term) break;
      candidate--;
    }
    return candidate;
  }

  commitTo(index: number): void {
    if (index <= this.committed) return;
    if (index > this.lastIndex()) {
      throw new RaftError(
        'PALISADE_RAFT_MISUSE',
        `commit ${index} beyond last index ${this.lastIndex()}`,
      );
    }
    this.committed = index;
  }

  appliedTo(index: number): void {
    if (index > this.committed || index < this.applied) {
      throw new RaftError(
        'PALISADE_RAFT_MISUSE',
        `applied ${index} outside [${this.applied}, ${this.committed}]`,
      );
    }
    this.applied = index;
  }

  /** Committed entries not yet handed out for applying. */
  nextCommittedEntries(maxBytes: number): Entry[] {
    const lo = Math.max(this.applied + 1, this.firstIndex());
    if (this.committed < lo) return [];
    return this.entries(lo, maxBytes, this.committed + 1);
  }

  hasNextCommittedEntries(): boolean {
    return this.committed > Math.max(this.applied, this.firstIndex() - 1);
  }

  hasUnstableEntries(): boolean {
    return this.unstable.entries.length > 0;
  }

  unstableEntries(): Entry[] {
    return this.unstable.entries.slice();
  }

  unstableSnapshot(): Snapshot | undefined {
    return this.unstable.snapshot;
  }

  stableTo(index: number, term: number): void {
    this.unstable.stableTo(index, term);
  }

  stableSnapshotTo(index: number): void {
    if (this.unstable.snapshot?.metadata.index === index) this.unstable.snapshot = undefined;
  }

  /** The snapshot to send to a lagging follower: the unstable one, or storage's. */
  snapshot(): Snapshot {
    return this.unstable.snapshot ?? this.storage.snapshot();
  }

  /** Replaces the log by `snapshot` (received from the leader and not matching our log). */
  restore(snapshot: Snapshot): void {
    this.committed = snapshot.metadata.index;
    this.unstable.restore(snapshot);
  }
}
