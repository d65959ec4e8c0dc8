import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { cp, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SeededRandom } from '../core/random.js';
import { StorageError } from './errors.js';
import type { HardState, StoredEntry, StoredSnapshot } from './log-index.js';
import { MemoryRaftStorage } from './memory-raft-storage.js';
import { FileRaftStorage, type RaftStorage, type RecoveredState } from './raft-storage.js';
import { snapshotFileName, writeSnapshot } from './snapshot-file.js';
import { segmentFileName } from './wal.js';

/** XORs one byte of a buffer in place (simulated bit rot). */
function flip(buffer: Buffer, offset: number, mask: number): void {
  buffer.writeUInt8(buffer.readUInt8(offset) ^ mask, offset);
}

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'palisade-raft-storage-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function entry(index: number, term: number): StoredEntry {
  return { index, term, data: new TextEncoder().encode(`e${index}t${term}`) };
}

function range(from: number, to: number, term: number): StoredEntry[] {
  const entries: StoredEntry[] = [];
  for (let i = from; i <= to; i++) entries.push(entry(i, term));
  return entries;
}

function hard(term: number, commit: number, vote = 'node-a'): HardState {
  return { term, vote, commit };
}

function snap(index: number, term: number): StoredSnapshot {
  return { index, term, data: new TextEncoder().encode(`state@${index}`) };
}

/** A comparable summary of a recovered state. */
function summary(state: RecoveredState) {
  return {
    hardState: state.hardState,
    snapshot: state.snapshot && {
      index: state.snapshot.index,
      term: state.snapshot.term,
      data: Buffer.from(state.snapshot.data).toString(),
    },
    point: state.point,
    entries: state.entries.map((e) => `${e.index}@${e.term}:${Buffer.from(e.data).toString()}`),
  };
}

async function openFile(options: Partial<Parameters<typeof FileRaftStorage.open>[0]> = {}) {
  return FileRaftStorage.open({ dir, ...options });
}

async function reopen(storage: RaftStorage): Promise<RaftStorage> {
  if (storage instanceof MemoryRaftStorage) return storage;
  await storage.close();
  return (await openFile()).storage;
}

async function rejection(promise: Promise<unknown>): Promise<StorageError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(StorageError);
  return error as StorageError;
}

describe.each([
  ['FileRaftStorage', async (): Promise<RaftStorage> => (await openFile()).storage],
  ['MemoryRaftStorage', async (): Promise<RaftStorage> => new MemoryRaftStorage()],
])('%s (shared contract)', (_name, create) => {
  it('persists hard state and entries across a restart', async () => {
    let storage = await create();
    await storage.save({ entries: range(1, 3, 1), hardState: hard(1, 2) });
    await storage.save({ entries: range(4, 5, 1), hardState: hard(1, 5) });
    storage = await reopen(storage);
    expect(summary(storage.state())).toEqual({
      hardState: hard(1, 5),
      snapshot: undefined,
      point: { index: 0, term: 0 },
      entries: ['1@1:e1t1', '2@1:e2t1', '3@1:e3t1', '4@1:e4t1', '5@1:e5t1'],
    });
    expect(storage.firstIndex()).toBe(1);
    expect(storage.lastIndex()).toBe(5);
    expect(storage.term(4)).toBe(1);
    expect(storage.entries(2, 4).map((e) => e.index)).toEqual([2, 3]);
    expect(storage.entries(2, 6, 1).map((e) => e.index)).toEqual([2]);
    await storage.close();
  });

  it('overwrites a conflicting suffix: appending at i drops every entry from i on', async () => {
    let storage = await create();
    await storage.save({ entries: range(1, 6, 1), hardState: hard(1, 1) });
    await storage.save({ entries: [entry(4, 2)], hardState: hard(2, 1, 'node-b') });
    expect(storage.lastIndex()).toBe(4);
    storage = await reopen(storage);
    expect(summary(storage.state()).entries).toEqual([
      '1@1:e1t1',
      '2@1:e2t1',
      '3@1:e3t1',
      '4@2:e4t2',
    ]);
    expect(storage.hardState()).toEqual(hard(2, 1, 'node-b'));
    expect(() => storage.term(5)).toThrow(
      expect.objectContaining({ code: 'PALISADE_STORAGE_UNAVAILABLE' }),
    );
    await storage.close();
  });

  it('refuses a gap without writing anything, and stays usable', async () => {
    const storage = await create();
    await storage.save({ entries: range(1, 2, 1) });
    const error = await rejection(storage.save({ entries: [entry(4, 1)], hardState: hard(9, 9) }));
    expect(error.code).toBe('PALISADE_STORAGE_MISUSE');
    expect(storage.hardState()).toEqual({ term: 0, vote: '', commit: 0 });
    await storage.save({ entries: [entry(3, 1)] });
    expect(storage.lastIndex()).toBe(3);
    await storage.close();
  });

  it('refuses an older snapshot and a rewrite of entries a snapshot covers', async () => {
    const storage = await create();
    await storage.save({ entries: range(1, 6, 1) });
    await storage.saveSnapshot(snap(4, 1));
    expect((await rejection(storage.saveSnapshot(snap(4, 1)))).code).toBe(
      'PALISADE_STORAGE_MISUSE',
    );
    expect((await rejection(storage.save({ entries: [entry(4, 2)] }))).code).toBe(
      'PALISADE_STORAGE_MISUSE',
    );
    expect(storage.term(4)).toBe(1);
    await storage.save({ entries: [entry(5, 2)] });
    expect(storage.lastIndex()).toBe(5);
    await storage.close();
  });

  it('snapshots, compacts, and recovers snapshot + the entries after the point', async () => {
    let storage = await create();
    await storage.save({ entries: range(1, 20, 1), hardState: hard(1, 15) });
    await storage.saveSnapshot(snap(15, 1));
    expect(storage.firstIndex()).toBe(1); // a snapshot alone does not compact
    await storage.compact(12); // keep a few entries for a slow follower
    expect(storage.firstIndex()).toBe(13);
    expect(storage.term(12)).toBe(1);
    expect(() => storage.entries(12, 14)).toThrow(
      expect.objectContaining({ code: 'PALISADE_STORAGE_COMPACTED' }),
    );
    await storage.save({ entries: range(21, 22, 2), hardState: hard(2, 21) });
    storage = await reopen(storage);
    const state = summary(storage.state());
    expect(state.snapshot).toEqual({ index: 15, term: 1, data: 'state@15' });
    expect(state.point).toEqual({ index: 12, term: 1 });
    expect(state.entries.map((e) => e.split(':')[0])).toEqual([
      ...range(13, 20, 1).map((e) => `${e.index}@1`),
      '21@2',
      '22@2',
    ]);
    expect(state.hardState).toEqual(hard(2, 21));
    const error = await rejection(storage.compact(16));
    expect(error.code).toBe('PALISADE_STORAGE_MISUSE');
    await storage.close();
  });

  it('installs a leader snapshot: discards a log that does not hold its point', async () => {
    let storage = await create();
    await storage.save({ entries: range(1, 8, 1) });
    await storage.save({
      snapshot: snap(30, 3),
      entries: range(31, 32, 3),
      hardState: hard(3, 30),
    });
    storage = await reopen(storage);
    const state = summary(storage.state());
    expect(state.point).toEqual({ index: 30, term: 3 });
    expect(state.entries.map((e) => e.split(':')[0])).toEqual(['31@3', '32@3']);
    expect(storage.term(30)).toBe(3);
    await storage.close();
  });

  it('keeps the entries after a snapshot whose point the log holds (Raft paper, Figure 13)', async () => {
    let storage = await create();
    await storage.save({ entries: range(1, 8, 2) });
    await storage.save({ snapshot: snap(5, 2) });
    storage = await reopen(storage);
    expect(storage.state().point).toEqual({ index: 0, term: 0 });
    expect(storage.state().entries.map((e) => e.index)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(storage.snapshot()?.index).toBe(5);
    await storage.close();
  });
});

describe('FileRaftStorage', () => {
  it('does not resolve a save, nor show its entries, before the fsync completes', async () => {
    let hold = false;
    let reached: () => void = () => undefined;
    let release: () => void = () => undefined;
    const fsyncReached = new Promise<void>((resolve) => (reached = resolve));
    const gate = new Promise<void>((resolve) => (release = resolve));
    const { storage } = await openFile({
      hooks: {
        beforeFsync: async () => {
          if (!hold) return;
          reached();
          await gate;
        },
      },
    });
    hold = true;
    let durable = false;
    const saving = storage.save({ entries: range(1, 3, 1), hardState: hard(1, 0) }).then(() => {
      durable = true;
    });
    await fsyncReached;
    expect(durable).toBe(false);
    expect(storage.lastIndex()).toBe(0);
    expect(storage.hardState().term).toBe(0);
    hold = false;
    release();
    await saving;
    expect(durable).toBe(true);
    expect(storage.lastIndex()).toBe(3);
    await storage.close();
  });

  it('refuses all further work after a failed fsync', async () => {
    let fail = false;
    const { storage } = await openFile({
      hooks: {
        beforeFsync: () => {
          if (fail) throw new Error('EIO');
        },
      },
    });
    fail = true;
    const first = await rejection(storage.save({ entries: range(1, 1, 1) }));
    expect(first.code).toBe('PALISADE_WAL_FAILED');
    fail = false;
    const second = await rejection(storage.save({ entries: range(1, 1, 1) }));
    expect(second.code).toBe('PALISADE_WAL_FAILED');
    expect(storage.lastIndex()).toBe(0);
    await storage.close();
  });

  it('recovers a prefix of the last save when it was torn at any byte', async () => {
    const { storage } = await openFile();
    await storage.save({ entries: range(1, 2, 1), hardState: hard(1, 1) });
    await storage.close();
    const path = join(dir, 'wal', segmentFileName(1));
    const before = (await stat(path)).size;
    const { storage: second } = await openFile();
    await second.save({ entries: range(3, 5, 2), hardState: hard(2, 4) });
    await second.close();
    const full = await readFile(path);
    const seen = new Set<string>();
    for (let cut = before; cut <= full.byteLength; cut++) {
      await writeFile(path, full.subarray(0, cut));
      const { storage: recovered } = await openFile();
      const state = recovered.state();
      // Whatever survived is a prefix of the save: never an entry without its predecessors,
      // and the hard state only once every entry before it is there.
      expect(state.entries.map((e) => e.index)).toEqual(
        [1, 2, 3, 4, 5].slice(0, state.entries.length),
      );
      if (state.hardState.term === 2) expect(state.entries).toHaveLength(5);
      seen.add(`${state.entries.length}/${state.hardState.term}`);
      await recovered.close();
    }
    expect([...seen].sort()).toEqual(['2/1', '3/1', '4/1', '5/1', '5/2']);
  });

  it('deletes old segments and snapshot files on compaction; survives a crash at each step', async () => {
    const { storage } = await openFile({ segmentBytes: 256 });
    for (let i = 1; i <= 30; i += 3) {
      await storage.save({ entries: range(i, i + 2, 1), hardState: hard(1, i + 2) });
    }
    await storage.saveSnapshot(snap(10, 1));
    await storage.compact(10);
    expect(storage.segments()).toHaveLength(1);
    const expected = summary(storage.state());
    const snapshotDir = join(dir, 'snap');
    expect(await readdir(snapshotDir)).toEqual([snapshotFileName(1, 10)]);
    await storage.close();
    // Copy, then take a second snapshot with compaction, keeping every intermediate file set.
    const beforeCompaction = await mkdtemp(join(tmpdir(), 'palisade-raft-storage-copy-'));
    try {
      const { storage: again } = await openFile({ segmentBytes: 256 });
      expect(summary(again.state())).toEqual(expected);
      await again.save({ entries: range(31, 40, 2), hardState: hard(2, 38) });
      await again.saveSnapshot(snap(35, 2));
      const state = summary(again.state());
      await again.close();
      await cp(dir, beforeCompaction, { recursive: true });
      const reopened = (await openFile({ segmentBytes: 256 })).storage;
      const before = reopened.segments();
      const lastBefore = Math.max(...before);
      expect(before.length).toBeGreaterThan(1);
      await reopened.compact(35);
      const after = summary(reopened.state());
      expect(after.point).toEqual({ index: 35, term: 2 });
      const segmentsAfter = [...(reopened as FileRaftStorage).segments()];
      // Only the checkpoint segment is left, numbered after every segment it replaces.
      expect(segmentsAfter).toEqual([lastBefore + 1]);
      expect(await readdir(snapshotDir)).toEqual([snapshotFileName(2, 35)]);
      await reopened.close();

      // Crash after the checkpoint segment was renamed into place but before any old segment
      // was deleted: restore every old segment and snapshot file next to it.
      await cp(join(beforeCompaction, 'wal'), join(dir, 'wal'), { recursive: true });
      await cp(join(beforeCompaction, 'snap'), snapshotDir, { recursive: true });
      let { storage: crashed } = await openFile({ segmentBytes: 256 });
      expect(summary(crashed.state())).toEqual(after);
      await crashed.close();
      // Crash half-way through deleting (newest first): only the oldest segment survives.
      const walDir = join(dir, 'wal');
      const names = (await readdir(walDir)).sort();
      const checkpoint = segmentFileName(segmentsAfter[0] ?? 0);
      for (const name of names) {
        if (name !== names[0] && name < checkpoint) await rm(join(walDir, name));
      }
      ({ storage: crashed } = await openFile({ segmentBytes: 256 }));
      expect(summary(crashed.state())).toEqual(after);
      expect(summary(crashed.state()).entries).toEqual(state.entries.slice(35 - 10));
      await crashed.close();
    } finally {
      await rm(beforeCompaction, { recursive: true, force: true });
    }
  });

  it('applies a snapshot file that is newer than the WAL (crash before the marker)', async () => {
    const { storage } = await openFile();
    await storage.save({ entries: range(1, 6, 1), hardState: hard(1, 3) });
    await storage.close();
    await writeSnapshot(join(dir, 'snap'), snap(20, 4));
    const { storage: recovered } = await openFile();
    const state = summary(recovered.state());
    expect(state.snapshot?.index).toBe(20);
    expect(state.point).toEqual({ index: 20, term: 4 });
    expect(state.entries).toEqual([]);
    await recovered.close();
  });

  it('refuses to start when the snapshot the WAL needs is missing or corrupt', async () => {
    const { storage } = await openFile();
    await storage.save({ entries: range(1, 6, 1), hardState: hard(1, 6) });
    await storage.saveSnapshot(snap(4, 1));
    await storage.compact(4);
    await storage.close();
    const file = join(dir, 'snap', snapshotFileName(1, 4));
    const bytes = await readFile(file);
    flip(bytes, bytes.byteLength - 1, 0x01);
    await writeFile(file, bytes);
    const corrupt = await rejection(openFile());
    expect(corrupt.code).toBe('PALISADE_SNAPSHOT_MISSING');
    expect((corrupt.cause as StorageError).code).toBe('PALISADE_SNAPSHOT_CORRUPT');
    await rm(file);
    expect((await rejection(openFile())).code).toBe('PALISADE_SNAPSHOT_MISSING');
  });

  it('raises PALISADE_WAL_CORRUPT for a missing segment in the middle', async () => {
    const { storage } = await openFile({ segmentBytes: 128 });
    for (let i = 1; i <= 12; i += 3) await storage.save({ entries: range(i, i + 2, 1) });
    const segments = [...storage.segments()];
    await storage.close();
    expect(segments.length).toBeGreaterThan(2);
    await rm(join(dir, 'wal', segmentFileName(2)));
    expect((await rejection(openFile({ segmentBytes: 128 }))).code).toBe('PALISADE_WAL_CORRUPT');
  });
});

describe('MemoryRaftStorage with manualSync', () => {
  it('holds saves until flush, and a crash loses exactly the unflushed ones', async () => {
    const storage = new MemoryRaftStorage({ manualSync: true });
    const first = storage.save({ entries: range(1, 2, 1), hardState: hard(1, 0) });
    expect(storage.pendingSaves()).toBe(1);
    expect(storage.lastIndex()).toBe(0);
    storage.flush();
    await first;
    expect(storage.lastIndex()).toBe(2);
    const lost = storage.save({ entries: range(3, 3, 1), hardState: hard(1, 3) });
    const recovered = storage.crash();
    expect((await rejection(lost)).code).toBe('PALISADE_WAL_CLOSED');
    expect(recovered.entries.map((e) => e.index)).toEqual([1, 2]);
    expect(recovered.hardState).toEqual(hard(1, 0));
  });
});

/** Hooks that hold the fsync of the next prepared checkpoint until `release()`. */
function holdCheckpoint() {
  let release: () => void = () => undefined;
  let reached: () => void = () => undefined;
  const held = new Promise<void>((resolve) => (reached = resolve));
  const gate = new Promise<void>((resolve) => (release = resolve));
  return {
    held,
    release: () => release(),
    hooks: {
      beforeFsync: async (target: { path: string }) => {
        if (!target.path.endsWith('.wal.tmp')) return;
        reached();
        await gate;
      },
    },
  };
}

describe('FileRaftStorage: snapshots and compaction beside the saves', () => {
  it('a compaction lets saves go on and carries them (an overwritten tail too) into its checkpoint', async () => {
    const hold = holdCheckpoint();
    const { storage } = await openFile({ hooks: hold.hooks });
    await storage.save({ entries: range(1, 20, 1), hardState: hard(1, 16) });
    await storage.saveSnapshot(snap(15, 1));
    const compaction = storage.compact(10);
    await hold.held; // the checkpoint is written, its fsync held
    await storage.save({ entries: range(21, 22, 1), hardState: hard(1, 18) });
    // A new leader's entry replaces 19..22 (uncommitted).
    await storage.save({ entries: [entry(19, 2)], hardState: hard(2, 18, 'node-b') });
    hold.release();
    await compaction;
    const live = summary(storage.state());
    expect(live.point).toEqual({ index: 10, term: 1 });
    expect(live.entries.at(-1)).toBe('19@2:e19t2');
    expect(live.hardState).toEqual(hard(2, 18, 'node-b'));
    expect((storage as FileRaftStorage).segments()).toHaveLength(1);
    await storage.close();
    const { storage: reopened } = await openFile();
    expect(summary(reopened.state())).toEqual(live);
    await reopened.close();
  });

  it('drops the checkpoint when a snapshot from the leader arrives meanwhile', async () => {
    const hold = holdCheckpoint();
    const { storage } = await openFile({ hooks: hold.hooks });
    await storage.save({ entries: range(1, 20, 1), hardState: hard(1, 16) });
    await storage.saveSnapshot(snap(15, 1));
    const compaction = storage.compact(10);
    await hold.held;
    await storage.save({
      snapshot: snap(40, 3),
      entries: range(41, 42, 3),
      hardState: hard(3, 40),
    });
    hold.release();
    await compaction;
    const live = summary(storage.state());
    expect(live.point).toEqual({ index: 40, term: 3 });
    expect(await readdir(join(dir, 'wal'))).toEqual([segmentFileName(1)]);
    await storage.close();
    const { storage: reopened } = await openFile();
    expect(summary(reopened.state())).toEqual(live);
    await reopened.close();
  });

  it('a local snapshot raises the durable commit index to its own', async () => {
    const { storage } = await openFile();
    await storage.save({ entries: range(1, 20, 1), hardState: hard(1, 12) });
    await storage.saveSnapshot(snap(15, 1));
    expect(storage.hardState()).toEqual(hard(1, 15));
    await storage.saveSnapshot(snap(16, 1));
    await storage.save({ hardState: hard(1, 20) });
    await storage.saveSnapshot(snap(18, 1)); // below the commit index: unchanged
    expect(storage.hardState()).toEqual(hard(1, 20));
    await storage.close();
    const { storage: reopened } = await openFile();
    expect(reopened.hardState()).toEqual(hard(1, 20));
    expect(reopened.snapshot()?.index).toBe(18);
    await reopened.close();
  });
});

describe('FileRaftStorage against MemoryRaftStorage (seeded random operations)', () => {
  // Every operation is applied to both; the file store is reopened (replayed) at random points.
  // Recovery must always rebuild exactly the state the running store had.
  it.each([1, 2, 3])('seed %i: replay equals the live state after every step', async (seed) => {
    const random = new SeededRandom(seed);
    const options = { segmentBytes: 200 };
    let file: FileRaftStorage = (await openFile(options)).storage;
    const memory = new MemoryRaftStorage();
    let term = 1;
    for (let step = 0; step < 150; step++) {
      const roll = random.int(100);
      const first = memory.firstIndex();
      const last = memory.lastIndex();
      const snapshotIndex = memory.snapshot()?.index ?? 0;
      let update: Parameters<RaftStorage['save']>[0] | undefined;
      let compactTo: number | undefined;
      if (roll < 45) {
        if (random.int(10) === 0) term++;
        // Entries covered by a snapshot are committed: Raft never rewrites them.
        const start = Math.max(first, snapshotIndex + 1, last + 1 - random.int(4));
        update = { entries: range(start, start + random.int(4), term) };
        if (random.int(2) === 0) update = { ...update, hardState: hard(term, start - 1) };
      } else if (roll < 60) {
        update = { hardState: hard(term, random.int(last + 1), `n${random.int(3)}`) };
      } else if (roll < 72 && last > snapshotIndex) {
        const index = snapshotIndex + 1 + random.int(last - snapshotIndex);
        update = { snapshot: snap(index, memory.term(index)) };
      } else if (roll < 77) {
        term++;
        const index = last + 1 + random.int(5);
        update = { snapshot: snap(index, term), entries: range(index + 1, index + 2, term) };
      } else if (roll < 90 && snapshotIndex >= first) {
        compactTo = first + random.int(snapshotIndex - first + 1);
      } else {
        await file.close();
        file = (await openFile(options)).storage;
      }
      if (update?.snapshot && !update.entries && random.int(2) === 0) {
        await memory.saveSnapshot(update.snapshot);
        await file.saveSnapshot(update.snapshot);
      } else if (update) {
        await memory.save(update);
        await file.save(update);
      }
      if (compactTo !== undefined) {
        await memory.compact(compactTo);
        await file.compact(compactTo);
      }
      expect({ seed, step, state: summary(file.state()) }).toEqual({
        seed,
        step,
        state: summary(memory.state()),
      });
    }
    await file.close();
    const reopened = (await openFile(options)).storage;
    expect(summary(reopened.state())).toEqual(summary(memory.state()));
    await reopened.close();
  });
});
