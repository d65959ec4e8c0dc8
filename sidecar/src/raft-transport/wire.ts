/**
 * The wire format of the Raft transport (version 1). Pure: encoding, incremental decoding,
 * authentication and validation, no sockets.
 *
 * Every frame is `[length u32 BE][kind u8][body]`, `length` counting kind+body, bounded by the
 * receiver's `maxFrameBytes` (checked before buffering the body).
 *
 * A connection carries messages one way, from the dialer to the listener:
 * 1. listener → dialer `hello`: `[version u8 = 1][nonce: 16 random bytes]`, fresh per connection;
 * 2. dialer → listener `auth`, then any number of `message` frames, each
 *    `[HMAC-SHA256 32 bytes][JSON {group, from, to, seq, messages?}]` where the MAC is keyed by
 *    the group secret over `"palisade-raft-v1\0" ‖ nonce ‖ JSON`, and `seq` counts frames on the
 *    connection from 1 (the `auth` frame) without gaps. A `message` frame carries a non-empty
 *    array of messages, all that were queued for the peer when it was written (up to the frame
 *    bound), so that one MAC, one header and one write serve a whole batch.
 *
 * Replay protection: a recorded frame fails the MAC on any other connection (different nonce)
 * and the sequence check on its own, so nothing can be replayed, reordered or spliced between
 * connections — with no dependence on synchronized clocks, which a timestamp window would need.
 * Raft would tolerate replayed messages anyway (it tolerates duplicates), but not a non-member
 * injecting recorded traffic after it left the group.
 */
import { createHmac, timingSafeEqual, type KeyObject } from 'node:crypto';

/** Frame kinds. */
export const FrameKind = { hello: 1, message: 2, auth: 3 } as const;

/** A frame kind value. */
export type FrameKindValue = (typeof FrameKind)[keyof typeof FrameKind];

/** Bytes of the per-connection nonce the listener sends in `hello`. */
export const NONCE_BYTES = 16;
/** Bytes of an HMAC-SHA256. */
export const MAC_BYTES = 32;
/** The protocol version carried in `hello`. */
export const PROTOCOL_VERSION = 1;

const DOMAIN = Buffer.from('palisade-raft-v1\0', 'latin1');
const MAX_ID_LENGTH = 253;

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

/** The result of {@link openSigned}. */
export type Opened =
  | {
      readonly ok: true;
      readonly envelope: Envelope;
      /** The messages of a `message` frame (at least one); undefined for `auth`. */
      readonly payloads: readonly unknown[] | undefined;
    }
  | { readonly ok: false; readonly reason: 'bad-mac' | 'malformed' };

/**
 * Authenticates and parses an `auth` or `message` frame body. The MAC is checked (in constant
 * time) before any byte is parsed; the JSON is then validated field by field. A `message` must
 * carry a non-empty `messages` array, an `auth` must not carry one.
 */
export function openSigned(key: KeyObject, nonce: Uint8Array, frame: Frame): Opened {
  if (frame.kind !== FrameKind.auth && frame.kind !== FrameKind.message) {
    return { ok: false, reason: 'malformed' };
  }
  if (frame.body.byteLength <= MAC_BYTES) return { ok: false, reason: 'malformed' };
  const json = frame.body.subarray(MAC_BYTES);
  if (!timingSafeEqual(mac(key, nonce, json), frame.body.subarray(0, MAC_BYTES))) {
    return { ok: false, reason: 'bad-mac' };
  }
  let value: unknown;
  try {
    value = JSON.parse(json.toString('utf8'));
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, reason: 'malformed' };
  }
  const { group, from, to, seq, messages } = value as Record<string, unknown>;
  const wellFormedMessages =
    frame.kind === FrameKind.message
      ? Array.isArray(messages) && messages.length > 0
      : messages === undefined;
  if (
    !isId(group) ||
    !isId(from) ||
    !isId(to) ||
    !Number.isSafeInteger(seq) ||
    (seq as number) < 1 ||
    !wellFormedMessages
  ) {
    return { ok: false, reason: 'malformed' };
  }
  const payloads = frame.kind === FrameKind.message ? (messages as unknown[]) : undefined;
  return { ok: true, envelope: { group, from, to, seq: seq as number }, payloads };
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
