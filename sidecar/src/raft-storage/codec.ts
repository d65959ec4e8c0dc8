/**
 * The records the Raft store writes to the WAL, in a compact binary encoding: fixed-width
 * big-endian integers followed by the opaque bytes.
 *
 * Why binary and not JSON: entry data is bytes, which JSON could only carry as base64 (a third
 * larger, and an encode/decode pass on the hot path of every append), and a fixed 16-byte header
 * decodes without a parser. The CRC of the WAL frame already guards every byte, so the encoding
 * needs no redundancy of its own; a record that passes the CRC but does not decode was written by
 * something else and is reported as corruption.
 */
import { StorageError } from './errors.js';
import type { HardState, LogPoint, StoredEntry } from './log-index.js';
import type { WalRecord } from './wal.js';

/** The type tags of the Raft store's WAL records. */
export const RecordType = {
  /** [term u64][commit u64][vote UTF-8…] */
  hardState: 1,
  /** [index u64][term u64][data…] — also truncates the log from `index` on (overwrite). */
  entry: 2,
  /** [index u64][term u64] — a snapshot was saved at this point (Raft paper rule applies). */
  snapshot: 3,
  /**
   * [index u64][term u64] — the log is reset to start after this point; the hard state and every
   * retained entry follow in the same segment, so every earlier segment may be deleted.
   */
  checkpoint: 4,
} as const;

const U64_HIGH_LIMIT = 2 ** 21; // MAX_SAFE_INTEGER = 2^53 - 1

function putU64(view: DataView, offset: number, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`expected a non-negative safe integer, got ${value}`);
  }
  view.setUint32(offset, Math.floor(value / 2 ** 32));
  view.setUint32(offset + 4, value >>> 0);
}

function getU64(view: DataView, offset: number): number {
  const high = view.getUint32(offset);
  if (high >= U64_HIGH_LIMIT) throw corrupt('integer beyond 2^53');
  return high * 2 ** 32 + view.getUint32(offset + 4);
}

function corrupt(reason: string): StorageError {
  return new StorageError('PALISADE_WAL_CORRUPT', `undecodable WAL record: ${reason}`);
}

function header(size: number): { bytes: Uint8Array; view: DataView } {
  const bytes = new Uint8Array(size);
  return { bytes, view: new DataView(bytes.buffer) };
}

function readView(payload: Uint8Array, minimum: number): DataView {
  if (payload.byteLength < minimum) throw corrupt(`payload of ${payload.byteLength} bytes`);
  return new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
}

/** Encodes a hard state. */
export function encodeHardState(state: HardState): WalRecord {
  const vote = Buffer.from(state.vote, 'utf8');
  const { bytes, view } = header(16 + vote.byteLength);
  putU64(view, 0, state.term);
  putU64(view, 8, state.commit);
  bytes.set(vote, 16);
  return { type: RecordType.hardState, payload: bytes };
}

/** Decodes a hard-state payload. */
export function decodeHardState(payload: Uint8Array): HardState {
  const view = readView(payload, 16);
  const vote = Buffer.from(payload.buffer, payload.byteOffset + 16, payload.byteLength - 16);
  return { term: getU64(view, 0), commit: getU64(view, 8), vote: vote.toString('utf8') };
}

/** Encodes an entry. */
export function encodeEntry(entry: StoredEntry): WalRecord {
  const { bytes, view } = header(16 + entry.data.byteLength);
  putU64(view, 0, entry.index);
  putU64(view, 8, entry.term);
  bytes.set(entry.data, 16);
  return { type: RecordType.entry, payload: bytes };
}

/** Decodes an entry payload (the data is a view into `payload`). */
export function decodeEntry(payload: Uint8Array): StoredEntry {
  const view = readView(payload, 16);
  return { index: getU64(view, 0), term: getU64(view, 8), data: payload.subarray(16) };
}

/** Encodes a snapshot or checkpoint marker. */
export function encodePoint(
  type: typeof RecordType.snapshot | typeof RecordType.checkpoint,
  point: LogPoint,
): WalRecord {
  const { bytes, view } = header(16);
  putU64(view, 0, point.index);
  putU64(view, 8, point.term);
  return { type, payload: bytes };
}

/** Decodes a snapshot or checkpoint marker payload. */
export function decodePoint(payload: Uint8Array): LogPoint {
  const view = readView(payload, 16);
  if (payload.byteLength !== 16) throw corrupt(`marker of ${payload.byteLength} bytes`);
  return { index: getU64(view, 0), term: getU64(view, 8) };
}
