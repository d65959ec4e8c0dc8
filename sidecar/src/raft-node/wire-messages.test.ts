import { describe, expect, test } from '@jest/globals';
import { fromWireValue, toWireValue } from '../raft-transport/index.js';
import { decodeNodeMessage, type NodeMessage } from './wire-messages.js';

const roundTrip = (message: NodeMessage): unknown =>
  decodeNodeMessage(fromWireValue(JSON.parse(JSON.stringify(toWireValue(message)))));

describe('node messages', () => {
  test('Raft messages, probes and forwarded requests survive the wire', () => {
    const messages: NodeMessage[] = [
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
    for (const message of messages) expect(roundTrip(message)).toEqual(message);
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
});
