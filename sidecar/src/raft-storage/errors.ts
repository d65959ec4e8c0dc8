/**
 * Errors raised by the write-ahead log and the Raft store. Each has a stable `code` that callers
 * branch on (never the message) and, where an I/O failure caused it, that failure as `cause`.
 */

/** Why the WAL or the Raft store refused or failed. */
export type StorageErrorCode =
  /**
   * A record that was once complete no longer checks out: a CRC mismatch or an impossible length
   * before the end of the last segment, or a missing segment. Never repaired automatically,
   * because repairing would silently drop acknowledged writes.
   */
  | 'PALISADE_WAL_CORRUPT'
  /**
   * A write or fsync failed. The log is unusable from then on (after a failed fsync the page
   * cache no longer tells what is on disk); the process should exit and recover by replay.
   */
  | 'PALISADE_WAL_FAILED'
  /** The log or the store was used after `close()`. */
  | 'PALISADE_WAL_CLOSED'
  /** One record is larger than the configured maximum. */
  | 'PALISADE_WAL_RECORD_TOO_LARGE'
  /** A snapshot file exists but its checksum, header or name does not check out. */
  | 'PALISADE_SNAPSHOT_CORRUPT'
  /** The WAL refers to a snapshot that is not on disk (or is corrupt): entries are missing. */
  | 'PALISADE_SNAPSHOT_MISSING'
  /** The requested entries were compacted into a snapshot. */
  | 'PALISADE_STORAGE_COMPACTED'
  /** The requested entries are beyond the end of the log. */
  | 'PALISADE_STORAGE_UNAVAILABLE'
  /** The caller broke the contract: a gap in appended indexes, compaction past the snapshot… */
  | 'PALISADE_STORAGE_MISUSE';

/** A failure of the WAL, the snapshot files or the Raft store built on them. */
export class StorageError extends Error {
  override readonly name = 'StorageError';

  constructor(
    readonly code: StorageErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
