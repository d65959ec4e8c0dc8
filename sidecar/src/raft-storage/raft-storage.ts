/**
 * A Raft-shaped durable store on top of the {@link Wal} and snapshot files: what the driver
 * persists from each Ready (hard state, entries, an incoming snapshot), local snapshots, log
 * compaction, and recovery after a crash.
 *
 * Layout of `dir`: `wal/` (segments, see wal.ts) and `snap/` (snapshot files, see
 * snapshot-file.ts). Record encoding: codec.ts.
 *
 * Ordering contract: each {@link RaftStorage.save} resolves only after its records are fsynced;
 * the driver sends the Ready's messages and acknowledges nothing before that. The reads
 * (`term`, `entries`, …) reflect only what is durable. Calls are serialized in call order.
 *
 * Recovery = the newest valid snapshot file + a replay of the WAL:
 * - `hardState` records: the last one wins;
 * - `entry` records: appended after dropping every entry at or after their index (conflict
 *   overwrite), so a truncation needs no record of its own;
 * - `snapshot` markers (written after their file is durable): the Raft paper's rule — if the log
 *   holds the snapshot point with the same term it is kept as it is (a local snapshot, or a
 *   leader's that agrees), otherwise it is discarded and restarts after the snapshot;
 * - `checkpoint` records (first in a segment written by compaction): reset to the compaction
 *   point, followed by the hard state and every retained entry.
 * A snapshot file newer than the last marker (crash between the rename and the marker) is
 * applied by the same rule. A marker without its file means lost entries: `PALISADE_SNAPSHOT_MISSING`.
 */
import { join } from 'node:path';
import { unlink } from 'node:fs/promises';
import {
  decodeEntry,
  decodeHardState,
  decodePoint,
  encodeEntry,
  encodeHardState,
  encodePoint,
  RecordType,
} from './codec.js';
import { StorageError } from './errors.js';
import {
  LogIndex,
  type HardState,
  type LogPoint,
  type StoredEntry,
  type StoredSnapshot,
} from './log-index.js';
import { listSnapshots, readSnapshot, writeSnapshot } from './snapshot-file.js';
import {
  syncDirectory,
  Wal,
  type PreparedCheckpoint,
  type ReplayedRecord,
  type WalHooks,
  type WalRecord,
} from './wal.js';

/** What one Ready asks to persist. Any part may be absent. */
export interface RaftStorageUpdate {
  /** A snapshot received from the leader; written before the entries and hard state. */
  readonly snapshot?: StoredSnapshot;
  /** New entries; the first one's index drops every stored entry at or after it. */
  readonly entries?: readonly StoredEntry[];
  readonly hardState?: HardState;
}

/** How {@link RaftStorage.save} writes (the same durability either way). */
export interface RaftStorageSaveOptions {
  /**
   * Write on a thread-pool thread and let the event loop run meanwhile, instead of blocking it
   * for the write (the default: no thread hand-off). For a Raft leader, whose loop has work to do
   * during its own write — the acknowledgements of earlier entries, and the answers they commit.
   */
  readonly background?: boolean;
}

/** The durable state a restarted node starts from. */
export interface RecoveredState {
  readonly hardState: HardState;
  /** The newest snapshot, if any was ever saved. */
  readonly snapshot: StoredSnapshot | undefined;
  /** The compaction point: the log starts at `point.index + 1`. */
  readonly point: LogPoint;
  /** The entries after the compaction point, without gaps. */
  readonly entries: StoredEntry[];
}

/**
 * The store the Raft driver writes to. {@link FileRaftStorage} keeps it on disk;
 * {@link MemoryRaftStorage} in memory, for simulations.
 */
export interface RaftStorage {
  /** Persists one Ready's worth of state; resolves once it is durable. */
  save(update: RaftStorageUpdate, options?: RaftStorageSaveOptions): Promise<void>;
  /**
   * Saves a snapshot taken by the application at an applied — hence committed — index, without
   * compacting: `save({snapshot})`, and the durable commit index is raised to the snapshot's
   * index if it is below (a restart must not find a snapshot beyond its commit index). The file
   * store writes the snapshot file before the save joins the queue, so saves called meanwhile
   * may be written first: the snapshot covers only committed entries, which no save changes.
   */
  saveSnapshot(snapshot: StoredSnapshot): Promise<void>;
  /**
   * Discards the entries up to and including `index`, which must be at or below the latest
   * snapshot (a lower index keeps some entries for slow followers), and the files only they
   * needed.
   */
  compact(index: number): Promise<void>;
  /** The durable state, as a restart would recover it. */
  state(): RecoveredState;
  hardState(): HardState;
  snapshot(): StoredSnapshot | undefined;
  firstIndex(): number;
  lastIndex(): number;
  /** Term of entry `index`, for firstIndex−1 ≤ index ≤ lastIndex. */
  term(index: number): number;
  /** Entries [lo, hi), at least one if lo < hi, then as many as fit in `maxBytes` of data. */
  entries(lo: number, hi: number, maxBytes?: number): StoredEntry[];
  close(): Promise<void>;
}

/** Options of {@link FileRaftStorage.open}. */
export interface FileRaftStorageOptions {
  /** The data directory of this member; owned exclusively by one store. */
  readonly dir: string;
  /** WAL segment size (default 16 MiB). */
  readonly segmentBytes?: number;
  /** Largest WAL record (default 64 MiB): bounds one entry. */
  readonly maxRecordBytes?: number;
  /** Test hooks (see {@link WalHooks}). */
  readonly hooks?: WalHooks;
}

/** What {@link FileRaftStorage.open} found besides the state. */
export interface OpenReport {
  /** Bytes of a torn write cut from the end of the WAL. */
  readonly truncatedBytes: number;
  readonly truncatedReason: string | undefined;
  /** WAL records replayed. */
  readonly records: number;
}

/**
 * Rebuilds the store's state from replayed WAL records. Pure; exported for tests.
 * Throws `PALISADE_WAL_CORRUPT` for a missing segment or records that contradict each other.
 */
export function replayRecords(records: readonly ReplayedRecord[]): LogIndex {
  const index = new LogIndex();
  let previousSegment: number | undefined;
  for (const record of records) {
    if (record.segment !== previousSegment) {
      const expected = previousSegment === undefined ? 1 : previousSegment + 1;
      if (record.segment !== expected && record.type !== RecordType.checkpoint) {
        throw new StorageError(
          'PALISADE_WAL_CORRUPT',
          `WAL segment ${expected} is missing (next is ${record.segment} without a checkpoint)`,
        );
      }
      previousSegment = record.segment;
    }
    try {
      applyRecord(index, record);
    } catch (error) {
      if (error instanceof StorageError && error.code === 'PALISADE_STORAGE_MISUSE') {
        throw new StorageError(
          'PALISADE_WAL_CORRUPT',
          `WAL segment ${record.segment}: ${error.message}`,
          { cause: error },
        );
      }
      throw error;
    }
  }
  return index;
}

function applyRecord(index: LogIndex, record: WalRecord): void {
  switch (record.type) {
    case RecordType.hardState:
      index.setHardState(decodeHardState(record.payload));
      return;
    case RecordType.entry:
      index.append([decodeEntry(record.payload)]);
      return;
    case RecordType.snapshot:
      index.installSnapshot(decodePoint(record.payload));
      return;
    case RecordType.checkpoint:
      index.reset(decodePoint(record.payload), index.hardState(), []);
      return;
    default:
      throw new StorageError('PALISADE_WAL_CORRUPT', `unknown WAL record type ${record.type}`);
  }
}

/** The records that persist `update`, in the order recovery must see them. */
export function updateRecords(update: RaftStorageUpdate): WalRecord[] {
  const records: WalRecord[] = [];
  if (update.snapshot) records.push(encodePoint(RecordType.snapshot, update.snapshot));
  for (const entry of update.entries ?? []) records.push(encodeEntry(entry));
  if (update.hardState) records.push(encodeHardState(update.hardState));
  return records;
}

/**
 * The update that saves a local snapshot (see {@link RaftStorage.saveSnapshot}): with the hard
 * state in force, its commit index raised to the snapshot's when it is below.
 */
export function localSnapshotUpdate(index: LogIndex, snapshot: StoredSnapshot): RaftStorageUpdate {
  const hard = index.hardState();
  return hard.commit >= snapshot.index
    ? { snapshot }
    : { snapshot, hardState: { ...hard, commit: snapshot.index } };
}

/** Applies `update` to the in-memory state, in the same order as {@link updateRecords}. */
export function applyUpdate(index: LogIndex, update: RaftStorageUpdate): void {
  if (update.snapshot) index.installSnapshot(update.snapshot);
  if (update.entries && update.entries.length > 0) index.append(update.entries);
  if (update.hardState) index.setHardState(update.hardState);
}

/**
 * Checks an update before anything is written, so that a bad call cannot half-apply: snapshots
 * only move forward, entries covered by the latest snapshot (applied, hence committed) are never
 * rewritten, and appended entries are consecutive and leave no gap.
 */
export function checkUpdate(
  index: LogIndex,
  update: RaftStorageUpdate,
  latestSnapshotIndex: number,
): void {
  if (update.snapshot && update.snapshot.index <= latestSnapshotIndex) {
    throw new StorageError(
      'PALISADE_STORAGE_MISUSE',
      `snapshot at ${update.snapshot.index} is not newer than the one at ${latestSnapshotIndex}`,
    );
  }
  const entries = update.entries ?? [];
  const first = entries[0];
  if (first === undefined) return;
  const floor = Math.max(latestSnapshotIndex, update.snapshot?.index ?? 0);
  if (first.index <= floor) {
    throw new StorageError(
      'PALISADE_STORAGE_MISUSE',
      `entry ${first.index} is covered by the snapshot at ${floor} and cannot change`,
    );
  }
  for (let i = 1; i < entries.length; i++) {
    if (entries[i]?.index !== first.index + i) {
      throw new StorageError('PALISADE_STORAGE_MISUSE', 'appended entries are not consecutive');
    }
  }
  let last = index.lastIndex();
  const snapshot = update.snapshot;
  if (snapshot && snapshot.index > index.point().index) {
    const matches = snapshot.index <= last && index.term(snapshot.index) === snapshot.term;
    if (!matches) last = snapshot.index;
  }
  if (first.index > last + 1) {
    throw new StorageError(
      'PALISADE_STORAGE_MISUSE',
      `gap: appending ${first.index} after ${last}`,
    );
  }
}

/** What was saved since a compaction took its checkpoint (see `FileRaftStorage.compact`). */
interface Capture {
  /** The last index when the checkpoint was taken. */
  readonly last: number;
  /** The lowest index of an entry saved since (a follower's overwritten tail starts there). */
  lowest: number;
  /** Whether a snapshot was saved since. */
  snapshot: boolean;
}

/**
 * The reads both stores (file and memory) answer from their in-memory log index and latest
 * snapshot; subclasses own how those two are written.
 */
export abstract class LogIndexReads {
  protected abstract index: LogIndex;
  protected abstract latest: StoredSnapshot | undefined;

  state(): RecoveredState {
    return {
      hardState: this.index.hardState(),
      snapshot: this.latest,
      point: this.index.point(),
      entries: this.index.allEntries(),
    };
  }

  hardState(): HardState {
    return this.index.hardState();
  }

  snapshot(): StoredSnapshot | undefined {
    return this.latest;
  }

  firstIndex(): number {
    return this.index.firstIndex();
  }

  lastIndex(): number {
    return this.index.lastIndex();
  }

  term(index: number): number {
    return this.index.term(index);
  }

  entries(lo: number, hi: number, maxBytes?: number): StoredEntry[] {
    return this.index.entries(lo, hi, maxBytes);
  }
}

/** A {@link RaftStorage} on disk. Open with {@link FileRaftStorage.open}. */
export class FileRaftStorage extends LogIndexReads implements RaftStorage {
  protected readonly index: LogIndex;
  private readonly wal: Wal;
  private readonly snapDir: string;
  private readonly hooks: WalHooks;
  protected latest: StoredSnapshot | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  /** The running compaction (compactions run one at a time). */
  private compaction: Promise<unknown> = Promise.resolve();
  /** What the saves wrote since the running compaction took its checkpoint. */
  private capture: Capture | undefined;
  private failure: unknown;

  private constructor(
    wal: Wal,
    index: LogIndex,
    snapDir: string,
    latest: StoredSnapshot | undefined,
    hooks: WalHooks,
  ) {
    super();
    this.wal = wal;
    this.index = index;
    this.snapDir = snapDir;
    this.latest = latest;
    this.hooks = hooks;
  }

  /**
   * Opens the store in `options.dir` (created if missing) and recovers its state: see the
   * module comment. Throws `PALISADE_WAL_CORRUPT`, `PALISADE_SNAPSHOT_MISSING` when the data
   * cannot be trusted; a torn tail is repaired and reported.
   */
  static async open(
    options: FileRaftStorageOptions,
  ): Promise<{ storage: FileRaftStorage; report: OpenReport }> {
    const snapDir = join(options.dir, 'snap');
    const listing = await listSnapshots(snapDir);
    const { wal, recovery } = await Wal.open({
      dir: join(options.dir, 'wal'),
      segmentBytes: options.segmentBytes,
      maxRecordBytes: options.maxRecordBytes,
      hooks: options.hooks,
    });
    try {
      const index = replayRecords(recovery.records);
      const point = index.point();
      let snapshot: StoredSnapshot | undefined;
      const problems: unknown[] = [];
      for (const entry of listing) {
        if (entry.index < point.index) break;
        try {
          snapshot = await readSnapshot(snapDir, entry.name);
          break;
        } catch (error) {
          problems.push(error);
        }
      }
      const covers =
        snapshot !== undefined &&
        (snapshot.index > point.index ||
          (snapshot.index === point.index && snapshot.term === point.term));
      if (point.index > 0 && !covers) {
        throw new StorageError(
          'PALISADE_SNAPSHOT_MISSING',
          `the WAL starts after index ${point.index} (term ${point.term}) but no valid snapshot ` +
            `file covers it in ${snapDir}`,
          problems.length > 0 ? { cause: problems[0] } : undefined,
        );
      }
      if (snapshot) index.installSnapshot(snapshot);
      const storage = new FileRaftStorage(wal, index, snapDir, snapshot, options.hooks ?? {});
      const report = {
        truncatedBytes: recovery.truncatedBytes,
        truncatedReason: recovery.truncatedReason,
        records: recovery.records.length,
      };
      return { storage, report };
    } catch (error) {
      await wal.close();
      throw error;
    }
  }

  save(update: RaftStorageUpdate, options: RaftStorageSaveOptions = {}): Promise<void> {
    return this.serialize(async () => {
      checkUpdate(this.index, update, this.latest?.index ?? 0);
      if (update.snapshot && update.snapshot.index > this.index.point().index) {
        await writeSnapshot(this.snapDir, update.snapshot, this.hooks);
      }
      this.write(update);
      await this.wal.sync(options);
      this.applied(update);
    });
  }

  /**
   * The snapshot file (megabytes, several fsyncs) is written before the save joins the queue, so
   * that the saves of new entries are not held up by it; only its WAL marker is queued.
   */
  async saveSnapshot(snapshot: StoredSnapshot): Promise<void> {
    if (this.failure !== undefined) throw this.failure;
    checkUpdate(this.index, { snapshot }, this.latest?.index ?? 0);
    await writeSnapshot(this.snapDir, snapshot, this.hooks);
    return this.serialize(async () => {
      const update = localSnapshotUpdate(this.index, snapshot);
      checkUpdate(this.index, update, this.latest?.index ?? 0);
      this.write(update);
      await this.wal.sync();
      this.applied(update);
    });
  }

  /**
   * Writes the checkpoint segment (every retained entry) outside the queue, while saves go on;
   * then, in the queue, appends to it what those saves wrote and installs it (two fsyncs); then
   * deletes the old segments and snapshot files, outside the queue again. One compaction at a
   * time.
   */
  compact(index: number): Promise<void> {
    const run = this.compaction.then(() => this.compactNow(index));
    this.compaction = run.catch(() => undefined);
    return run;
  }

  private async compactNow(index: number): Promise<void> {
    if (this.failure !== undefined) throw this.failure;
    const point = this.index.point();
    if (index <= point.index) return;
    const snapshot = this.latest;
    if (!snapshot || index > snapshot.index) {
      throw new StorageError(
        'PALISADE_STORAGE_MISUSE',
        `cannot compact to ${index}: the latest snapshot is at ${snapshot?.index ?? 0}`,
      );
    }
    const next = new LogIndex();
    next.reset(point, this.index.hardState(), this.index.allEntries());
    next.compact(index);
    const records: WalRecord[] = [
      encodePoint(RecordType.checkpoint, next.point()),
      encodeHardState(next.hardState()),
      ...next.allEntries().map(encodeEntry),
    ];
    const taken: Capture = { last: this.index.lastIndex(), lowest: Infinity, snapshot: false };
    this.capture = taken;
    let prepared: PreparedCheckpoint;
    try {
      prepared = await this.wal.prepareCheckpoint(records);
    } catch (error) {
      this.capture = undefined;
      throw error;
    }
    const segment = await this.serialize(async () => {
      this.capture = undefined;
      if (taken.snapshot) {
        // A snapshot from the leader arrived meanwhile and may have replaced the log: the
        // checkpoint describes a state that is gone. The next compaction starts over.
        await unlink(prepared.path);
        return undefined;
      }
      // Entries saved since the checkpoint was taken (from the lowest one rewritten) and the
      // hard state in force follow it, as they followed it in the old segments.
      const from = Math.min(taken.lowest, taken.last + 1);
      const later: WalRecord[] = [
        ...this.index.entries(from, this.index.lastIndex() + 1).map(encodeEntry),
        encodeHardState(this.index.hardState()),
      ];
      const installed = await this.wal.installCheckpoint(prepared, later);
      this.index.compact(index);
      return installed;
    });
    if (segment === undefined) return;
    try {
      await this.wal.truncateBefore(segment);
      // Older snapshot files are no longer needed by anything the WAL refers to.
      const stale = (await listSnapshots(this.snapDir)).filter((s) => s.index < snapshot.index);
      for (const file of stale) await unlink(join(this.snapDir, file.name));
      if (stale.length > 0) await syncDirectory(this.snapDir);
    } catch (error) {
      this.failure ??= error;
      throw error;
    }
  }

  /** Appends the records of `update` (not yet synced), noting what a compaction must carry. */
  private write(update: RaftStorageUpdate): void {
    this.wal.append(updateRecords(update));
    const capture = this.capture;
    if (capture === undefined) return;
    if (update.snapshot) capture.snapshot = true;
    const first = update.entries?.[0];
    if (first !== undefined) capture.lowest = Math.min(capture.lowest, first.index);
  }

  /** After the sync: the in-memory state follows the disk. */
  private applied(update: RaftStorageUpdate): void {
    applyUpdate(this.index, update);
    if (update.snapshot && update.snapshot.index > (this.latest?.index ?? 0)) {
      this.latest = update.snapshot;
    }
  }

  /** The WAL segments on disk (for tests and the admin view). */
  segments(): readonly number[] {
    return this.wal.segments();
  }

  /** Waits for running writes, then closes the WAL. */
  async close(): Promise<void> {
    await this.queue.catch(() => undefined);
    await this.wal.close();
  }

  private serialize<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(async () => {
      if (this.failure !== undefined) throw this.failure;
      try {
        return await work();
      } catch (error) {
        // A misuse leaves the disk untouched (checked before writing); anything else may have
        // left it ahead of memory, so the store refuses further work until reopened.
        if (!(error instanceof StorageError && error.code === 'PALISADE_STORAGE_MISUSE')) {
          this.failure = error;
        }
        throw error;
      }
    });
    this.queue = run.catch(() => undefined);
    return run;
  }
}
