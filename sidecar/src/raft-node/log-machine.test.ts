import { describe, expect, it } from '@jest/globals';
import { composeSnapshot, splitSnapshot } from './log-machine.js';
import { decodeNodeMessage } from './wire-messages.js';

const bytes = (text: string) => new TextEncoder().encode(text);

describe('composite snapshots (lease table + saga table)', () => {
  it('round-trips both parts, empty ones included', () => {
    const leases = bytes('{"leases":[]}');
    const sagas = bytes('{"instances":[1]}');
    expect(splitSnapshot(composeSnapshot(leases, sagas))).toEqual({ leases, machine: sagas });
    expect(splitSnapshot(composeSnapshot(leases, new Uint8Array()))).toEqual({
      leases,
      machine: new Uint8Array(),
    });
  });

  it('reads a lease-only snapshot (taken before sagas existed) with an empty machine part', () => {
    const legacy = bytes('{"clockTerm":2}');
    expect(splitSnapshot(legacy)).toEqual({ leases: legacy, machine: new Uint8Array() });
  });
});

describe('call messages over the Raft transport', () => {
  it('accepts a call with any payload (the handler validates it) and well-formed replies', () => {
    expect(decodeNodeMessage({ kind: 'call', id: 3, payload: { op: 'view' } })).toEqual({
      kind: 'call',
      id: 3,
      payload: { op: 'view' },
    });
    expect(
      decodeNodeMessage({ kind: 'call-reply', id: 3, reply: { ok: true, result: 1 } }),
    ).toEqual({ kind: 'call-reply', id: 3, reply: { ok: true, result: 1 } });
    const refused = { ok: false, code: 'PALISADE_RAFT_NOT_LEADER', message: 'no', leader: 'b' };
    expect(decodeNodeMessage({ kind: 'call-reply', id: 4, reply: refused })).toEqual({
      kind: 'call-reply',
      id: 4,
      reply: refused,
    });
  });

  it('refuses malformed call replies and ids', () => {
    expect(() => decodeNodeMessage({ kind: 'call', id: -1, payload: {} })).toThrow(/id/);
    expect(() =>
      decodeNodeMessage({ kind: 'call-reply', id: 1, reply: { ok: false, code: 'WHATEVER' } }),
    ).toThrow(/call reply/);
    expect(() => decodeNodeMessage({ kind: 'call-reply', id: 1, reply: 'yes' })).toThrow();
  });
});
