/**
 * Snapshot files: `snapshot-<term>-<index>.snap` (16-digit decimals, so a listing sorts), laid
 * out as
 *
 *     ["PSNP"][version u8 = 1][3 zero bytes][crc32 u32 BE over the rest][index u64][term u64][data]
 *
 * Written atomically: to `<name>.tmp`, fsync, rename over the final name, fsync the directory.
 * A crash leaves either no file or a complete one (plus, possibly, a stale `.tmp` that the next
 * open deletes). The CRC inside catches later damage; the name is checked against the header.
 */
import { open, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { StorageError } from './errors.js';
import type { StoredSnapshot } from './log-index.js';
import { makeDirectory, syncDirectory, type WalHooks } from './wal.js';

const MAGIC = Buffer.from('PSNP', 'latin1');
const VERSION = 1;
const HEADER_BYTES = 28;
const SNAPSHOT_NAME = /^snapshot-(\d{16})-(\d{16})\.snap$/;

/** The file name of the snapshot at (`term`, `index`). */
export function snapshotFileName(term: number, index: number): string {
  return `snapshot-${String(term).padStart(16, '0')}-${String(index).padStart(16, '0')}.snap`;
}

/** Encodes a snapshot file's content. */
export function encodeSnapshotFile(snapshot: StoredSnapshot): Buffer {
  const file = Buffer.alloc(HEADER_BYTES + snapshot.data.byteLength);
  MAGIC.copy(file, 0);
  file[4] = VERSION;
  file.writeUInt32BE(Math.floor(snapshot.index / 2 ** 32), 12);
  file.writeUInt32BE(snapshot.index >>> 0, 16);
  file.writeUInt32BE(Math.floor(snapshot.term / 2 ** 32), 20);
  file.writeUInt32BE(snapshot.term >>> 0, 24);
  file.set(snapshot.data, HEADER_BYTES);
  file.writeUInt32BE(crc32(file.subarray(12)), 8);
  return file;
}

/** Decodes a snapshot file; throws `PALISADE_SNAPSHOT_CORRUPT` if anything does not check out. */
export function decodeSnapshotFile(file: Buffer, name: string): StoredSnapshot {
  const fail = (reason: string): never => {
    throw new StorageError('PALISADE_SNAPSHOT_CORRUPT', `snapshot ${name}: ${reason}`);
  };
  if (file.byteLength < HEADER_BYTES) fail(`only ${file.byteLength} bytes`);
  if (!file.subarray(0, 4).equals(MAGIC)) fail('bad magic');
  if (file[4] !== VERSION) fail(`unknown version ${file[4]}`);
  if (crc32(file.subarray(12)) !== file.readUInt32BE(8)) fail('checksum mismatch');
  const index = file.readUInt32BE(12) * 2 ** 32 + file.readUInt32BE(16);
  const term = file.readUInt32BE(20) * 2 ** 32 + file.readUInt32BE(24);
  if (name !== snapshotFileName(term, index)) fail(`header says term ${term} index ${index}`);
  return { index, term, data: file.subarray(HEADER_BYTES) };
}

/** The snapshot files in a directory, newest (highest index, then term) first. */
export interface SnapshotListing {
  readonly name: string;
  readonly index: number;
  readonly term: number;
}

/** Lists `dir`'s snapshot files, newest first, deleting leftover temporary files. */
export async function listSnapshots(dir: string): Promise<SnapshotListing[]> {
  await makeDirectory(dir);
  const listing: SnapshotListing[] = [];
  for (const name of await readdir(dir)) {
    if (name.startsWith('snapshot-') && name.endsWith('.snap.tmp')) {
      await unlink(join(dir, name));
      continue;
    }
    const match = SNAPSHOT_NAME.exec(name);
    if (match) listing.push({ name, term: Number(match[1]), index: Number(match[2]) });
  }
  return listing.sort((a, b) => b.index - a.index || b.term - a.term);
}

/** Reads and checks one snapshot file. */
export async function readSnapshot(dir: string, name: string): Promise<StoredSnapshot> {
  return decodeSnapshotFile(await readFile(join(dir, name)), name);
}

/** Writes a snapshot file atomically and durably (see the module comment). */
export async function writeSnapshot(
  dir: string,
  snapshot: StoredSnapshot,
  hooks: WalHooks = {},
): Promise<string> {
  const name = snapshotFileName(snapshot.term, snapshot.index);
  const temporary = join(dir, `${name}.tmp`);
  const handle = await open(temporary, 'w');
  try {
    const content = encodeSnapshotFile(snapshot);
    let offset = 0;
    while (offset < content.byteLength) {
      const { bytesWritten } = await handle.write(content, offset, content.byteLength - offset);
      offset += bytesWritten;
    }
    await hooks.beforeFsync?.({ kind: 'file', path: temporary });
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temporary, join(dir, name));
  await hooks.beforeFsync?.({ kind: 'directory', path: dir });
  await syncDirectory(dir);
  return name;
}
