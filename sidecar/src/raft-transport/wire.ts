/**
 * The wire format of the Raft transport (versions 1 and 2). Pure: encoding, incremental decoding,
 * authentication and validation, no sockets.
 *
 * Every frame is `[length u32 BE][kind u8][body]`, `length` counting kind+body, bounded by the
 * receiver's `maxFrameBytes` (checked before buffering the body).
 *
 * A connection carries messages one way, from the dialer to the listener:
 * 1. listener → dialer `hello`: `[version u8 = 1][nonce: 16 bytes]`, fresh per connection;
 * 2. dialer → listener `auth` (`[HMAC-SHA256 32 bytes][JSON {group, from, to, seq}]`), then any
 *    number of message frames. `seq` counts frames on the connection from 1 (the `auth` frame)
 *    without gaps. A message frame carries a non-empty batch of messages, all that were queued
 *    for the peer when it was written (up to the frame bound), so that one MAC, one header and
 *    one write serve a whole batch. Two formats:
 *    - v1 `message`: `[MAC][JSON {group, from, to, seq, messages}]`, the messages as JSON values
 *      (bytes as `{"$bytes": base64}`), MAC over `"palisade-raft-v1\0" ‖ nonce ‖ JSON`;
 *    - v2 `message-v2`: `[MAC][seq f64 LE][group][from][to][count u16 BE]` then `count` times
 *      `[length u32 BE][message bytes]`, ids as `[length u16 BE][UTF-8]`, the message bytes as
 *      the caller's codec made them (raw: no base64, no JSON); MAC over
 *      `"palisade-raft-v2\0" ‖ nonce ‖ everything after the MAC`. The distinct domain keeps a
 *      v1 body from ever verifying as v2 and the reverse.
 *
 * Versions: a v1 dialer accepts only a hello whose version byte is 1 and whose body is 17 bytes,
 * so a v2 listener cannot raise the byte without locking v1 dialers out during a rolling upgrade.
 * It says "v2" inside the nonce instead: 12 random bytes then {@link V2_MARKER} (`"PR"`, the
 * version, 0). A v2 dialer sends v2 frames only after such a hello; a v1 listener's nonce carries
 * the marker by chance once in 2^32 connections, and then only that connection fails (the
 * listener closes it as malformed; the redial gets a new nonce). A v2 listener accepts both.
 *
 * Replay protection: a recorded frame fails the MAC on any other connection (different nonce)
 * and the sequence check on its own, so nothing can be replayed, reordered or spliced between
 * connections — with no dependence on synchronized clocks, which a timestamp window would need.
 * Raft would tolerate replayed messages anyway (it tolerates duplicates), but not a non-member
 * injecting recorded traffic after it left the group.
 */
import { createHmac, timingSafeEqual, type KeyObject } from 'node:crypto';

/** Frame kinds. */
export const FrameKind = { hello: 1, message: 2, auth: 3, messageV2: 4 } as const;

/** A frame kind value. */
export type FrameKindValue = (typeof FrameKind)[keyof typeof FrameKind];

/** Bytes of the per-connection nonce the listener sends in `hello`. */
export const NONCE_BYTES = 16;
/** Bytes of an HMAC-SHA256. */
export const MAC_BYTES = 32;
/** The version byte of `hello` (v1 dialers accept no other). */
export const PROTOCOL_VERSION = 1;
/** The newest frame format this code speaks, announced in the nonce. */
export const WIRE_VERSION = 2;
/** The last 4 bytes of a v2 listener's nonce. */
export const V2_MARKER = Buffer.from([0x50, 0x52, WIRE_VERSION, 0]);

const DOMAIN = Buffer.from('palisade-raft-v1\0', 'latin1');
const DOMAIN_V2 = Buffer.from('palisade-raft-v2\0', 'latin1');
const MAX_ID_LENGTH = 253;
/** Messages in one v2 frame at most (its count is a u16). */
export const MAX_FRAME_MESSAGES = 0xffff;
/** Bytes a v2 frame adds per message: its length. */
export const V2_MESSAGE_OVERHEAD = 4;

/** One decoded frame. */
export interface Frame {
  readonly kind: number;
  readonly body: Buffer;
}

/** Encodes a frame. */
export function encodeFrame(kind: FrameKindValue, body: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(5 + body.byteLength);
  frame.writeUInt32BE(1 + body.byteLength, 0);
  frame[4] = kind;
  frame.set(body, 5);
  return frame;
}

/** The `hello` frame with `nonce`. */
export function encodeHello(nonce: Uint8Array): Buffer {
  const body = Buffer.allocUnsafe(1 + NONCE_BYTES);
  body[0] = PROTOCOL_VERSION;
  body.set(nonce, 1);
  return encodeFrame(FrameKind.hello, body);
}

/** A fresh nonce for a v2 listener's hello: 12 random bytes, then {@link V2_MARKER}. */
export function markedNonce(random: Uint8Array): Buffer {
  const nonce = Buffer.allocUnsafe(NONCE_BYTES);
  nonce.set(random.subarray(0, NONCE_BYTES - V2_MARKER.byteLength));
  nonce.set(V2_MARKER, NONCE_BYTES - V2_MARKER.byteLength);
  return nonce;
}

/** The frame format a listener speaks, from its nonce: 2 if marked, else 1. */
export function listenerVersion(nonce: Uint8Array): 1 | 2 {
  const at = NONCE_BYTES - V2_MARKER.byteLength;
  return nonce.byteLength === NONCE_BYTES && V2_MARKER.equals(nonce.subarray(at)) ? 2 : 1;
}

/** The nonce of a `hello` frame, or undefined if it is not a valid one. */
export function decodeHello(frame: Frame): Buffer | undefined {
  if (frame.kind !== FrameKind.hello) return undefined;
  if (frame.body.byteLength !== 1 + NONCE_BYTES || frame.body[0] !== PROTOCOL_VERSION) {
    return undefined;
  }
  return frame.body.subarray(1);
}

/**
 * Splits a byte stream into frames. Feed every chunk to {@link FrameDecoder.push}; a frame's body
 * is assembled with one copy however many chunks it arrived in.
 */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;

  constructor(private maxFrameBytes: number) {}

  /** Changes the bound for the frames still to come (e.g. raised once a peer authenticated). */
  setMaxFrameBytes(maxFrameBytes: number): void {
    this.maxFrameBytes = maxFrameBytes;
  }

  /**
   * The frames completed by `chunk`, or the reason the stream must be abandoned: `oversized`
   * (a declared length above the bound; the body is never buffered) or `malformed` (a zero
   * length).
   */
  push(chunk: Buffer): { frames: Frame[]; error?: 'oversized' | 'malformed' } {
    this.write(chunk);
    const frames: Frame[] = [];
    for (;;) {
      const next = this.read();
      if (next === undefined) return { frames };
      if (typeof next === 'string') return { frames, error: next };
      frames.push(next);
    }
  }

  /** Buffers a chunk; take the frames out with {@link read}. */
  write(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.buffered += chunk.byteLength;
  }

  /**
   * The next complete frame, undefined if none is complete yet, or the reason to abandon the
   * stream. One at a time, so that the caller can change the bound between frames.
   */
  read(): Frame | 'oversized' | 'malformed' | undefined {
    if (this.buffered < 4) return undefined;
    const length = this.peekLength();
    if (length === 0) return 'malformed';
    if (length > this.maxFrameBytes) return 'oversized';
    if (this.buffered < 4 + length) return undefined;
    const bytes = this.take(4 + length);
    return { kind: bytes[4] ?? 0, body: bytes.subarray(5) };
  }

  /** Bytes held for an incomplete frame. */
  pendingBytes(): number {
    return this.buffered;
  }

  private peekLength(): number {
    const first = this.chunks[0];
    if (first && first.byteLength >= 4) return first.readUInt32BE(0);
    const joined = Buffer.concat(this.chunks);
    this.chunks = [joined];
    return joined.readUInt32BE(0);
  }

  private take(count: number): Buffer {
    const joined = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
    if (joined === undefined) throw new Error('FrameDecoder: nothing buffered');
    const rest = joined.subarray(count);
    this.chunks = rest.byteLength > 0 ? [rest] : [];
    this.buffered = rest.byteLength;
    return joined.subarray(0, count);
  }
}

/** The authenticated header of `auth` and `message` frames. */
export interface Envelope {
  readonly group: string;
  readonly from: string;
  readonly to: string;
  readonly seq: number;
}

function mac(key: KeyObject, nonce: Uint8Array, json: Uint8Array): Buffer {
  return createHmac('sha256', key).update(DOMAIN).update(nonce).update(json).digest();
}

/**
 * Encodes an `auth` frame (no `payloadJsons`) or a `message` frame carrying the given messages,
 * each already serialized as JSON (spliced in as is, so that each is serialized once).
 */
export function encodeSigned(
  key: KeyObject,
  nonce: Uint8Array,
  envelope: Envelope,
  payloadJsons?: readonly string[],
): Buffer {
  const header = JSON.stringify({
    group: envelope.group,
    from: envelope.from,
    to: envelope.to,
    seq: envelope.seq,
  });
  const text =
    payloadJsons === undefined
      ? header
      : `${header.slice(0, -1)},"messages":[${payloadJsons.join(',')}]}`;
  const kind = payloadJsons === undefined ? FrameKind.auth : FrameKind.message;
  return encodeSignedJson(key, nonce, kind, Buffer.from(text, 'utf8'));
}

/** Signs arbitrary JSON bytes as a frame of `kind` (the raw form of {@link encodeSigned}). */
export function encodeSignedJson(
  key: KeyObject,
  nonce: Uint8Array,
  kind: FrameKindValue,
  json: Uint8Array,
): Buffer {
  const body = Buffer.allocUnsafe(MAC_BYTES + json.byteLength);
  mac(key, nonce, json).copy(body, 0);
  body.set(json, MAC_BYTES);
  return encodeFrame(kind, body);
}

/**
 * Encodes a v2 message frame carrying `payloads` (each a message as the codec encoded it), in
 * one allocation: the header and payloads are written in place, then the MAC over them.
 */
export function encodeSignedV2(
  key: KeyObject,
  nonce: Uint8Array,
  envelope: Envelope,
  payloads: readonly Uint8Array[],
): Buffer {
  if (payloads.length === 0 || payloads.length > MAX_FRAME_MESSAGES) {
    throw new RangeError(`a v2 frame carries 1 to ${MAX_FRAME_MESSAGES} messages`);
  }
  const groupBytes = Buffer.byteLength(envelope.group);
  const fromBytes = Buffer.byteLength(envelope.from);
  const toBytes = Buffer.byteLength(envelope.to);
  let size = 5 + MAC_BYTES + 8 + 6 + groupBytes + fromBytes + toBytes + 2;
  for (const payload of payloads) size += V2_MESSAGE_OVERHEAD + payload.byteLength;
  const frame = Buffer.allocUnsafe(size);
  frame.writeUInt32BE(size - 4, 0);
  frame[4] = FrameKind.messageV2;
  let at = 5 + MAC_BYTES;
  at = frame.writeDoubleLE(envelope.seq, at);
  at = writeId(frame, at, envelope.group, groupBytes);
  at = writeId(frame, at, envelope.from, fromBytes);
  at = writeId(frame, at, envelope.to, toBytes);
  at = frame.writeUInt16BE(payloads.length, at);
  for (const payload of payloads) {
    at = frame.writeUInt32BE(payload.byteLength, at);
    frame.set(payload, at);
    at += payload.byteLength;
  }
  const signed = frame.subarray(5 + MAC_BYTES);
  createHmac('sha256', key).update(DOMAIN_V2).update(nonce).update(signed).digest().copy(frame, 5);
  return frame;
}

function writeId(frame: Buffer, at: number, id: string, bytes: number): number {
  at = frame.writeUInt16BE(bytes, at);
  return at + frame.write(id, at, bytes, 'utf8');
}

/** The result of {@link openSigned}. */
export type Opened =
  | {
      readonly ok: true;
      readonly envelope: Envelope;
      /**
       * The messages of a message frame (at least one), undefined for `auth`: JSON values
       * (bytes still as `{"$bytes"}`) from a v1 frame, the codec's bytes from a v2 frame (views
       * into the frame, valid as long as it is).
       */
      readonly payloads: readonly unknown[] | undefined;
      /** The frame format: 2 for `message-v2`, else 1. */
      readonly version: 1 | 2;
    }
  | { readonly ok: false; readonly reason: 'bad-mac' | 'malformed' };

const MALFORMED = { ok: false, reason: 'malformed' } as const;
const BAD_MAC = { ok: false, reason: 'bad-mac' } as const;

/**
 * Authenticates and parses an `auth`, `message` or `message-v2` frame body. The MAC is checked
 * (in constant time) before any byte is parsed; the content is then validated field by field. A
 * message frame must carry at least one message, an `auth` frame none.
 */
export function openSigned(key: KeyObject, nonce: Uint8Array, frame: Frame): Opened {
  if (frame.kind === FrameKind.messageV2) return openSignedV2(key, nonce, frame.body);
  if (frame.kind !== FrameKind.auth && frame.kind !== FrameKind.message) return MALFORMED;
  if (frame.body.byteLength <= MAC_BYTES) return MALFORMED;
  const json = frame.body.subarray(MAC_BYTES);
  if (!timingSafeEqual(mac(key, nonce, json), frame.body.subarray(0, MAC_BYTES))) return BAD_MAC;
  let value: unknown;
  try {
    value = JSON.parse(json.toString('utf8'));
  } catch {
    return MALFORMED;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return MALFORMED;
  const { group, from, to, seq, messages } = value as Record<string, unknown>;
  const wellFormedMessages =
    frame.kind === FrameKind.message
      ? Array.isArray(messages) && messages.length > 0
      : messages === undefined;
  if (!isId(group) || !isId(from) || !isId(to) || !isSeq(seq) || !wellFormedMessages) {
    return MALFORMED;
  }
  const payloads = frame.kind === FrameKind.message ? (messages as unknown[]) : undefined;
  return { ok: true, envelope: { group, from, to, seq }, payloads, version: 1 };
}

function openSignedV2(key: KeyObject, nonce: Uint8Array, body: Buffer): Opened {
  if (body.byteLength <= MAC_BYTES) return MALFORMED;
  const signed = body.subarray(MAC_BYTES);
  const expected = createHmac('sha256', key)
    .update(DOMAIN_V2)
    .update(nonce)
    .update(signed)
    .digest();
  if (!timingSafeEqual(expected, body.subarray(0, MAC_BYTES))) return BAD_MAC;
  // Every read below is bounds-checked against `end` first: Buffer would throw, not return.
  const end = signed.byteLength;
  if (end < 8) return MALFORMED;
  const seq = signed.readDoubleLE(0);
  let at = 8;
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) {
    if (at + 2 > end) return MALFORMED;
    const length = signed.readUInt16BE(at);
    at += 2;
    if (length === 0 || at + length > end) return MALFORMED;
    const id = signed.toString('utf8', at, at + length);
    if (!isId(id)) return MALFORMED;
    ids.push(id);
    at += length;
  }
  if (at + 2 > end) return MALFORMED;
  const count = signed.readUInt16BE(at);
  at += 2;
  if (count === 0 || !isSeq(seq)) return MALFORMED;
  const payloads: Buffer[] = new Array<Buffer>(count);
  for (let i = 0; i < count; i++) {
    if (at + V2_MESSAGE_OVERHEAD > end) return MALFORMED;
    const length = signed.readUInt32BE(at);
    at += V2_MESSAGE_OVERHEAD;
    if (length > end - at) return MALFORMED;
    payloads[i] = signed.subarray(at, at + length);
    at += length;
  }
  if (at !== end) return MALFORMED;
  const [group = '', from = '', to = ''] = ids;
  return { ok: true, envelope: { group, from, to, seq }, payloads, version: 2 };
}

function isSeq(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 1;
}

function isId(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_ID_LENGTH;
}

/**
 * Prepares a message for JSON: every `Uint8Array` (Buffers included) becomes
 * `{"$bytes": "<base64>"}`, since Raft messages carry entry and snapshot data as bytes.
 */
export function toWireValue(value: unknown): unknown {
  if (value instanceof Uint8Array) {
    return {
      $bytes: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64'),
    };
  }
  if (Array.isArray(value)) return value.map(toWireValue);
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [key, field] of Object.entries(value)) out[key] = toWireValue(field);
    return out;
  }
  return value;
}

/** The inverse of {@link toWireValue}: `{"$bytes": …}` objects become `Uint8Array`s. */
export function fromWireValue(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(fromWireValue);
  if (typeof value === 'object' && value !== null) {
    const record = value as Record<string, unknown>;
    const keys = Object.keys(record);
    if (keys.length === 1 && keys[0] === '$bytes' && typeof record.$bytes === 'string') {
      return new Uint8Array(Buffer.from(record.$bytes, 'base64'));
    }
    const out: Record<string, unknown> = {};
    // `__proto__` would set the prototype of `out` rather than a field: never a Raft field.
    for (const key of keys) if (key !== '__proto__') out[key] = fromWireValue(record[key]);
    return out;
  }
  return value;
}
