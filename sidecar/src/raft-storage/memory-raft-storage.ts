/**
 * A {@link RaftStorage} held in memory, with the same update rules as the file store (both wrap
 * {@link LogIndex}), for deterministic simulations. By default every save is durable at once.
 * With `manualSync`, saves wait in a queue until {@link MemoryRaftStorage.flush} (the simulated
 * fsync), and {@link MemoryRaftStorage.crash} loses whatever has not been flushed — the
 * "crash with unsynced writes" fault.
 */
import { StorageError } from './errors.js';
import { LogIndex, type StoredSnapshot } from './log-index.js';
import {
  LogIndexReads,
  applyUpdate,
  checkUpdate,
  localSnapshotUpdate,
  type RaftStorage,
  type RaftStorageUpdate,
  type RecoveredState,
} from './raft-storage.js';

/** Options of {@link MemoryRaftStorage}. */
export interface MemoryRaftStorageOptions {
  /** Hold saves until `flush()` (default false: saves resolve immediately). */
  readonly manualSync?: boolean;
}

interface QueuedSave {
  /** The update, made when the save is applied. */
  readonly update: () => RaftStorageUpdate;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/** See the module comment. */
export class MemoryRaftStorage extends LogIndexReads implements RaftStorage {
  protected index = new LogIndex();
  protected latest: StoredSnapshot | undefined;
  private readonly manualSync: boolean;
  private queued: QueuedSave[] = [];

  constructor(options: MemoryRaftStorageOptions = {}) {
    super();
    this.manualSync = options.manualSync ?? false;
  }

  save(update: RaftStorageUpdate): Promise<void> {
    return this.enqueue(() => update);
  }

  private enqueue(update: () => RaftStorageUpdate): Promise<void> {
    if (!this.manualSync) {
      try {
        this.apply(update());
        return Promise.resolve();
      } catch (error) {
        return Promise.reject(error);
      }
    }
    return new Promise((resolve, reject) => this.queued.push({ update, resolve, reject }));
  }

  saveSnapshot(snapshot: StoredSnapshot): Promise<void> {
    // The hard state that goes with it is the one in force when the save is applied.
    return this.enqueue(() => localSnapshotUpdate(this.index, snapshot));
  }

  /** Makes every queued save durable, in order, and resolves their promises. */
  flush(): void {
    const queued = this.queued;
    this.queued = [];
    for (const save of queued) {
      try {
        this.apply(save.update());
        save.resolve();
      } catch (error) {
        save.reject(error);
      }
    }
  }

  /** Saves waiting for `flush()`. */
  pendingSaves(): number {
    return this.queued.length;
  }

  /**
   * Simulates a crash: queued saves are lost (their promises reject with `PALISADE_WAL_CLOSED`,
   * as the process that awaited them is gone) and the durable state is returned, as a restart
   * would recover it.
   */
  crash(): RecoveredState {
    const lost = this.queued;
    this.queued = [];
    for (const save of lost) {
      save.reject(new StorageError('PALISADE_WAL_CLOSED', 'crashed before the save was durable'));
    }
    return this.state();
  }

  async compact(index: number): Promise<void> {
    if (index <= this.index.point().index) return;
    if (!this.latest || index > this.latest.index) {
      throw new StorageError(
        'PALISADE_STORAGE_MISUSE',
        `cannot compact to ${index}: the latest snapshot is at ${this.latest?.index ?? 0}`,
      );
    }
    this.index.compact(index);
  }

  async close(): Promise<void> {
    this.crash();
  }

  private apply(update: RaftStorageUpdate): void {
    checkUpdate(this.index, update, this.latest?.index ?? 0);
    applyUpdate(this.index, update);
    if (update.snapshot && update.snapshot.index > (this.latest?.index ?? 0)) {
      this.latest = update.snapshot;
    }
  }
}
