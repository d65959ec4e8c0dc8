/**
 * The pure, in-memory half of the Raft store: hard state, the compaction point and the entries
 * after it, with the same update rules whether the updates come from the running node or from a
 * WAL replay. No I/O here; {@link FileRaftStorage} and {@link MemoryRaftStorage} wrap it.
 */
import { StorageError } from './errors.js';

/** What Raft must have on stable storage before it sends anything (term, vote, commit). */
export interface HardState {
  readonly term: number;
  /** The node voted for in `term`, or '' for none. */
  readonly vote: string;
  readonly commit: number;
}

/**
 * One log entry as the store sees it: its position and term, and the driver's encoding of the
 * rest (entry type and data), which the store never looks into.
 */
export interface StoredEntry {
  readonly index: number;
  readonly term: number;
  readonly data: Uint8Array;
}

/** A position in the log: the last entry a snapshot or compaction covers. */
export interface LogPoint {
  readonly index: number;
  readonly term: number;
}

/**
 * A snapshot as the store sees it: the point it covers and the driver's encoding of everything
 * else (membership and application state).
 */
export interface StoredSnapshot extends LogPoint {
  readonly data: Uint8Array;
}

/** The state of a node with nothing on disk. */
export const EMPTY_HARD_STATE: HardState = { term: 0, vote: '', commit: 0 };

/** Keeps a prefix of `entries` holding at least one entry and at most `maxBytes` of data. */
function limitBytes(entries: StoredEntry[], maxBytes: number): StoredEntry[] {
  let size = 0;
  for (let i = 0; i < entries.length; i++) {
    size += entries[i]?.data.byteLength ?? 0;
    if (size > maxBytes && i > 0) return entries.slice(0, i);
  }
  return entries;
}

/**
 * Hard state plus the log (point.index, lastIndex]: `point` is the last compacted entry (its term
 * is still known, for the log-matching check of the next entry), `entries` follow it without
 * gaps.
 */
export class LogIndex {
  private hard: HardState = EMPTY_HARD_STATE;
  private base: LogPoint = { index: 0, term: 0 };
  private log: StoredEntry[] = [];

  hardState(): HardState {
    return this.hard;
  }

  /** The last compacted entry (index 0, term 0 before any compaction). */
  point(): LogPoint {
    return this.base;
  }

  firstIndex(): number {
    return this.base.index + 1;
  }

  lastIndex(): number {
    return this.base.index + this.log.length;
  }

  /** Term of entry `index`, for firstIndex−1 ≤ index ≤ lastIndex. */
  term(index: number): number {
    if (index === this.base.index) return this.base.term;
    if (index < this.base.index) {
      throw new StorageError('PALISADE_STORAGE_COMPACTED', `index ${index} is compacted`);
    }
    const entry = this.log[index - this.base.index - 1];
    if (entry === undefined) {
      throw new StorageError(
        'PALISADE_STORAGE_UNAVAILABLE',
        `index ${index} is beyond ${this.lastIndex()}`,
      );
    }
    return entry.term;
  }

  /** Entries [lo, hi): at least one if lo < hi, then as many as fit in `maxBytes` of data. */
  entries(lo: number, hi: number, maxBytes = Number.POSITIVE_INFINITY): StoredEntry[] {
    if (lo <= this.base.index) {
      throw new StorageError('PALISADE_STORAGE_COMPACTED', `index ${lo} is compacted`);
    }
    if (hi > this.lastIndex() + 1) {
      throw new StorageError(
        'PALISADE_STORAGE_UNAVAILABLE',
        `index ${hi - 1} is beyond ${this.lastIndex()}`,
      );
    }
    if (hi <= lo) return [];
    return limitBytes(this.log.slice(lo - this.base.index - 1, hi - this.base.index - 1), maxBytes);
  }

  /** Every entry after the compaction point. */
  allEntries(): StoredEntry[] {
    return [...this.log];
  }

  setHardState(hardState: HardState): void {
    this.hard = hardState;
  }

  /**
   * Appends `entries` (consecutive indexes), first dropping every entry at or after the first
   * new index: Raft overwrites a conflicting suffix. Entries at or below the compaction point are
   * ignored. A gap after the last entry is a caller bug.
   */
  append(entries: readonly StoredEntry[]): void {
    for (let i = 1; i < entries.length; i++) {
      if (entries[i]?.index !== (entries[i - 1]?.index ?? 0) + 1) {
        throw new StorageError('PALISADE_STORAGE_MISUSE', 'appended entries are not consecutive');
      }
    }
    const fresh = entries.filter((entry) => entry.index > this.base.index);
    const head = fresh[0];
    if (head === undefined) return;
    if (head.index > this.lastIndex() + 1) {
      throw new StorageError(
        'PALISADE_STORAGE_MISUSE',
        `gap: appending ${head.index} after ${this.lastIndex()}`,
      );
    }
    this.log.length = head.index - this.base.index - 1;
    for (const entry of fresh) this.log.push(entry);
  }

  /**
   * Moves the log to a snapshot at `point`, by the rule of the Raft paper (Figure 13): if the
   * log holds an entry with the snapshot's index and term, the log stays as it is (it already
   * agrees with the snapshot; compaction is a separate step, {@link compact}); otherwise the
   * whole log is discarded and starts after the snapshot. A point at or below the compaction
   * point changes nothing.
   */
  installSnapshot(point: LogPoint): void {
    if (point.index <= this.base.index) return;
    if (point.index <= this.lastIndex() && this.term(point.index) === point.term) return;
    this.log = [];
    this.base = { index: point.index, term: point.term };
  }

  /** Discards entries up to and including `index` (≤ lastIndex). */
  compact(index: number): void {
    if (index <= this.base.index) return;
    if (index > this.lastIndex()) {
      throw new StorageError(
        'PALISADE_STORAGE_MISUSE',
        `cannot compact to ${index} beyond the last index ${this.lastIndex()}`,
      );
    }
    const term = this.term(index);
    this.log = this.log.slice(index - this.base.index);
    this.base = { index, term };
  }

  /** Replaces everything: the state a checkpoint record describes. */
  reset(point: LogPoint, hardState: HardState, entries: readonly StoredEntry[]): void {
    this.base = { index: point.index, term: point.term };
    this.hard = hardState;
    this.log = [];
    this.append(entries);
  }
}
