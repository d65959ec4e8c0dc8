/**
 * An append-only, segmented write-ahead log of opaque records.
 *
 * On disk: a directory of segment files named `<seq>.wal` (`seq` a 16-digit decimal, 1, 2, …),
 * each a sequence of frames
 *
 *     [length u32 LE][crc32 u32 LE over type+payload][type u8][payload]
 *
 * where `length` counts type+payload. There is no header and no preallocation, so the end of the
 * last segment is either the end of a frame or a torn write.
 *
 * Durability contract: {@link Wal.append} only encodes and buffers; nothing is on disk, and
 * nothing may be acknowledged or sent, until the {@link Wal.sync} that follows has resolved. One
 * `sync()` writes every buffered record with one synchronous write per segment touched (segments
 * are open with `O_DSYNC`: the write returns once its data and the file size it adds are on disk,
 * as a write followed by `fdatasync` — in one system call, made on the event loop's own thread,
 * see {@link writeAllInline}), plus one fsync of the directory when it created a segment (so the
 * new file's name is durable too). A failed write or fsync makes the log unusable (`PALISADE_WAL_FAILED`): after a
 * failed fsync the kernel may have dropped the dirty pages, so retrying could report success for
 * data that is not on disk.
 *
 * Recovery ({@link Wal.open}) reads every segment in order. A bad frame at the end of the last
 * segment is a write that was cut short by a crash (it was never acknowledged) and is truncated;
 * anything else that does not check out is corruption and raises `PALISADE_WAL_CORRUPT`. See
 * {@link scanSegment} for the exact rule.
 */
import { constants, writeSync } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { crc32 } from 'node:zlib';
import { StorageError } from './errors.js';

/** One record: a type tag the caller defines (0–255) and opaque bytes. */
export interface WalRecord {
  readonly type: number;
  readonly payload: Uint8Array;
}

/** A record read back at recovery, with the segment it was found in. */
export interface ReplayedRecord extends WalRecord {
  readonly segment: number;
}

/** What recovery found, besides the records. */
export interface WalRecovery {
  /** The records of every segment, in append order. */
  readonly records: ReplayedRecord[];
  /** Bytes cut from the end of the last segment (0 after a clean shutdown). */
  readonly truncatedBytes: number;
  /** Why those bytes were cut, when some were. */
  readonly truncatedReason: string | undefined;
}

/** What a {@link WalHooks.beforeFsync} call is about to make durable. */
export interface FsyncTarget {
  readonly kind: 'file' | 'directory';
  readonly path: string;
}

/**
 * Observation points for tests: hold or fail an fsync to check that nothing is treated as durable
 * before it. Production passes none.
 */
export interface WalHooks {
  /**
   * Awaited before each durable step: a segment's synchronous (`O_DSYNC`) write, an
   * fdatasync/fsync. A throw is handled like a failed fsync.
   */
  beforeFsync?(target: FsyncTarget): Promise<void> | void;
}

/** Options of {@link Wal.open}. */
export interface WalOptions {
  /** The directory of the segments; created if missing. Owned exclusively by this log. */
  readonly dir: string;
  /**
   * A segment is closed and the next one started when a record would take it past this size
   * (default 16 MiB). A record larger than this gets a segment of its own.
   */
  readonly segmentBytes?: number;
  /** Largest record payload accepted (default 64 MiB); also bounds lengths read at recovery. */
  readonly maxRecordBytes?: number;
  readonly hooks?: WalHooks;
}

/**
 * How the segment being appended to is open: each write is durable when it returns (`O_DSYNC`,
 * data-integrity completion: the data and the metadata needed to read it back, i.e. the new file
 * size — what `fdatasync` guarantees). A sync is then one write system call rather than a write
 * and an `fdatasync`: on the thread pool each was a round trip between the event loop and a pool
 * thread, and on a loaded machine every such wake-up waits for a CPU (0.2–0.4 ms at the median,
 * > 1 ms at p90, of a lease acquire's latency, on the leader and again on the follower).
 */
const SEGMENT_APPEND = constants.O_WRONLY | constants.O_APPEND | constants.O_DSYNC;

/** Bytes before the type byte of each frame: length and checksum. */
export const FRAME_HEADER_BYTES = 8;

const DEFAULT_SEGMENT_BYTES = 16 * 1024 * 1024;
const DEFAULT_MAX_RECORD_BYTES = 64 * 1024 * 1024;
const SEGMENT_NAME = /^(\d{16})\.wal$/;

/** The file name of segment `seq`. */
export function segmentFileName(seq: number): string {
  return `${String(seq).padStart(16, '0')}.wal`;
}

/** Encodes one record as a frame. */
export function encodeFrame(record: WalRecord): Buffer {
  const { type, payload } = record;
  if (!Number.isInteger(type) || type < 0 || type > 255) {
    throw new RangeError(`WAL record type must be an integer in [0, 255], got ${type}`);
  }
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + 1 + payload.byteLength);
  frame.writeUInt32LE(1 + payload.byteLength, 0);
  frame[FRAME_HEADER_BYTES] = type;
  frame.set(payload, FRAME_HEADER_BYTES + 1);
  frame.writeUInt32LE(crc32(frame.subarray(FRAME_HEADER_BYTES)), 4);
  return frame;
}

/**
 * The outcome of scanning one segment: the intact records before the first problem, where that
 * problem starts, and whether it looks like a torn write (`torn`) or damage to data that was
 * once complete (`corrupt`).
 */
export type SegmentScan =
  | { readonly kind: 'clean'; readonly records: WalRecord[]; readonly validBytes: number }
  | {
      readonly kind: 'torn' | 'corrupt';
      readonly records: WalRecord[];
      readonly validBytes: number;
      readonly reason: string;
    };

/**
 * Reads the frames of one segment. A problem is classified `torn` when it can only be the last,
 * interrupted write of this file:
 * - fewer than 8 bytes left (a partial header);
 * - a frame whose declared length runs past the end of the file (a partial frame);
 * - a frame with a bad checksum that ends exactly at the end of the file (its last sectors did
 *   not reach the disk);
 * - a zero-filled rest of file (the file grew but the data blocks were not written).
 *
 * Anything else — a checksum mismatch or an impossible length with more data after it — is
 * `corrupt`. The caller applies the `torn` rule only to the last segment: earlier segments were
 * fsynced before a later one was created, so they cannot end in a torn write.
 *
 * Known limit: if the disk reorders the sectors of one multi-frame write and a crash lands in
 * between, a damaged frame can be followed by intact ones; that is reported as corruption
 * (a refusal to start that needs an operator), never as silent loss.
 */
export function scanSegment(bytes: Uint8Array, maxRecordBytes: number): SegmentScan {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const size = buffer.byteLength;
  const records: WalRecord[] = [];
  let offset = 0;
  while (offset < size) {
    const problem = (kind: 'torn' | 'corrupt', reason: string): SegmentScan => ({
      kind,
      records,
      validBytes: offset,
      reason: `${reason} at byte ${offset}`,
    });
    if (size - offset < FRAME_HEADER_BYTES) return problem('torn', 'partial frame header');
    const length = buffer.readUInt32LE(offset);
    const end = offset + FRAME_HEADER_BYTES + length;
    if (length === 0 || length > maxRecordBytes + 1) {
      if (isZero(buffer, offset)) return problem('torn', 'zero-filled tail');
      if (end > size) return problem('torn', `partial frame (length ${length})`);
      return problem('corrupt', `impossible frame length ${length}`);
    }
    if (end > size) return problem('torn', `partial frame (length ${length})`);
    const body = buffer.subarray(offset + FRAME_HEADER_BYTES, end);
    if (crc32(body) !== buffer.readUInt32LE(offset + 4)) {
      return problem(end === size ? 'torn' : 'corrupt', 'checksum mismatch');
    }
    // Copy: the caller may keep records long after the segment buffer is gone.
    records.push({ type: body[0] ?? 0, payload: Uint8Array.prototype.slice.call(body, 1) });
    offset = end;
  }
  return { kind: 'clean', records, validBytes: offset };
}

function isZero(buffer: Buffer, from: number): boolean {
  for (let i = from; i < buffer.byteLength; i++) if (buffer[i] !== 0) return false;
  return true;
}

/** A checkpoint written by {@link Wal.prepareCheckpoint}, durable, not yet part of the log. */
export interface PreparedCheckpoint {
  /** The temporary file. */
  readonly path: string;
  /** Its size. */
  readonly bytes: number;
}

interface PendingGroup {
  readonly seq: number;
  readonly create: boolean;
  readonly frames: Buffer[];
  bytes: number;
}

/** The write-ahead log. Create with {@link Wal.open}; see the module comment for the contract. */
export class Wal {
  private readonly dir: string;
  private readonly segmentBytes: number;
  private readonly maxRecordBytes: number;
  private readonly hooks: WalHooks;
  /** Segments on disk (or being created by the running sync), ascending. */
  private readonly segmentList: number[];
  private file: FileHandle | undefined;
  private fileSeq: number;
  /** Sequence and size of the segment the next append goes to, counting buffered frames. */
  private tailSeq: number;
  private tailBytes: number;
  private pending: PendingGroup[] = [];
  /** Checkpoint files prepared so far: names them uniquely. */
  private checkpoints = 0;
  private queue: Promise<unknown> = Promise.resolve();
  private failure: StorageError | undefined;
  private closed = false;

  private constructor(options: WalOptions, segments: number[], file: FileHandle, size: number) {
    this.dir = options.dir;
    this.segmentBytes = options.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
    this.maxRecordBytes = options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
    this.hooks = options.hooks ?? {};
    this.segmentList = segments;
    this.file = file;
    this.fileSeq = segments[segments.length - 1] ?? 1;
    this.tailSeq = this.fileSeq;
    this.tailBytes = size;
  }

  /**
   * Opens (creating if needed) the log in `options.dir`, reads every record back, truncates a
   * torn tail of the last segment (and fsyncs the truncation), and returns the log positioned
   * for appending. Throws `PALISADE_WAL_CORRUPT` for damage anywhere else.
   */
  static async open(options: WalOptions): Promise<{ wal: Wal; recovery: WalRecovery }> {
    const maxRecordBytes = options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
    const hooks = options.hooks ?? {};
    await makeDirectory(options.dir);
    const names = await readdir(options.dir);
    // A checkpoint not installed (a crash before its rename): the old segments are all still there.
    for (const name of names.filter((n) => n.endsWith('.wal.tmp'))) {
      await unlink(join(options.dir, name));
    }
    const segments = names
      .map((name) => SEGMENT_NAME.exec(name)?.[1])
      .filter((seq): seq is string => seq !== undefined)
      .map(Number)
      .sort((a, b) => a - b);

    const records: ReplayedRecord[] = [];
    let truncatedBytes = 0;
    let truncatedReason: string | undefined;
    let tailSize = 0;
    for (const [position, seq] of segments.entries()) {
      const path = join(options.dir, segmentFileName(seq));
      const bytes = await readFile(path);
      const scan = scanSegment(bytes, maxRecordBytes);
      const last = position === segments.length - 1;
      if (scan.kind === 'corrupt' || (scan.kind === 'torn' && !last)) {
        throw new StorageError(
          'PALISADE_WAL_CORRUPT',
          `WAL segment ${segmentFileName(seq)} in ${options.dir}: ${scan.reason}`,
        );
      }
      for (const record of scan.records) records.push({ ...record, segment: seq });
      if (scan.kind === 'torn') {
        truncatedBytes = bytes.byteLength - scan.validBytes;
        truncatedReason = scan.reason;
        const handle = await open(path, 'r+');
        try {
          await handle.truncate(scan.validBytes);
          await hooks.beforeFsync?.({ kind: 'file', path });
          await handle.sync();
        } finally {
          await handle.close();
        }
      }
      if (last) tailSize = scan.validBytes;
    }

    let created = false;
    if (segments.length === 0) {
      segments.push(1);
      created = true;
    }
    const tailSeq = segments[segments.length - 1] ?? 1;
    const tailPath = join(options.dir, segmentFileName(tailSeq));
    const file = await open(tailPath, SEGMENT_APPEND | constants.O_CREAT);
    if (created) {
      try {
        await hooks.beforeFsync?.({ kind: 'directory', path: options.dir });
        await syncDirectory(options.dir);
      } catch (error) {
        await file.close();
        throw error;
      }
    }
    const wal = new Wal(options, segments, file, tailSize);
    return { wal, recovery: { records, truncatedBytes, truncatedReason } };
  }

  /**
   * Encodes and buffers `records` after everything appended so far. Nothing reaches the disk
   * until {@link sync}. Throws `PALISADE_WAL_RECORD_TOO_LARGE` (appending nothing) if one record
   * exceeds the maximum.
   */
  append(records: readonly WalRecord[]): void {
    this.assertUsable();
    const frames = records.map((record) => this.frame(record));
    for (const frame of frames) {
      let group = this.pending[this.pending.length - 1];
      if (this.tailBytes > 0 && this.tailBytes + frame.byteLength > this.segmentBytes) {
        this.tailSeq += 1;
        this.tailBytes = 0;
        group = { seq: this.tailSeq, create: true, frames: [], bytes: 0 };
        this.pending.push(group);
      } else if (group === undefined) {
        group = { seq: this.tailSeq, create: false, frames: [], bytes: 0 };
        this.pending.push(group);
      }
      group.frames.push(frame);
      group.bytes += frame.byteLength;
      this.tailBytes += frame.byteLength;
    }
  }

  /**
   * Writes and fsyncs everything appended before this call. Resolves once it is durable; only
   * then may the caller act on it. Calls are serialized. The write is made on the calling
   * thread, blocking the event loop for it ({@link writeAllInline}), unless `background`: then
   * on a libuv pool thread, and the loop goes on meanwhile (a Raft leader, see
   * `RaftStorageSaveOptions`).
   */
  sync(options: { readonly background?: boolean } = {}): Promise<void> {
    this.assertUsable();
    const groups = this.pending;
    this.pending = [];
    return this.serialize(() => this.writeGroups(groups, options.background === true));
  }

  /**
   * The slow half of a compaction, outside the queue of syncs (appends and syncs go on
   * meanwhile): writes `records` — a checkpoint that describes the whole state, see
   * {@link installCheckpoint} — to a new temporary file and makes it durable. Nothing refers to
   * the file until it is installed; recovery deletes it (`*.wal.tmp`).
   */
  async prepareCheckpoint(records: readonly WalRecord[]): Promise<PreparedCheckpoint> {
    this.assertUsable();
    const content = Buffer.concat(records.map((record) => this.frame(record)));
    this.checkpoints += 1;
    const path = join(this.dir, `checkpoint-${this.checkpoints}.wal.tmp`);
    const handle = await open(path, 'wx');
    try {
      await writeAll(handle, content);
      await this.hooks.beforeFsync?.({ kind: 'file', path });
      await handle.datasync();
    } finally {
      await handle.close();
    }
    return { path, bytes: content.byteLength };
  }

  /**
   * The quick half, serialized with syncs: syncs what was appended before, appends `later`
   * (whatever was written to the log since the checkpoint's records were taken) to the prepared
   * file durably, then makes it the next segment: renamed to its segment name, directory
   * fsynced. A crash leaves the new segment either absent (the old segments are complete) or
   * complete, so its records can describe the whole state and every older segment can then go
   * ({@link truncateBefore}). Later appends follow in the same segment. Resolves with the new
   * segment's number.
   */
  installCheckpoint(prepared: PreparedCheckpoint, later: readonly WalRecord[]): Promise<number> {
    this.assertUsable();
    const tail = Buffer.concat(later.map((record) => this.frame(record)));
    const before = this.pending;
    this.pending = [];
    const seq = this.tailSeq + 1;
    this.tailSeq = seq;
    this.tailBytes = prepared.bytes + tail.byteLength;
    return this.serialize(async () => {
      await this.writeGroups(before);
      if (tail.byteLength > 0) {
        const handle = await open(prepared.path, SEGMENT_APPEND);
        try {
          await this.hooks.beforeFsync?.({ kind: 'file', path: prepared.path });
          writeAllInline(handle, tail);
        } finally {
          await handle.close();
        }
      }
      const path = join(this.dir, segmentFileName(seq));
      await rename(prepared.path, path);
      await this.file?.close();
      this.file = undefined;
      this.file = await open(path, SEGMENT_APPEND);
      this.fileSeq = seq;
      this.segmentList.push(seq);
      await this.syncDirectory();
      return seq;
    });
  }

  /**
   * Deletes every segment numbered below `seq` (never the segment being appended to), newest
   * first, then fsyncs the directory. Newest first, so that a crash half-way leaves a gap after
   * the oldest segments rather than a log that starts in the middle. Outside the queue of syncs:
   * those segments are complete and no sync writes to them. Resolves with the number deleted.
   */
  async truncateBefore(seq: number): Promise<number> {
    this.assertUsable();
    try {
      const doomed = this.segmentList.filter((s) => s < seq && s < this.fileSeq).reverse();
      for (const s of doomed) {
        await unlink(join(this.dir, segmentFileName(s)));
        this.segmentList.splice(this.segmentList.indexOf(s), 1);
      }
      if (doomed.length > 0) await this.syncDirectory();
      return doomed.length;
    } catch (error) {
      throw this.poison(error);
    }
  }

  /** The segments on disk, ascending. */
  segments(): readonly number[] {
    return [...this.segmentList];
  }

  /** The segment the next appended record goes to. */
  currentSegment(): number {
    return this.tailSeq;
  }

  /** Bytes appended but not yet handed to a {@link sync}. */
  bufferedBytes(): number {
    let bytes = 0;
    for (const group of this.pending) bytes += group.bytes;
    return bytes;
  }

  /**
   * Waits for running syncs, then closes the file. Records appended since the last sync are
   * discarded, exactly as a crash would: call {@link sync} first to keep them.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.pending = [];
    await this.queue.catch(() => undefined);
    await this.file?.close();
    this.file = undefined;
  }

  private frame(record: WalRecord): Buffer {
    if (record.payload.byteLength > this.maxRecordBytes) {
      throw new StorageError(
        'PALISADE_WAL_RECORD_TOO_LARGE',
        `WAL record of ${record.payload.byteLength} bytes exceeds ${this.maxRecordBytes}`,
      );
    }
    return encodeFrame(record);
  }

  private assertUsable(): void {
    if (this.closed) throw new StorageError('PALISADE_WAL_CLOSED', 'WAL is closed');
    if (this.failure) throw this.failure;
  }

  private serialize<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(async () => {
      if (this.failure) throw this.failure;
      try {
        return await work();
      } catch (error) {
        throw this.poison(error);
      }
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Makes the log unusable after a failed write or fsync; the error to throw. */
  private poison(error: unknown): StorageError {
    if (error instanceof StorageError && error.code === 'PALISADE_WAL_FAILED') return error;
    this.failure ??= new StorageError(
      'PALISADE_WAL_FAILED',
      `WAL write failed in ${this.dir}; the log is unusable until reopened`,
      { cause: error },
    );
    return this.failure;
  }

  private async writeGroups(groups: readonly PendingGroup[], background = false): Promise<void> {
    let created = false;
    for (const group of groups) {
      if (group.create) {
        // The previous segment is complete and was made durable by the iteration that wrote it
        // (or by an earlier sync), so it can never end in a torn write.
        await this.file?.close();
        this.file = undefined;
        const path = join(this.dir, segmentFileName(group.seq));
        this.file = await open(path, SEGMENT_APPEND | constants.O_CREAT | constants.O_EXCL);
        this.fileSeq = group.seq;
        this.segmentList.push(group.seq);
        created = true;
      }
      const file = this.file;
      if (file === undefined) throw new Error('WAL has no open segment');
      const only = group.frames.length === 1 ? group.frames[0] : undefined;
      await this.hooks.beforeFsync?.({
        kind: 'file',
        path: join(this.dir, segmentFileName(this.fileSeq)),
      });
      const frames = only ?? Buffer.concat(group.frames);
      // O_DSYNC: durable on return, either way.
      if (background) await writeAll(file, frames);
      else writeAllInline(file, frames);
    }
    if (created) await this.syncDirectory();
  }

  private async syncDirectory(): Promise<void> {
    await this.hooks.beforeFsync?.({ kind: 'directory', path: this.dir });
    await syncDirectory(this.dir);
  }
}

/**
 * Writes `buffer` to a segment on the calling thread (`writeSync` on the handle's descriptor),
 * blocking the event loop until the write — durable on return, the segment being `O_DSYNC` — is
 * done. Through the thread pool the same write costs two thread hand-offs (event loop → pool
 * thread → event loop), each a wake-up that waits for a CPU on a busy host, on the leader and on
 * every follower of each commit; inline, the disk's own time (≈ 0.2–0.8 ms) is all the loop
 * waits, as Redis does with `appendfsync always`. Nothing else the loop could do meanwhile is
 * urgent: a request that arrives during the write joins the next Ready's batch either way.
 */
function writeAllInline(file: FileHandle, buffer: Buffer): void {
  let offset = 0;
  while (offset < buffer.byteLength) {
    const bytesWritten = writeSync(file.fd, buffer, offset, buffer.byteLength - offset);
    if (bytesWritten <= 0) throw new Error('write made no progress');
    offset += bytesWritten;
  }
}

async function writeAll(file: FileHandle, buffer: Buffer): Promise<void> {
  let offset = 0;
  while (offset < buffer.byteLength) {
    const { bytesWritten } = await file.write(buffer, offset, buffer.byteLength - offset);
    if (bytesWritten <= 0) throw new Error('write made no progress');
    offset += bytesWritten;
  }
}

/**
 * Creates `dir` (and missing parents) and fsyncs the parent of each directory created, so that
 * the new directory's name is durable before anything inside it is relied on.
 */
export async function makeDirectory(dir: string): Promise<void> {
  const created = await mkdir(dir, { recursive: true });
  if (created === undefined) return;
  let path = dir;
  for (;;) {
    const parent = dirname(path);
    await syncDirectory(parent);
    if (path === created || parent === path) return;
    path = parent;
  }
}

/** fsyncs a directory, making the creation, rename or deletion of its entries durable. */
export async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
