/**
 * Durable storage of the Raft driver: a segmented write-ahead log, snapshot files, and a
 * Raft-shaped store built on them (plus an in-memory twin for simulations).
 */
export { StorageError, type StorageErrorCode } from './errors.js';
export {
  Wal,
  encodeFrame,
  scanSegment,
  segmentFileName,
  FRAME_HEADER_BYTES,
  type FsyncTarget,
  type PreparedCheckpoint,
  type ReplayedRecord,
  type SegmentScan,
  type WalHooks,
  type WalOptions,
  type WalRecord,
  type WalRecovery,
} from './wal.js';
export {
  EMPTY_HARD_STATE,
  LogIndex,
  type HardState,
  type LogPoint,
  type StoredEntry,
  type StoredSnapshot,
} from './log-index.js';
export {
  FileRaftStorage,
  type FileRaftStorageOptions,
  type OpenReport,
  type RaftStorage,
  type RaftStorageSaveOptions,
  type RaftStorageUpdate,
  type RecoveredState,
} from './raft-storage.js';
export { MemoryRaftStorage, type MemoryRaftStorageOptions } from './memory-raft-storage.js';
export { snapshotFileName } from './snapshot-file.js';
