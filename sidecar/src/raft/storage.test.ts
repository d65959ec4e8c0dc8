import { describe, expect, test } from '@jest/globals';
import { RaftError } from './errors.js';
import { Inflights } from './progress.js';
import { RaftLog } from './raft-log.js';
import { MemoryStorage } from './storage.js';
import type { Entry } from './types.js';

function entry(index: number, term: number, data = ''): Entry {
  return { index, term, type: 'normal', data: new TextEncoder().encode(data) };
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    if (error instanceof RaftError) return error.code;
    throw error;
  }
  return undefined;
}

describe('MemoryStorage', () => {
  test('bootstraps initial members as committed config entries of term 1', () => {
    const storage = new MemoryStorage({ voters: ['a', 'b'], learners: ['c'] });
    expect(storage.lastIndex()).toBe(3);
    expect(storage.initialState().hardState).toEqual({ term: 1, vote: '', commit: 3 });
    expect(storage.entries(1, 4, Infinity).map((e) => e.type)).toEqual([
      'config',
      'config',
      'config',
    ]);
  });

  test('append truncates a conflicting suffix', () => {
    const storage = new MemoryStorage();
    storage.append([entry(1, 1), entry(2, 1), entry(3, 1)]);
    storage.append([entry(2, 2)]);
    expect(storage.lastIndex()).toBe(2);
    expect(storage.term(2)).toBe(2);
    expect(codeOf(() => storage.append([entry(5, 2)]))).toBe('PALISADE_RAFT_MISUSE');
  });

  test('compaction keeps the term of the compaction point and refuses reads below it', () => {
    const storage = new MemoryStorage();
    storage.append([entry(1, 1), entry(2, 1), entry(3, 2), entry(4, 2)]);
    storage.createSnapshot(3, { voters: ['a'], learners: [] }, new Uint8Array([1]));
    storage.compact(3);
    expect(storage.firstIndex()).toBe(4);
    expect(storage.term(3)).toBe(2);
    expect(codeOf(() => storage.term(2))).toBe('PALISADE_RAFT_COMPACTED');
    expect(codeOf(() => storage.entries(3, 5, Infinity))).toBe('PALISADE_RAFT_COMPACTED');
    expect(codeOf(() => storage.term(5))).toBe('PALISADE_RAFT_UNAVAILABLE');
    expect(
      codeOf(() => storage.createSnapshot(2, { voters: [], learners: [] }, new Uint8Array())),
    ).toBe('PALISADE_RAFT_SNAPSHOT_OUT_OF_DATE');
  });

  test('entries respect the byte limit but always return at least one', () => {
    const storage = new MemoryStorage();
    storage.append([entry(1, 1, 'aaaa'), entry(2, 1, 'bbbb'), entry(3, 1, 'cccc')]);
    expect(storage.entries(1, 4, 1)).toHaveLength(1);
    expect(storage.entries(1, 4, 8)).toHaveLength(2);
  });
});

describe('RaftLog', () => {
  test('unstable entries shadow conflicting stable ones until persisted', () => {
    const storage = new MemoryStorage();
    storage.append([entry(1, 1), entry(2, 1), entry(3, 1)]);
    const log = new RaftLog(storage, Infinity);
    expect(log.maybeAppend(1, 1, 0, [entry(2, 2)])).toEqual({ lastNewIndex: 2, firstWritten: 2 });
    expect(log.lastIndex()).toBe(2);
    expect(log.term(2)).toBe(2);
    expect(log.unstableEntries().map((e) => `${e.index}@${e.term}`)).toEqual(['2@2']);
    storage.append(log.unstableEntries());
    log.stableTo(2, 2);
    expect(log.hasUnstableEntries()).toBe(false);
    expect(storage.lastIndex()).toBe(2);
  });

  test('a mismatching previous entry refuses the append', () => {
    const log = new RaftLog(new MemoryStorage(), Infinity);
    log.append([entry(1, 1)]);
    expect(log.maybeAppend(1, 2, 0, [entry(2, 2)])).toBeUndefined();
  });

  test('findConflictByTerm skips a whole term', () => {
    const log = new RaftLog(new MemoryStorage(), Infinity);
    log.append([entry(1, 1), entry(2, 1), entry(3, 3), entry(4, 3), entry(5, 3)]);
    expect(log.findConflictByTerm(5, 2)).toBe(2);
    expect(log.findConflictByTerm(5, 3)).toBe(5);
  });

  test('committed entries are never truncated', () => {
    const log = new RaftLog(new MemoryStorage(), Infinity);
    log.append([entry(1, 1), entry(2, 1)]);
    log.commitTo(2);
    expect(codeOf(() => log.append([entry(2, 2)]))).toBe('PALISADE_RAFT_MISUSE');
  });
});

describe('Inflights', () => {
  test('fills up to its capacity and frees acknowledged appends in order', () => {
    const inflights = new Inflights(3);
    inflights.add(5);
    inflights.add(7);
    inflights.add(9);
    expect(inflights.full()).toBe(true);
    inflights.freeLE(7);
    expect(inflights.count).toBe(1);
    inflights.freeFirstOne();
    expect(inflights.count).toBe(0);
  });
});
