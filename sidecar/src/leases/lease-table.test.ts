import { describe, expect, test } from '@jest/globals';
import { decodeLeaseCommand, encodeLeaseCommand, type LeaseCommand } from './commands.js';
import { LeaseTable, MAX_REMEMBERED_HOLDERS, safeHoldMs, type LeaseResult } from './lease-table.js';

/** Applies commands as consecutive log entries; `at` is [term, stamp]. */
class Log {
  index = 0;
  constructor(readonly table = new LeaseTable()) {}
  apply(term: number, stamp: number, command: LeaseCommand): LeaseResult {
    this.index++;
    return this.table.apply({ index: this.index, term }, { command, stamp });
  }
}

const acquire = (name: string, holder: string, ttlMs: number): LeaseCommand => ({
  op: 'acquire',
  name,
  holder,
  ttlMs,
});
const renew = (name: string, holder: string, token: number): LeaseCommand => ({
  op: 'renew',
  name,
  holder,
  token,
});
const release = (name: string, holder: string, token: number): LeaseCommand => ({
  op: 'release',
  name,
  holder,
  token,
});

describe('lease table', () => {
  test('grants a free lease with the entry index as fencing token', () => {
    const log = new Log();
    log.index = 41;
    expect(log.apply(2, 1000, acquire('db', 'a', 500))).toEqual({
      outcome: 'granted',
      granted: true,
      token: 42,
      expiresAt: 1500,
      validForMs: 500,
    });
  });

  test('refuses a held lease, naming the holder and its expiry', () => {
    const log = new Log();
    log.apply(2, 1000, acquire('db', 'a', 500));
    expect(log.apply(2, 1499, acquire('db', 'b', 500))).toEqual({
      outcome: 'held',
      granted: false,
      holder: 'a',
      expiresAt: 1500,
      validForMs: 1,
    });
  });

  test('grants again once the TTL has passed on the same clock, with a larger token', () => {
    const log = new Log();
    log.apply(2, 1000, acquire('db', 'a', 500));
    const result = log.apply(2, 1500, acquire('db', 'b', 500));
    expect(result).toMatchObject({ granted: true, token: 2 });
  });

  test('an acquire repeated by the holder is a new grant: new token, extended', () => {
    const log = new Log();
    log.apply(2, 1000, acquire('db', 'a', 500));
    expect(log.apply(2, 1200, acquire('db', 'a', 500))).toMatchObject({
      token: 2,
      expiresAt: 1700,
    });
    // A release of the first grant that was delayed in the network cannot end the second.
    expect(log.apply(2, 1300, release('db', 'a', 1))).toMatchObject({ outcome: 'refused' });
    expect(log.apply(2, 1301, acquire('db', 'b', 500))).toMatchObject({ outcome: 'held' });
  });

  test('a stale acquire with a shorter TTL never shortens the grant (its validity was promised)', () => {
    const log = new Log();
    log.apply(2, 1000, acquire('db', 'a', 500));
    // A delayed duplicate of an older, shorter acquire by the same holder.
    expect(log.apply(2, 1010, acquire('db', 'a', 60))).toMatchObject({
      token: 2,
      expiresAt: 1500,
      validForMs: 490,
    });
    expect(log.apply(2, 1020, renew('db', 'a', 2))).toMatchObject({ validForMs: 500 });
    // A new term re-arms it with the full 500 ms, not 60.
    expect(log.apply(3, 0, acquire('db', 'b', 100))).toMatchObject({
      outcome: 'held',
      expiresAt: 500,
    });
  });

  test('renew extends from the stamp; a stale token is refused', () => {
    const log = new Log();
    log.apply(2, 1000, acquire('db', 'a', 500));
    expect(log.apply(2, 1400, renew('db', 'a', 1))).toMatchObject({ token: 1, expiresAt: 1900 });
    expect(log.apply(2, 1401, renew('db', 'a', 7))).toMatchObject({
      outcome: 'refused',
      code: 'PALISADE_LEASE_STALE_TOKEN',
    });
    expect(log.apply(2, 1402, renew('db', 'b', 1))).toMatchObject({ outcome: 'refused' });
    // After expiry the token is stale too, even for the former holder.
    expect(log.apply(2, 1900, renew('db', 'a', 1))).toMatchObject({ outcome: 'refused' });
  });

  test('release frees the lease for others; releasing twice is refused', () => {
    const log = new Log();
    log.apply(2, 1000, acquire('db', 'a', 500));
    expect(log.apply(2, 1100, release('db', 'a', 1))).toEqual({
      outcome: 'released',
      released: true,
    });
    expect(log.apply(2, 1101, release('db', 'a', 1))).toMatchObject({ outcome: 'refused' });
    expect(log.apply(2, 1102, acquire('db', 'b', 500))).toMatchObject({ token: 4 });
  });

  test('a new term re-arms every unexpired lease for its full TTL from the first new stamp', () => {
    const log = new Log();
    log.apply(2, 1000, acquire('db', 'a', 500));
    // The new leader's clock has an unrelated origin (here: far behind).
    expect(log.apply(3, 10, acquire('db', 'b', 500))).toMatchObject({
      outcome: 'held',
      holder: 'a',
      expiresAt: 510,
    });
    expect(log.apply(3, 509, acquire('db', 'b', 500))).toMatchObject({ outcome: 'held' });
    expect(log.apply(3, 510, acquire('db', 'b', 500))).toMatchObject({ granted: true, token: 4 });
  });

  test('a new term drops leases already expired on the old clock', () => {
    const log = new Log();
    log.apply(2, 1000, acquire('db', 'a', 500));
    log.apply(2, 1600, acquire('other', 'c', 500)); // the old clock passed db's expiry
    expect(log.apply(3, 0, acquire('db', 'b', 500))).toMatchObject({ granted: true, token: 3 });
    expect(log.apply(3, 1, acquire('other', 'b', 500))).toMatchObject({ outcome: 'held' });
  });

  test('malformed commands are refused deterministically', () => {
    const log = new Log();
    expect(log.apply(2, 0, acquire('', 'a', 5))).toMatchObject({ code: 'PALISADE_LEASE_INVALID' });
    expect(log.apply(2, 0, acquire('x', 'a', 0))).toMatchObject({ code: 'PALISADE_LEASE_INVALID' });
    expect(log.apply(2, 0, acquire('x', 'a', 1.5))).toMatchObject({
      code: 'PALISADE_LEASE_INVALID',
    });
  });

  test('entries must arrive in log order', () => {
    const table = new LeaseTable();
    table.apply({ index: 5, term: 3 }, { command: acquire('x', 'a', 5), stamp: 0 });
    expect(() =>
      table.apply({ index: 5, term: 3 }, { command: acquire('x', 'a', 5), stamp: 0 }),
    ).toThrow(RangeError);
    expect(() =>
      table.apply({ index: 6, term: 2 }, { command: acquire('x', 'a', 5), stamp: 0 }),
    ).toThrow(RangeError);
  });

  test('snapshot and restore give a table that decides identically', () => {
    const log = new Log();
    log.apply(2, 1000, acquire('db', 'a', 500));
    log.apply(2, 1100, acquire('q', 'b', 300));
    const copy = new Log(LeaseTable.restore(log.table.snapshot()));
    copy.index = log.index;
    expect(copy.table.snapshot()).toEqual(log.table.snapshot());
    for (const target of [log, copy]) {
      expect(target.apply(3, 7, acquire('db', 'c', 100))).toMatchObject({ outcome: 'held' });
    }
    expect(copy.table.snapshot()).toEqual(log.table.snapshot());
    expect(LeaseTable.restore(new Uint8Array()).list()).toEqual([]);
  });

  test('a grant names the previous holder only when the lease changed hands', () => {
    const log = new Log();
    const first = log.apply(2, 1000, acquire('db', 'a', 500));
    expect(first).not.toHaveProperty('previousHolder');
    expect(log.apply(2, 1100, renew('db', 'a', 1))).not.toHaveProperty('previousHolder');
    expect(log.apply(2, 1200, acquire('db', 'a', 500))).not.toHaveProperty('previousHolder');
    // Expired, then taken by the same holder: no change.
    expect(log.apply(2, 5000, acquire('db', 'a', 500))).not.toHaveProperty('previousHolder');
    // Expired, then taken by another holder.
    expect(log.apply(2, 9000, acquire('db', 'b', 500))).toMatchObject({
      outcome: 'granted',
      previousHolder: 'a',
    });
    // Released, then taken by another holder.
    expect(log.apply(2, 9100, release('db', 'b', 5))).toMatchObject({ outcome: 'released' });
    expect(log.apply(2, 9200, acquire('db', 'c', 500))).toMatchObject({ previousHolder: 'b' });
    // A refused acquire changes nothing.
    expect(log.apply(2, 9300, acquire('db', 'd', 500))).toMatchObject({ outcome: 'held' });
    expect(log.apply(2, 9800, acquire('db', 'd', 500))).toMatchObject({ previousHolder: 'c' });
  });

  test('previous holders survive a snapshot, including one taken before they were recorded', () => {
    const log = new Log();
    log.apply(2, 1000, acquire('db', 'a', 500));
    log.apply(2, 1100, release('db', 'a', 1));
    log.apply(2, 1200, acquire('q', 'x', 500));
    const copy = new Log(LeaseTable.restore(log.table.snapshot()));
    copy.index = log.index;
    expect(copy.apply(2, 1300, acquire('db', 'b', 500))).toMatchObject({ previousHolder: 'a' });

    const old = JSON.parse(new TextDecoder().decode(log.table.snapshot())) as Record<
      string,
      unknown
    >;
    delete old['lastHolders'];
    const fromOld = new Log(LeaseTable.restore(new TextEncoder().encode(JSON.stringify(old))));
    fromOld.index = log.index;
    // Only live leases' holders are known from such a snapshot.
    expect(fromOld.apply(2, 2000, acquire('q', 'y', 500))).toMatchObject({ previousHolder: 'x' });
    expect(fromOld.apply(2, 2100, acquire('db', 'b', 500))).not.toHaveProperty('previousHolder');
  });

  test('remembers the holders of a bounded number of names, forgetting the least recent', () => {
    const log = new Log();
    log.apply(2, 0, acquire('first', 'a', 1));
    log.apply(2, 0, acquire('second', 'a', 1));
    log.apply(2, 1, acquire('first', 'a', 1)); // re-acquired: now more recent than 'second'
    for (let i = 0; i < MAX_REMEMBERED_HOLDERS - 1; i++) log.apply(2, 2, acquire(`n${i}`, 'a', 1));
    expect(log.apply(2, 10, acquire('first', 'b', 1))).toMatchObject({ previousHolder: 'a' });
    expect(log.apply(2, 10, acquire('second', 'b', 1))).not.toHaveProperty('previousHolder');
  });

  test('keeps forgetting the least recently acquired name through many evictions', () => {
    // A reference model (a Map with move-to-end and evict-first) against the table, over names
    // re-acquired in a seeded order, 3 times the bound's worth of grants.
    const log = new Log();
    const model = new Map<string, string>();
    let seed = 7;
    const next = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    const mismatches: string[] = [];
    for (let i = 0; i < 3 * MAX_REMEMBERED_HOLDERS; i++) {
      const name = `n${next() % (MAX_REMEMBERED_HOLDERS + 500)}`;
      const holder = `h${next() % 3}`;
      const before = model.get(name);
      model.delete(name);
      model.set(name, holder);
      if (model.size > MAX_REMEMBERED_HOLDERS) model.delete(model.keys().next().value as string);
      const expected = before !== undefined && before !== holder ? before : undefined;
      // TTL 1 ms and a stamp that moves 1 ms per grant: every lease has expired by its next grant.
      const result = log.apply(2, i, acquire(name, holder, 1));
      const previous = result.outcome === 'granted' ? result.previousHolder : result.outcome;
      if (previous !== expected) mismatches.push(`grant ${i} of ${name}: ${previous}≠${expected}`);
    }
    expect(mismatches.slice(0, 5)).toEqual([]);
  });

  test('view is exact on the current clock and an upper bound across a term change', () => {
    const log = new Log();
    log.apply(2, 1000, acquire('db', 'a', 500));
    expect(log.table.view('db', 2, 1200)).toMatchObject({ holder: 'a', expiresAt: 1500 });
    expect(log.table.view('db', 2, 1500)).toBeUndefined();
    expect(log.table.view('db', 3, 40)).toMatchObject({ holder: 'a', expiresAt: 540 });
  });

  test('commands round-trip through the log encoding; foreign payloads are ignored', () => {
    const command = acquire('db', 'a', 500);
    expect(decodeLeaseCommand(encodeLeaseCommand(command, 12.5))).toEqual({ command, stamp: 12.5 });
    expect(decodeLeaseCommand(new Uint8Array())).toBeUndefined();
    expect(decodeLeaseCommand(new TextEncoder().encode('{"saga":1}'))).toBeUndefined();
    expect(decodeLeaseCommand(new TextEncoder().encode('not json'))).toBeUndefined();
    for (const other of [renew('lé', 'ß', 9), release('x', 'y', 2 ** 40)]) {
      expect(decodeLeaseCommand(encodeLeaseCommand(other, -3))).toEqual({
        command: other,
        stamp: -3,
      });
    }
    // commands logged as JSON before the binary form still decode
    const json = new TextEncoder().encode(JSON.stringify({ lease: command, stamp: 7 }));
    expect(decodeLeaseCommand(json)).toEqual({ command, stamp: 7 });
    // truncated or padded binary payloads are not lease commands
    const binary = encodeLeaseCommand(command, 1);
    expect(decodeLeaseCommand(binary.subarray(0, binary.byteLength - 1))).toBeUndefined();
    expect(decodeLeaseCommand(new Uint8Array([...binary, 0]))).toBeUndefined();
    expect(decodeLeaseCommand(binary.subarray(0, 10))).toBeUndefined();
  });

  test('safeHoldMs shrinks the TTL by the drift bound on both clocks', () => {
    expect(safeHoldMs(1000, 0)).toBe(1000);
    expect(safeHoldMs(1000, 0.01)).toBeCloseTo(980.198, 3);
  });
});
