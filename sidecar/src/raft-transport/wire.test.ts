import { describe, expect, it } from '@jest/globals';
import { createHmac, createSecretKey, randomBytes } from 'node:crypto';
import { SeededRandom } from '../core/random.js';
import { backoffDelay } from './backoff.js';
import {
  decodeHello,
  encodeFrame,
  encodeHello,
  encodeSigned,
  encodeSignedJson,
  encodeSignedV2,
  FrameDecoder,
  FrameKind,
  fromWireValue,
  listenerVersion,
  markedNonce,
  openSigned,
  toWireValue,
  type Frame,
} from './wire.js';

const key = createSecretKey(Buffer.from('0123456789abcdef0123456789abcdef'));
const otherKey = createSecretKey(Buffer.from('fedcba9876543210fedcba9876543210'));
const nonce = Buffer.alloc(16, 7);
const envelope = { group: 'shop/orders', from: 'a', to: 'b', seq: 2 };

function single(bytes: Buffer): Frame {
  const { frames, error } = new FrameDecoder(1 << 20).push(bytes);
  expect(error).toBeUndefined();
  expect(frames).toHaveLength(1);
  return frames[0] as Frame;
}

describe('FrameDecoder', () => {
  it('reassembles frames split at every byte boundary', () => {
    const stream = Buffer.concat([
      encodeFrame(FrameKind.message, Buffer.from('first')),
      encodeFrame(FrameKind.message, Buffer.from('second frame')),
    ]);
    for (let cut = 0; cut <= stream.byteLength; cut++) {
      const decoder = new FrameDecoder(1024);
      const a = decoder.push(stream.subarray(0, cut));
      const b = decoder.push(stream.subarray(cut));
      const bodies = [...a.frames, ...b.frames].map((f) => f.body.toString());
      expect({ cut, bodies }).toEqual({ cut, bodies: ['first', 'second frame'] });
      expect(decoder.pendingBytes()).toBe(0);
    }
  });

  it('refuses an oversized frame from its header alone, and a zero length', () => {
    const header = Buffer.alloc(4);
    header.writeUInt32BE(1025, 0);
    expect(new FrameDecoder(1024).push(header).error).toBe('oversized');
    expect(new FrameDecoder(1024).push(Buffer.alloc(4)).error).toBe('malformed');
    // Exactly at the bound is accepted.
    const atBound = encodeFrame(FrameKind.message, Buffer.alloc(1023));
    expect(new FrameDecoder(1024).push(atBound).frames).toHaveLength(1);
  });
});

describe('hello', () => {
  it('round-trips the nonce and rejects anything else', () => {
    expect(decodeHello(single(encodeHello(nonce)))?.equals(nonce)).toBe(true);
    expect(decodeHello({ kind: FrameKind.hello, body: Buffer.alloc(5) })).toBeUndefined();
    expect(decodeHello({ kind: FrameKind.message, body: Buffer.alloc(17, 1) })).toBeUndefined();
  });
});

describe('signed frames', () => {
  it('round-trips a message and an auth frame', () => {
    const message = single(encodeSigned(key, nonce, envelope, ['{"x":1}', '[2]']));
    expect(openSigned(key, nonce, message)).toEqual({
      ok: true,
      envelope,
      payloads: [{ x: 1 }, [2]],
      version: 1,
    });
    const auth = single(encodeSigned(key, nonce, { ...envelope, seq: 1 }));
    expect(auth.kind).toBe(FrameKind.auth);
    expect(openSigned(key, nonce, auth)).toMatchObject({ ok: true, payloads: undefined });
  });

  it('fails the MAC with another secret, another nonce, or one flipped byte', () => {
    const frame = single(encodeSigned(key, nonce, envelope, ['{"x":1}']));
    expect(openSigned(otherKey, nonce, frame)).toEqual({ ok: false, reason: 'bad-mac' });
    expect(openSigned(key, Buffer.alloc(16, 8), frame)).toEqual({ ok: false, reason: 'bad-mac' });
    for (let i = 0; i < frame.body.byteLength; i++) {
      const body = Buffer.from(frame.body);
      body.writeUInt8(body.readUInt8(i) ^ 1, i);
      expect(openSigned(key, nonce, { kind: frame.kind, body })).toEqual({
        ok: false,
        reason: 'bad-mac',
      });
    }
  });

  it('rejects authenticated but malformed content', () => {
    const signed = (json: string): Frame =>
      single(encodeSignedJson(key, nonce, FrameKind.message, Buffer.from(json)));
    const malformed = { ok: false, reason: 'malformed' };
    expect(openSigned(key, nonce, signed('not json'))).toEqual(malformed);
    expect(openSigned(key, nonce, signed('[1,2]'))).toEqual(malformed);
    expect(openSigned(key, nonce, signed('null'))).toEqual(malformed);
    const fields = { group: 'g', from: 'a', to: 'b', seq: 1, messages: [1] };
    expect(openSigned(key, nonce, signed(JSON.stringify(fields)))).toMatchObject({ ok: true });
    for (const broken of [
      { ...fields, seq: 0 },
      { ...fields, seq: 1.5 },
      { ...fields, seq: '1' },
      { ...fields, from: '' },
      { ...fields, to: 7 },
      { ...fields, group: 'x'.repeat(254) },
      { ...fields, messages: undefined },
      { ...fields, messages: [] },
      { ...fields, messages: { 0: 1 } },
    ]) {
      expect(openSigned(key, nonce, signed(JSON.stringify(broken)))).toEqual(malformed);
    }
    // Kinds other than auth and message, and bodies too short for a MAC.
    expect(openSigned(key, nonce, { kind: FrameKind.hello, body: Buffer.alloc(64) })).toEqual(
      malformed,
    );
    expect(openSigned(key, nonce, { kind: FrameKind.message, body: Buffer.alloc(32) })).toEqual(
      malformed,
    );
    // An auth frame relabelled as a message has no payload.
    const auth = single(encodeSigned(key, nonce, envelope));
    expect(openSigned(key, nonce, { kind: FrameKind.message, body: auth.body })).toEqual(malformed);
  });
});

/** Signs arbitrary bytes as a v2 message frame body, as a member with the key would. */
function signedV2(signed: Buffer, withNonce: Uint8Array = nonce): Frame {
  const mac = createHmac('sha256', key)
    .update(Buffer.from('palisade-raft-v2\0', 'latin1'))
    .update(withNonce)
    .update(signed)
    .digest();
  return { kind: FrameKind.messageV2, body: Buffer.concat([mac, signed]) };
}

/** A v2 body after the MAC, field by field (so that tests can break one field at a time). */
function v2Body(fields: {
  seq?: number;
  ids?: readonly string[];
  count?: number;
  payloads?: readonly Buffer[];
}): Buffer {
  const seq = Buffer.alloc(8);
  seq.writeDoubleLE(fields.seq ?? 2);
  const ids = (fields.ids ?? ['g', 'a', 'b']).map((id) => {
    const bytes = Buffer.from(id);
    const length = Buffer.alloc(2);
    length.writeUInt16BE(bytes.byteLength);
    return Buffer.concat([length, bytes]);
  });
  const payloads = fields.payloads ?? [Buffer.from('x')];
  const count = Buffer.alloc(2);
  count.writeUInt16BE(fields.count ?? payloads.length);
  const framed = payloads.map((payload) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(payload.byteLength);
    return Buffer.concat([length, payload]);
  });
  return Buffer.concat([seq, ...ids, count, ...framed]);
}

describe('v2 (binary) message frames', () => {
  const payloads = [Buffer.from([0, 1, 255]), Buffer.alloc(0), Buffer.from('zweite Nachricht')];

  it('round-trip a batch, bytes as they were, with the envelope', () => {
    const unicode = { ...envelope, from: 'pod-ä-1' };
    const opened = openSigned(key, nonce, single(encodeSignedV2(key, nonce, unicode, payloads)));
    expect(opened).toEqual({ ok: true, envelope: unicode, payloads, version: 2 });
  });

  it('fail the MAC with another secret, nonce, flipped byte, or as the other version', () => {
    const frame = single(encodeSignedV2(key, nonce, envelope, payloads));
    const badMac = { ok: false, reason: 'bad-mac' };
    expect(openSigned(otherKey, nonce, frame)).toEqual(badMac);
    expect(openSigned(key, Buffer.alloc(16, 8), frame)).toEqual(badMac);
    for (let i = 0; i < frame.body.byteLength; i++) {
      const body = Buffer.from(frame.body);
      body.writeUInt8(body.readUInt8(i) ^ 1, i);
      expect(openSigned(key, nonce, { kind: frame.kind, body })).toEqual(badMac);
    }
    // Relabelled across versions, a body never verifies: the MAC domains differ.
    expect(openSigned(key, nonce, { kind: FrameKind.message, body: frame.body })).toEqual(badMac);
    const v1 = single(encodeSigned(key, nonce, envelope, ['{"x":1}']));
    expect(openSigned(key, nonce, { kind: FrameKind.messageV2, body: v1.body })).toEqual(badMac);
  });

  it('reject authenticated but malformed headers', () => {
    const malformed = { ok: false, reason: 'malformed' };
    expect(openSigned(key, nonce, signedV2(v2Body({})))).toMatchObject({ ok: true, version: 2 });
    for (const broken of [
      v2Body({ seq: 0 }),
      v2Body({ seq: 1.5 }),
      v2Body({ seq: Number.NaN }),
      v2Body({ seq: 2 ** 53 }),
      v2Body({ ids: ['g', '', 'b'] }),
      v2Body({ ids: ['g', 'a', 'x'.repeat(254)] }),
      v2Body({ payloads: [] }),
      v2Body({ count: 2 }),
      v2Body({ count: 0 }),
      Buffer.concat([v2Body({}), Buffer.from([0])]),
      Buffer.alloc(7),
    ]) {
      expect(openSigned(key, nonce, signedV2(broken))).toEqual(malformed);
    }
    expect(openSigned(key, nonce, { kind: FrameKind.messageV2, body: Buffer.alloc(32) })).toEqual(
      malformed,
    );
  });

  it('never throw on random or truncated authenticated bodies, and copy nothing', () => {
    const random = new SeededRandom(7);
    const valid = v2Body({ payloads });
    const bodies: Buffer[] = [];
    for (let cut = 0; cut < valid.byteLength; cut++) bodies.push(valid.subarray(0, cut));
    for (let i = 0; i < 2000; i++) {
      const body = Buffer.from(valid);
      // a few random bytes changed, or random bytes altogether
      if (i % 2 === 0) {
        for (let j = 0; j < 3; j++) body[Math.floor(random.next() * body.byteLength)] = i + j;
        bodies.push(body);
      } else bodies.push(randomBytes(Math.floor(random.next() * 64)));
    }
    for (const body of bodies) {
      const frame = signedV2(body);
      const opened = openSigned(key, nonce, frame);
      if (!opened.ok) {
        expect(opened.reason).toBe('malformed');
        continue;
      }
      // Payloads are views into the frame: decoding allocates nothing beyond it.
      for (const payload of opened.payloads as Buffer[]) {
        expect(payload.buffer).toBe(frame.body.buffer);
      }
    }
  });
});

describe('protocol versions', () => {
  it('a v2 listener marks its nonce, which a v1 dialer accepts as an ordinary hello', () => {
    const marked = markedNonce(randomBytes(16));
    expect(listenerVersion(marked)).toBe(2);
    // The hello keeps the v1 shape (version byte 1, 17 bytes): v1 dialers connect as before.
    const hello = single(encodeHello(marked));
    expect(hello.body[0]).toBe(1);
    expect(decodeHello(hello)?.equals(marked)).toBe(true);
    // 12 bytes of it stay random.
    expect(markedNonce(Buffer.alloc(16, 1)).subarray(0, 12).equals(Buffer.alloc(12, 1))).toBe(true);
  });

  it('a v1 listener (random nonce) gets v1 frames, and a v2 listener opens both', () => {
    expect(listenerVersion(Buffer.alloc(16, 7))).toBe(1);
    expect(listenerVersion(randomBytes(16))).toBe(1); // wrong once in 2^32
    const v2Nonce = markedNonce(randomBytes(16));
    const v1Frame = single(encodeSigned(key, v2Nonce, envelope, ['{"x":1}']));
    const v2Frame = single(encodeSignedV2(key, v2Nonce, envelope, [Buffer.from('{"x":1}')]));
    expect(openSigned(key, v2Nonce, v1Frame)).toMatchObject({ ok: true, version: 1 });
    expect(openSigned(key, v2Nonce, v2Frame)).toMatchObject({ ok: true, version: 2 });
  });
});

describe('wire values', () => {
  it('carries bytes through JSON, nested in objects and arrays', () => {
    const message = {
      type: 'Append',
      entries: [{ index: 3, data: new Uint8Array([0, 1, 255]) }],
      snapshot: { data: Buffer.from('abc') },
    };
    const back = fromWireValue(JSON.parse(JSON.stringify(toWireValue(message)))) as {
      entries: Array<{ data: Uint8Array }>;
      snapshot: { data: Uint8Array };
    };
    expect([...(back.entries[0]?.data ?? [])]).toEqual([0, 1, 255]);
    expect(Buffer.from(back.snapshot.data).toString()).toBe('abc');
  });

  it('never lets a __proto__ key reach an object prototype', () => {
    const value = fromWireValue(JSON.parse('{"__proto__": {"polluted": true}, "a": 1}')) as Record<
      string,
      unknown
    >;
    expect(value.polluted).toBeUndefined();
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect(value.a).toBe(1);
  });
});

describe('backoffDelay', () => {
  it('grows exponentially with jitter in the upper half, and is capped', () => {
    const random = new SeededRandom(42);
    const policy = { baseMs: 50, capMs: 2000 };
    for (let attempt = 0; attempt < 12; attempt++) {
      const ceiling = Math.min(2000, 50 * 2 ** attempt);
      for (let i = 0; i < 20; i++) {
        const delay = backoffDelay(attempt, policy, random);
        expect(delay).toBeGreaterThanOrEqual(ceiling / 2);
        expect(delay).toBeLessThanOrEqual(ceiling);
      }
    }
    expect(backoffDelay(1000, policy, { next: () => 0.999 })).toBeLessThanOrEqual(2000);
  });
});
