/**
 * Glue between the durable store (raft-storage: opaque entries and snapshots) and the core's
 * read-only `Storage`: the entry type travels as the first byte of the stored data, the snapshot's
 * membership as a JSON header in front of the application's bytes.
 *
 * The store's reads show only durable state, which is exactly what the core may read: entries
 * become "stable" in the core only after `advance()`, which follows the fsync.
 */
import type { RaftStorage, StoredEntry, StoredSnapshot } from '../raft-storage/index.js';
import {
  EMPTY_CONF,
  RaftError,
  limitSize,
  type ConfState,
  type Entry,
  type InitialState,
  type Snapshot,
  type Storage,
} from '../raft/index.js';

const NORMAL = 0;
const CONFIG = 1;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Stores an entry's type as its first byte. */
export function encodeStoredEntry(entry: Entry): StoredEntry {
  const data = new Uint8Array(entry.data.byteLength + 1);
  data[0] = entry.type === 'config' ? CONFIG : NORMAL;
  data.set(entry.data, 1);
  return { index: entry.index, term: entry.term, data };
}

/** The inverse of {@link encodeStoredEntry}. */
export function decodeStoredEntry(stored: StoredEntry): Entry {
  const type = stored.data[0] === CONFIG ? 'config' : 'normal';
  return { index: stored.index, term: stored.term, type, data: stored.data.subarray(1) };
}

/** `[u32 BE header length][JSON {voters, learners}][application data]`. */
export function encodeStoredSnapshot(snapshot: Snapshot): StoredSnapshot {
  const header = encoder.encode(JSON.stringify(snapshot.metadata.conf));
  const data = new Uint8Array(4 + header.byteLength + snapshot.data.byteLength);
  new DataView(data.buffer).setUint32(0, header.byteLength);
  data.set(header, 4);
  data.set(snapshot.data, 4 + header.byteLength);
  return { index: snapshot.metadata.index, term: snapshot.metadata.term, data };
}

/** The inverse of {@link encodeStoredSnapshot}. */
export function decodeStoredSnapshot(stored: StoredSnapshot): Snapshot {
  const view = new DataView(stored.data.buffer, stored.data.byteOffset, stored.data.byteLength);
  const length = view.getUint32(0);
  const conf = JSON.parse(decoder.decode(stored.data.subarray(4, 4 + length))) as ConfState;
  return {
    metadata: { index: stored.index, term: stored.term, conf },
    data: stored.data.subarray(4 + length),
  };
}

/** The core's view of a {@link RaftStorage}. */
export class CoreStorage implements Storage {
  private cachedSnapshot: { stored: StoredSnapshot; decoded: Snapshot } | undefined;

  constructor(private readonly store: RaftStorage) {}

  initialState(): InitialState {
    return { hardState: this.store.hardState(), conf: this.snapshot().metadata.conf };
  }

  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    this.check(lo, hi - 1);
    // The stored size is one byte larger per entry; limit on the decoded entries.
    return limitSize(this.store.entries(lo, hi).map(decodeStoredEntry), maxBytes);
  }

  term(index: number): number {
    this.check(index, index, true);
    return this.store.term(index);
  }

  firstIndex(): number {
    return this.store.firstIndex();
  }

  lastIndex(): number {
    return this.store.lastIndex();
  }

  snapshot(): Snapshot {
    const stored = this.store.snapshot();
    if (stored === undefined) {
      return { metadata: { index: 0, term: 0, conf: EMPTY_CONF }, data: new Uint8Array() };
    }
    if (this.cachedSnapshot?.stored !== stored) {
      this.cachedSnapshot = { stored, decoded: decodeStoredSnapshot(stored) };
    }
    return this.cachedSnapshot.decoded;
  }

  private check(lo: number, hi: number, allowPoint = false): void {
    const first = this.store.firstIndex() - (allowPoint ? 1 : 0);
    if (lo < first) throw new RaftError('PALISADE_RAFT_COMPACTED', `index ${lo} compacted`);
    if (hi > this.store.lastIndex()) {
      throw new RaftError(
        'PALISADE_RAFT_UNAVAILABLE',
        `index ${hi} beyond ${this.store.lastIndex()}`,
      );
    }
  }
}
