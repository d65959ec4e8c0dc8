import { describe, expect, test } from '@jest/globals';
import { SeededRandom } from '../core/random.js';
import { fromWireValue, toWireValue } from '../raft-transport/index.js';
import {
  decodeNodeMessage,
  decodeNodeMessageBinary,
  encodeNodeMessageBinary,
  type NodeMessage,
} from './wire-messages.js';

const samples: NodeMessage[] = [
  {
    kind: 'raft',
    message: {
      type: 'Append',
      from: 'a',
      to: 'b',
      term: 3,
      prevIndex: 4,
      prevTerm: 2,
      commit: 4,
      entries: [{ term: 3, index: 5, type: 'normal', data: new Uint8Array([1, 2, 3]) }],
    },
  },
  {
    kind: 'raft',
    message: {
      type: 'Snapshot',
      from: 'a',
      to: 'b',
      term: 3,
      snapshot: {
        metadata: { index: 9, term: 3, conf: { voters: ['a'], learners: [] } },
        data: new Uint8Array([7]),
      },
    },
  },
  { kind: 'probe' },
  { kind: 'probe-reply', initialized: true },
  { kind: 'forward', id: 7, request: { op: 'acquire', name: 'x', holder: 'h', ttlMs: 500 } },
  { kind: 'forward', id: 8, request: { op: 'view', name: 'x' } },
  {
    kind: 'forward-reply',
    id: 7,
    reply: { kind: 'result', outcome: 'granted', token: 12, validForMs: 499.5 },
  },
  {
    kind: 'forward-reply',
    id: 8,
    reply: { kind: 'error', code: 'PALISADE_RAFT_NOT_LEADER', message: 'm', leader: 'c' },
  },
];

const raftSamples: NodeMessage[] = [
  { type: 'PreVote', from: 'a', to: 'b', term: 4, lastIndex: 9, lastTerm: 3 },
  { type: 'Vote', from: 'a', to: 'b', term: 4, lastIndex: 9, lastTerm: 3, transfer: true },
  { type: 'PreVoteResponse', from: 'b', to: 'a', term: 4, reject: false },
  { type: 'VoteResponse', from: 'b', to: 'a', term: 4, reject: true },
  {
    type: 'Append',
    from: 'ä-0',
    to: 'b',
    term: 2 ** 40,
    prevIndex: Number.MAX_SAFE_INTEGER,
    prevTerm: 0,
    commit: 7,
    entries: [
      { term: 3, index: 5, type: 'normal', data: new Uint8Array([1, 2, 3]) },
      { term: 3, index: 6, type: 'config', data: new Uint8Array(0) },
    ],
  },
  {
    type: 'AppendResponse',
    from: 'b',
    to: 'a',
    term: 4,
    index: 9,
    reject: true,
    hintIndex: 8,
    hintTerm: 2,
  },
  { type: 'Heartbeat', from: 'a', to: 'b', term: 4, commit: 3 },
  { type: 'HeartbeatResponse', from: 'b', to: 'a', term: 4 },
  { type: 'TimeoutNow', from: 'a', to: 'b', term: 4 },
].map((message) => ({ kind: 'raft', message }) as NodeMessage);

const binaryRoundTrip = (message: NodeMessage): NodeMessage =>
  decodeNodeMessageBinary(encodeNodeMessageBinary(message));

const roundTrip = (message: NodeMessage): unknown =>
  decodeNodeMessage(fromWireValue(JSON.parse(JSON.stringify(toWireValue(message)))));

describe('node messages', () => {
  test('Raft messages, probes and forwarded requests survive the wire', () => {
    for (const message of samples) expect(roundTrip(message)).toEqual(message);
  });

  test('anything malformed is refused before it reaches the core', () => {
    const bad: unknown[] = [
      null,
      { kind: 'nope' },
      {
        kind: 'raft',
        message: {
          type: 'Vote',
          from: 'a',
          to: 'b',
          term: -1,
          lastIndex: 0,
          lastTerm: 0,
          transfer: false,
        },
      },
      {
        kind: 'raft',
        message: {
          type: 'Append',
          from: 'a',
          to: 'b',
          term: 1,
          prevIndex: 0,
          prevTerm: 0,
          commit: 0,
          entries: [{ term: 1, index: 1, type: 'normal', data: 'text' }],
        },
      },
      { kind: 'raft', message: { type: 'Heartbeat', from: '', to: 'b', term: 1, commit: 0 } },
      { kind: 'forward', id: 1, request: { op: 'acquire', name: 'x', holder: 'h', ttlMs: 1.5 } },
      { kind: 'forward', id: 1, request: { op: 'steal', name: 'x', holder: 'h' } },
      // a lone surrogate: UTF-8 in the log would not carry it unchanged
      {
        kind: 'forward',
        id: 1,
        request: { op: 'acquire', name: 'x', holder: 'h\ud800', ttlMs: 5 },
      },
      { kind: 'forward', id: 1, request: { op: 'view', name: '\udc00x' } },
      {
        kind: 'forward-reply',
        id: 1,
        reply: { kind: 'error', code: 'ANYTHING', message: '', leader: '' },
      },
    ];
    for (const payload of bad) expect(() => decodeNodeMessage(payload)).toThrow(/malformed/);
  });

  test('the binary form carries every message unchanged, Raft ones in a fixed layout', () => {
    for (const message of [...samples, ...raftSamples]) {
      expect(binaryRoundTrip(message)).toEqual(message);
    }
    const append = raftSamples[4] as NodeMessage;
    const bytes = encodeNodeMessageBinary(append);
    expect(bytes[0]).toBe(1); // fixed layout, not JSON
    expect(bytes.includes(Buffer.from('"entries"'))).toBe(false);
    // The Snapshot, probes and forwards travel as JSON behind tag 0.
    expect(encodeNodeMessageBinary(samples[1] as NodeMessage)[0]).toBe(0);
  });

  test('entry data is one copy, not a view of the input (the log must not pin socket buffers)', () => {
    const bytes = encodeNodeMessageBinary(raftSamples[4] as NodeMessage);
    const decoded = decodeNodeMessageBinary(bytes);
    if (decoded.kind !== 'raft' || decoded.message.type !== 'Append') throw new Error('type');
    const [first, second] = decoded.message.entries;
    expect(first?.data.buffer).not.toBe(bytes.buffer);
    expect(first?.data.buffer).toBe(second?.data.buffer);
    expect(first?.data.buffer.byteLength).toBeLessThan(bytes.byteLength);
  });

  test('malformed binary messages are refused', () => {
    const valid = encodeNodeMessageBinary(raftSamples[4] as NodeMessage);
    const breakAt = (offset: number, value: number): Buffer => {
      const copy = Buffer.from(valid);
      copy[offset] = value;
      return copy;
    };
    const withNumber = (offset: number, value: number): Buffer => {
      const copy = Buffer.from(valid);
      copy.writeDoubleLE(value, offset);
      return copy;
    };
    // [tag][type][term f64 @2][from len @10 = 4 bytes 'ä-0'][to len @16 'b'][prevIndex @19]…
    const lastByte = (bytes: Buffer, value: number): Buffer => {
      bytes[bytes.byteLength - 1] = value;
      return bytes;
    };
    const json = (value: unknown): Buffer =>
      Buffer.concat([Buffer.from([0]), Buffer.from(JSON.stringify(toWireValue(value)))]);
    const bad: Buffer[] = [
      Buffer.alloc(0),
      breakAt(0, 2), // unknown tag
      breakAt(1, 9), // Snapshot has no fixed layout
      breakAt(1, 200),
      withNumber(2, -1),
      withNumber(2, 1.5),
      withNumber(2, Number.NaN),
      withNumber(2, 2 ** 53),
      withNumber(19, Number.POSITIVE_INFINITY),
      breakAt(11, 0), // from: empty
      breakAt(11, 200), // from: longer than the message
      Buffer.concat([valid, Buffer.from([0])]), // trailing byte
      lastByte(
        encodeNodeMessageBinary({
          kind: 'raft',
          message: { type: 'VoteResponse', from: 'b', to: 'a', term: 1, reject: true },
        }),
        2,
      ), // a boolean that is 2
      json({ kind: 'nope' }),
      json({ kind: 'raft', message: (raftSamples[6] as { message: unknown }).message }),
      Buffer.from([0, 0x7b]), // tag 0, broken JSON
    ];
    for (const bytes of bad) {
      expect(() => decodeNodeMessageBinary(bytes)).toThrow(/^malformed message/);
    }
    // every truncation of every sample
    for (const message of [...samples, ...raftSamples]) {
      const whole = encodeNodeMessageBinary(message);
      for (let cut = 0; cut < whole.byteLength; cut++) {
        expect(() => decodeNodeMessageBinary(whole.subarray(0, cut))).toThrow(/^malformed message/);
      }
    }
  });

  test('random and mutated bytes: refused as malformed or decoded, never anything else', () => {
    const random = new SeededRandom(11);
    const originals = [...samples, ...raftSamples].map(encodeNodeMessageBinary);
    for (let i = 0; i < 5000; i++) {
      const original = originals[i % originals.length] as Buffer;
      const bytes =
        i % 3 === 0
          ? Buffer.from(
              Array.from({ length: Math.floor(random.next() * 80) }, () => random.next() * 256),
            )
          : Buffer.from(original);
      if (i % 3 !== 0) {
        for (let j = 0; j < 1 + (i % 4); j++) {
          bytes[Math.floor(random.next() * bytes.byteLength)] = Math.floor(random.next() * 256);
        }
      }
      try {
        const decoded = decodeNodeMessageBinary(bytes);
        // Whatever decodes is a valid message: it survives the JSON path's validation too.
        expect(
          decodeNodeMessage(fromWireValue(JSON.parse(JSON.stringify(toWireValue(decoded))))),
        ).toEqual(decoded);
        if (decoded.kind === 'raft' && decoded.message.type === 'Append') {
          for (const entry of decoded.message.entries) {
            expect(entry.data.buffer.byteLength).toBeLessThanOrEqual(bytes.byteLength);
          }
        }
      } catch (error) {
        expect(String(error)).toMatch(/malformed message/);
      }
    }
  });
});
