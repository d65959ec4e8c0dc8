import { describe, expect, it } from '@jest/globals';
import { createSecretKey } from 'node:crypto';
import { SeededRandom } from '../core/random.js';
import { backoffDelay } from './backoff.js';
import {
  decodeHello,
  encodeFrame,
  encodeHello,
  encodeSigned,
  encodeSignedJson,
  FrameDecoder,
  FrameKind,
  fromWireValue,
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
