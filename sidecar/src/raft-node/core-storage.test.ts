import { describe, expect, test } from '@jest/globals';
import { MemoryRaftStorage } from '../raft-storage/index.js';
import { RaftError, type Entry } from '../raft/index.js';
import {
  CoreStorage,
  decodeStoredEntry,
  decodeStoredSnapshot,
  encodeStoredEntry,
  encodeStoredSnapshot,
} from './core-storage.js';

describe('core storage glue', () => {
  test('entry types and snapshot membership round-trip through the store encoding', () => {
    const entry: Entry = { term: 2, index: 7, type: 'config', data: new Uint8Array([9, 8]) };
    expect(decodeStoredEntry(encodeStoredEntry(entry))).toEqual(entry);
    const snapshot = {
      metadata: { index: 7, term: 2, conf: { voters: ['a', 'b'], learners: ['c'] } },
      data: new Uint8Array([1, 2, 3]),
    };
    expect(decodeStoredSnapshot(encodeStoredSnapshot(snapshot))).toEqual(snapshot);
  });

  test('reads what the store made durable, with the core error codes out of range', async () => {
    const store = new MemoryRaftStorage();
    const entries: Entry[] = [1, 2, 3].map((index) => ({
      term: 1,
      index,
      type: index === 1 ? 'config' : 'normal',
      data: new Uint8Array([index]),
    }));
    await store.save({
      entries: entries.map(encodeStoredEntry),
      hardState: { term: 1, vote: '', commit: 3 },
    });
    const core = new CoreStorage(store);
    expect(core.initialState().hardState).toEqual({ term: 1, vote: '', commit: 3 });
    expect(core.entries(1, 4, 1 << 20)).toEqual(entries);
    expect(core.term(0)).toBe(0);
    expect(() => core.entries(2, 5, 100)).toThrow(RaftError);
    expect(core.snapshot().metadata.index).toBe(0);
  });
});
