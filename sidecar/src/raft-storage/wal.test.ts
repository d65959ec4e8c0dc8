import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StorageError } from './errors.js';
import {
  encodeFrame,
  scanSegment,
  segmentFileName,
  Wal,
  type FsyncTarget,
  type WalRecord,
} from './wal.js';

/** XORs one byte of a buffer in place (simulated bit rot). */
function flip(buffer: Buffer, offset: number, mask: number): void {
  buffer.writeUInt8(buffer.readUInt8(offset) ^ mask, offset);
}

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'palisade-wal-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function record(n: number, size = 8): WalRecord {
  const payload = new Uint8Array(size);
  for (let i = 0; i < size; i++) payload[i] = (n * 31 + i) & 0xff;
  return { type: (n % 3) + 1, payload };
}

function plain(records: readonly WalRecord[]): Array<{ type: number; payload: number[] }> {
  return records.map((r) => ({ type: r.type, payload: [...r.payload] }));
}

async function writeRecords(options: { segmentBytes?: number }, batches: WalRecord[][]) {
  const { wal } = await Wal.open({ dir, ...options });
  for (const batch of batches) {
    wal.append(batch);
    await wal.sync();
  }
  const segments = wal.segments();
  await wal.close();
  return segments;
}

async function expectCode(promise: Promise<unknown>, code: string): Promise<StorageError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(StorageError);
  expect((error as StorageError).code).toBe(code);
  return error as StorageError;
}

describe('frames', () => {
  it('encodes [length][crc][type][payload] and scans back', () => {
    const frame = encodeFrame({ type: 7, payload: new Uint8Array([1, 2, 3]) });
    expect(frame.readUInt32LE(0)).toBe(4);
    expect(frame[8]).toBe(7);
    expect([...frame.subarray(9)]).toEqual([1, 2, 3]);
    const scan = scanSegment(frame, 1024);
    expect(scan.kind).toBe('clean');
    expect(plain(scan.records)).toEqual([{ type: 7, payload: [1, 2, 3] }]);
  });

  it('rejects a type outside a byte', () => {
    expect(() => encodeFrame({ type: 256, payload: new Uint8Array() })).toThrow(RangeError);
  });

  it('calls a bad checksum followed by more frames corruption, and at the very end torn', () => {
    const a = encodeFrame(record(1));
    const b = encodeFrame(record(2));
    const damagedFirst = Buffer.concat([a, b]);
    flip(damagedFirst, 10, 0xff);
    expect(scanSegment(damagedFirst, 1024).kind).toBe('corrupt');
    const damagedLast = Buffer.concat([a, b]);
    flip(damagedLast, a.byteLength + 10, 0xff);
    const scan = scanSegment(damagedLast, 1024);
    expect(scan).toMatchObject({ kind: 'torn', validBytes: a.byteLength });
    expect(scan.records).toHaveLength(1);
  });

  it('treats a zero-filled tail as torn and a zero length before data as corruption', () => {
    const a = encodeFrame(record(1));
    expect(scanSegment(Buffer.concat([a, Buffer.alloc(4096)]), 1024)).toMatchObject({
      kind: 'torn',
      validBytes: a.byteLength,
    });
    const zeroThenData = Buffer.concat([a, Buffer.alloc(8), a]);
    expect(scanSegment(zeroThenData, 1024).kind).toBe('corrupt');
  });
});

describe('Wal', () => {
  it('replays every synced record in order across segments with increasing names', async () => {
    const batches = [0, 1, 2, 3, 4].map((b) => [0, 1, 2, 3].map((i) => record(b * 4 + i, 100)));
    const segments = await writeRecords({ segmentBytes: 300 }, batches);
    expect(segments.length).toBeGreaterThan(3);
    expect(segments).toEqual([...segments].sort((x, y) => x - y));
    expect((await readdir(dir)).sort()).toEqual(segments.map(segmentFileName));

    const { wal, recovery } = await Wal.open({ dir, segmentBytes: 300 });
    expect(plain(recovery.records)).toEqual(plain(batches.flat()));
    expect(recovery.truncatedBytes).toBe(0);
    // Records are tagged with their segment, non-decreasing.
    const tags = recovery.records.map((r) => r.segment);
    expect(tags).toEqual([...tags].sort((x, y) => x - y));
    await wal.close();
  });

  it('gives a record larger than a segment a segment of its own', async () => {
    const segments = await writeRecords({ segmentBytes: 64 }, [[record(1, 10), record(2, 500)]]);
    expect(segments).toEqual([1, 2]);
    expect((await stat(join(dir, segmentFileName(2)))).size).toBe(509);
  });

  it('loses appended records that were never synced (a crash), and only those', async () => {
    const { wal } = await Wal.open({ dir });
    wal.append([record(1), record(2)]);
    await wal.sync();
    wal.append([record(3)]);
    expect(wal.bufferedBytes()).toBeGreaterThan(0);
    await wal.close();
    const { wal: reopened, recovery } = await Wal.open({ dir });
    expect(plain(recovery.records)).toEqual(plain([record(1), record(2)]));
    await reopened.close();
  });

  it('refuses a record above the maximum without appending any of the batch', async () => {
    const { wal } = await Wal.open({ dir, maxRecordBytes: 16 });
    expect(() => wal.append([record(1), record(2, 17)])).toThrow(
      expect.objectContaining({ code: 'PALISADE_WAL_RECORD_TOO_LARGE' }),
    );
    expect(wal.bufferedBytes()).toBe(0);
    await wal.close();
  });

  it('recovers exactly the complete records when the last frame is cut at any byte', async () => {
    const written = [record(1, 20), record(2, 20), record(3, 20)];
    await writeRecords({}, [written.slice(0, 2)]);
    const path = join(dir, segmentFileName(1));
    const before = (await stat(path)).size;
    await writeRecords({}, [written.slice(2)]);
    const after = (await stat(path)).size;
    const full = await readFile(path);
    for (let cut = before; cut <= after; cut++) {
      await writeFile(path, full.subarray(0, cut));
      const { wal, recovery } = await Wal.open({ dir });
      const expected = cut === after ? written : written.slice(0, 2);
      expect({ cut, records: plain(recovery.records) }).toEqual({ cut, records: plain(expected) });
      expect(recovery.truncatedBytes).toBe(cut === after ? 0 : cut - before);
      // The torn bytes are gone from disk, and appending continues cleanly after them.
      expect((await stat(path)).size).toBe(cut === after ? after : before);
      wal.append([record(9)]);
      await wal.sync();
      await wal.close();
      const { wal: again, recovery: second } = await Wal.open({ dir });
      expect(plain(second.records)).toEqual(plain([...expected, record(9)]));
      expect(second.truncatedBytes).toBe(0);
      await again.close();
    }
  });

  it('truncates a last frame whose checksum fails (its sectors never reached the disk)', async () => {
    await writeRecords({}, [[record(1, 20), record(2, 20)]]);
    const path = join(dir, segmentFileName(1));
    const bytes = await readFile(path);
    flip(bytes, bytes.byteLength - 1, 0x01);
    await writeFile(path, bytes);
    const { wal, recovery } = await Wal.open({ dir });
    expect(plain(recovery.records)).toEqual(plain([record(1, 20)]));
    expect(recovery.truncatedReason).toMatch(/checksum mismatch/);
    await wal.close();
  });

  it('raises PALISADE_WAL_CORRUPT for a bad checksum in the middle of the last segment', async () => {
    await writeRecords({}, [[record(1, 20), record(2, 20), record(3, 20)]]);
    const path = join(dir, segmentFileName(1));
    const bytes = await readFile(path);
    flip(bytes, 8 + 1 + 20 + 8 + 5, 0x01); // inside the payload of the second frame
    await writeFile(path, bytes);
    const error = await expectCode(Wal.open({ dir }), 'PALISADE_WAL_CORRUPT');
    expect(error.message).toMatch(/checksum mismatch at byte 29/);
    // Nothing was repaired: the damaged file is left for an operator.
    expect((await readFile(path)).equals(bytes)).toBe(true);
  });

  it('raises PALISADE_WAL_CORRUPT for damage at the end of an earlier segment', async () => {
    await writeRecords({ segmentBytes: 64 }, [[record(1, 40), record(2, 40), record(3, 40)]]);
    const first = join(dir, segmentFileName(1));
    await truncate(first, (await stat(first)).size - 1);
    await expectCode(Wal.open({ dir, segmentBytes: 64 }), 'PALISADE_WAL_CORRUPT');
  });

  it('deletes segments before a given one, never the current one', async () => {
    await writeRecords({ segmentBytes: 64 }, [[1, 2, 3, 4].map((n) => record(n, 40))]);
    const { wal } = await Wal.open({ dir, segmentBytes: 64 });
    expect(wal.segments()).toEqual([1, 2, 3, 4]);
    expect(await wal.truncateBefore(3)).toBe(2);
    expect(wal.segments()).toEqual([3, 4]);
    expect(await wal.truncateBefore(99)).toBe(1);
    expect(wal.segments()).toEqual([4]);
    await wal.close();
    const { wal: reopened, recovery } = await Wal.open({ dir, segmentBytes: 64 });
    expect(plain(recovery.records)).toEqual(plain([record(4, 40)]));
    await reopened.close();
  });

  it('installs a checkpoint segment atomically, with what was written meanwhile, and keeps appending after it', async () => {
    const { wal } = await Wal.open({ dir });
    wal.append([record(1)]);
    await wal.sync();
    const prepared = await wal.prepareCheckpoint([record(10), record(11)]);
    wal.append([record(2)]); // the log goes on while the checkpoint waits to be installed
    await wal.sync();
    wal.append([record(3)]); // synced by the install, before the new segment
    const seq = await wal.installCheckpoint(prepared, [record(12)]);
    expect(seq).toBe(2);
    wal.append([record(13)]);
    await wal.sync();
    await wal.close();
    // A crash before the old segment was deleted: it is replayed first, the checkpoint after.
    const before = await Wal.open({ dir });
    expect(plain(before.recovery.records)).toEqual(
      plain([1, 2, 3, 10, 11, 12, 13].map((n) => record(n))),
    );
    expect(await before.wal.truncateBefore(seq)).toBe(1);
    await before.wal.close();
    await writeFile(join(dir, 'checkpoint-7.wal.tmp'), 'a checkpoint not installed before a crash');
    const { wal: reopened, recovery } = await Wal.open({ dir });
    expect(plain(recovery.records)).toEqual(plain([10, 11, 12, 13].map((n) => record(n))));
    expect(recovery.records.map((r) => r.segment)).toEqual([2, 2, 2, 2]);
    expect(await readdir(dir)).toEqual([segmentFileName(2)]);
    await reopened.close();
  });

  describe('durability contract', () => {
    it('resolves sync only after the fdatasync, and the directory fsync for a new segment', async () => {
      const events: string[] = [];
      let release: () => void = () => undefined;
      let reached: () => void = () => undefined;
      const fsyncReached = new Promise<void>((resolve) => (reached = resolve));
      const gate = new Promise<void>((resolve) => (release = resolve));
      let hold = false;
      const { wal } = await Wal.open({
        dir,
        segmentBytes: 64,
        hooks: {
          beforeFsync: async (target: FsyncTarget) => {
            events.push(`${target.kind}:${target.path.endsWith('.wal') ? 'segment' : 'dir'}`);
            if (hold) {
              reached();
              await gate;
            }
          },
        },
      });
      events.length = 0; // the directory fsync of the first segment, at open
      hold = true;
      wal.append([record(1, 40), record(2, 40)]); // the second starts segment 2
      let durable = false;
      const syncing = wal.sync().then(() => {
        durable = true;
      });
      await fsyncReached;
      expect(durable).toBe(false);
      hold = false;
      release();
      await syncing;
      expect(durable).toBe(true);
      expect(events).toEqual(['file:segment', 'file:segment', 'directory:dir']);
      await wal.close();
    });

    it('batches: one sync of many appends is one write and one fdatasync', async () => {
      let fsyncs = 0;
      const { wal } = await Wal.open({ dir, hooks: { beforeFsync: () => void fsyncs++ } });
      fsyncs = 0;
      for (let i = 0; i < 100; i++) wal.append([record(i)]);
      await wal.sync();
      expect(fsyncs).toBe(1);
      await wal.close();
    });

    it('fails for good after a failed fsync (PALISADE_WAL_FAILED)', async () => {
      let fail = false;
      const { wal } = await Wal.open({
        dir,
        hooks: {
          beforeFsync: () => {
            if (fail) throw new Error('EIO');
          },
        },
      });
      fail = true;
      wal.append([record(1)]);
      const error = await expectCode(wal.sync(), 'PALISADE_WAL_FAILED');
      expect((error.cause as Error).message).toBe('EIO');
      fail = false;
      expect(() => wal.append([record(2)])).toThrow(
        expect.objectContaining({ code: 'PALISADE_WAL_FAILED' }),
      );
      await wal.close();
      expect(() => wal.append([record(2)])).toThrow(
        expect.objectContaining({ code: 'PALISADE_WAL_CLOSED' }),
      );
    });
  });
});
