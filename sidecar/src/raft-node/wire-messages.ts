/**
 * What sidecars of one group say to each other over the Raft transport: the core's Raft messages,
 * the bootstrap probe, and lease requests forwarded to the leader (the admin API is loopback-only,
 * so a follower cannot reach the leader's; see docs/decisions/0011-raft-driver.md).
 *
 * Everything that arrives is validated here before the core or the lease table sees it: the MAC
 * only proves that a member of the group sent it, not that it is well formed.
 */
import type { LeaseCommand } from '../leases/index.js';
import type { Entry, EntryType, Message, Snapshot } from '../raft/index.js';
import { fromWireValue, toWireValue } from '../raft-transport/index.js';

/** A lease request as forwarded to the leader: a command, or a read of one lease. */
export type LeaseRequest = LeaseCommand | { readonly op: 'view'; readonly name: string };

/** A lease as a read answers it (times relative to the leader's clock at the read). */
export interface LeaseView {
  readonly name: string;
  readonly holder: string;
  readonly token: number;
  readonly validForMs: number;
}

/**
 * The leader's answer to a lease request. `result` mirrors the lease table's results; `view` is
 * the answer to a read (`lease` absent when nobody holds it); `error` says why nothing was done.
 */
export type LeaseReply =
  | {
      readonly kind: 'result';
      readonly outcome: 'granted' | 'held' | 'released' | 'refused';
      readonly token?: number;
      readonly holder?: string;
      readonly validForMs?: number;
      readonly code?: string;
      readonly message?: string;
    }
  | { readonly kind: 'view'; readonly lease?: LeaseView }
  | {
      readonly kind: 'error';
      readonly code: RaftNodeUnavailableCode;
      readonly message: string;
      readonly leader: string;
    };

/** Why a request could not be served now; all are retryable (HTTP 503). */
export type RaftNodeUnavailableCode =
  /** No leader is known (election in progress, or this node is cut off). */
  | 'PALISADE_RAFT_NO_LEADER'
  /** The request reached a node that is no longer the leader, or leadership changed meanwhile. */
  | 'PALISADE_RAFT_NOT_LEADER'
  /** No answer within the request deadline: the command may or may not have been applied. */
  | 'PALISADE_RAFT_TIMEOUT'
  /** The node is shutting down. */
  | 'PALISADE_RAFT_STOPPED'
  /** Too many requests wait for the log already; retry later. */
  | 'PALISADE_RAFT_OVERLOADED';

/** One message between nodes. */
export type NodeMessage =
  | { readonly kind: 'raft'; readonly message: Message }
  | { readonly kind: 'probe' }
  | { readonly kind: 'probe-reply'; readonly initialized: boolean }
  | { readonly kind: 'forward'; readonly id: number; readonly request: LeaseRequest }
  | { readonly kind: 'forward-reply'; readonly id: number; readonly reply: LeaseReply }
  /** Another module's request for the leader (sagas); its handler validates `payload`. */
  | { readonly kind: 'call'; readonly id: number; readonly payload: unknown }
  | { readonly kind: 'call-reply'; readonly id: number; readonly reply: CallReply };

/** The leader's answer to a `call`: the handler's result, or why it was not run (retryable). */
export type CallReply =
  | { readonly ok: true; readonly result: unknown }
  | {
      readonly ok: false;
      readonly code: RaftNodeUnavailableCode;
      readonly message: string;
      readonly leader: string;
    };

const MAX_ID_LENGTH = 253;
const MAX_ENTRIES_PER_MESSAGE = 100_000;

class MalformedMessage extends Error {}

function fail(what: string): never {
  throw new MalformedMessage(`malformed message: ${what}`);
}

function record(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(what);
  return value as Record<string, unknown>;
}

function str(value: unknown, what: string, allowEmpty = true): string {
  if (typeof value !== 'string' || value.length > MAX_ID_LENGTH) fail(what);
  if (!allowEmpty && value.length === 0) fail(what);
  return value;
}

function count(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) fail(what);
  return value;
}

function bool(value: unknown, what: string): boolean {
  if (typeof value !== 'boolean') fail(what);
  return value;
}

function bytes(value: unknown, what: string): Uint8Array {
  if (!(value instanceof Uint8Array)) fail(what);
  return value;
}

function ids(value: unknown, what: string): string[] {
  if (!Array.isArray(value) || value.length > 1000) fail(what);
  return value.map((id) => str(id, what, false));
}

function entry(value: unknown): Entry {
  const e = record(value, 'entry');
  const type = e.type;
  if (type !== 'normal' && type !== 'config') fail('entry type');
  return {
    term: count(e.term, 'entry term'),
    index: count(e.index, 'entry index'),
    type,
    data: bytes(e.data, 'entry data'),
  };
}

function snapshot(value: unknown): Snapshot {
  const s = record(value, 'snapshot');
  const metadata = record(s.metadata, 'snapshot metadata');
  const conf = record(metadata.conf, 'snapshot conf');
  return {
    metadata: {
      index: count(metadata.index, 'snapshot index'),
      term: count(metadata.term, 'snapshot term'),
      conf: { voters: ids(conf.voters, 'voters'), learners: ids(conf.learners, 'learners') },
    },
    data: bytes(s.data, 'snapshot data'),
  };
}

// Messages are built as literals with every field, not by spreading a common base: V8 builds a
// spread-then-extended literal ten times slower (4.4 → 0.4 µs per decoded AppendResponse).
/** Validates a Raft message of the core (field by field: nothing unchecked reaches `step`). */
export function decodeRaftMessage(value: unknown): Message {
  const m = record(value, 'raft message');
  const from = str(m.from, 'from', false);
  const to = str(m.to, 'to', false);
  const term = count(m.term, 'term');
  switch (m.type) {
    case 'PreVote':
      return {
        from,
        to,
        term,
        type: 'PreVote',
        lastIndex: count(m.lastIndex, 'lastIndex'),
        lastTerm: count(m.lastTerm, 'lastTerm'),
      };
    case 'Vote':
      return {
        from,
        to,
        term,
        type: 'Vote',
        lastIndex: count(m.lastIndex, 'lastIndex'),
        lastTerm: count(m.lastTerm, 'lastTerm'),
        transfer: bool(m.transfer, 'transfer'),
      };
    case 'PreVoteResponse':
    case 'VoteResponse':
      return { from, to, term, type: m.type, reject: bool(m.reject, 'reject') };
    case 'Append': {
      if (!Array.isArray(m.entries) || m.entries.length > MAX_ENTRIES_PER_MESSAGE) fail('entries');
      return {
        from,
        to,
        term,
        type: 'Append',
        prevIndex: count(m.prevIndex, 'prevIndex'),
        prevTerm: count(m.prevTerm, 'prevTerm'),
        entries: m.entries.map(entry),
        commit: count(m.commit, 'commit'),
      };
    }
    case 'AppendResponse':
      return {
        from,
        to,
        term,
        type: 'AppendResponse',
        index: count(m.index, 'index'),
        reject: bool(m.reject, 'reject'),
        hintIndex: count(m.hintIndex, 'hintIndex'),
        hintTerm: count(m.hintTerm, 'hintTerm'),
      };
    case 'Heartbeat':
      return { from, to, term, type: 'Heartbeat', commit: count(m.commit, 'commit') };
    case 'HeartbeatResponse':
      return { from, to, term, type: 'HeartbeatResponse' };
    case 'Snapshot':
      return { from, to, term, type: 'Snapshot', snapshot: snapshot(m.snapshot) };
    case 'TimeoutNow':
      return { from, to, term, type: 'TimeoutNow' };
    default:
      return fail('raft message type');
  }
}

/** A UTF-16 surrogate without its pair: UTF-8 (the log's encoding of names) cannot carry it. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * A lease name or holder: the leader applies its own proposals without decoding them from the
 * log, so they must survive the log's UTF-8 unchanged, as on every other replica.
 */
function leaseString(value: unknown, what: string): string {
  const text = str(value, what, false);
  if (LONE_SURROGATE.test(text)) fail(what);
  return text;
}

function leaseRequest(value: unknown): LeaseRequest {
  const r = record(value, 'lease request');
  const name = leaseString(r.name, 'lease name');
  if (r.op === 'view') return { op: 'view', name };
  const holder = leaseString(r.holder, 'holder');
  switch (r.op) {
    case 'acquire':
      return { op: 'acquire', name, holder, ttlMs: count(r.ttlMs, 'ttlMs') };
    case 'renew':
    case 'release':
      return { op: r.op, name, holder, token: count(r.token, 'token') };
    default:
      return fail('lease op');
  }
}

const OUTCOMES = new Set(['granted', 'held', 'released', 'refused']);
const UNAVAILABLE_CODES = new Set<string>([
  'PALISADE_RAFT_NO_LEADER',
  'PALISADE_RAFT_NOT_LEADER',
  'PALISADE_RAFT_TIMEOUT',
  'PALISADE_RAFT_STOPPED',
  'PALISADE_RAFT_OVERLOADED',
]);

function optional<T>(value: unknown, check: (v: unknown, what: string) => T, what: string) {
  return value === undefined ? undefined : check(value, what);
}

function shortText(value: unknown, what: string): string {
  if (typeof value !== 'string' || value.length > 2048) fail(what);
  return value;
}

function leaseReply(value: unknown): LeaseReply {
  const r = record(value, 'lease reply');
  switch (r.kind) {
    case 'result': {
      const outcome = r.outcome;
      if (typeof outcome !== 'string' || !OUTCOMES.has(outcome)) fail('outcome');
      return {
        kind: 'result',
        outcome: outcome as 'granted' | 'held' | 'released' | 'refused',
        token: optional(r.token, count, 'token'),
        holder: optional(r.holder, str, 'holder'),
        validForMs: optional(r.validForMs, finite, 'validForMs'),
        code: optional(r.code, str, 'code'),
        message: optional(r.message, shortText, 'message'),
      };
    }
    case 'view': {
      if (r.lease === undefined) return { kind: 'view' };
      const l = record(r.lease, 'lease');
      return {
        kind: 'view',
        lease: {
          name: str(l.name, 'name', false),
          holder: str(l.holder, 'holder', false),
          token: count(l.token, 'token'),
          validForMs: finite(l.validForMs, 'validForMs'),
        },
      };
    }
    case 'error': {
      const code = r.code;
      if (typeof code !== 'string' || !UNAVAILABLE_CODES.has(code)) fail('error code');
      return {
        kind: 'error',
        code: code as RaftNodeUnavailableCode,
        message: shortText(r.message, 'message'),
        leader: str(r.leader, 'leader'),
      };
    }
    default:
      return fail('lease reply kind');
  }
}

function callReply(value: unknown): CallReply {
  const r = record(value, 'call reply');
  if (r.ok === true) return { ok: true, result: r.result };
  const code = r.code;
  if (r.ok !== false || typeof code !== 'string' || !UNAVAILABLE_CODES.has(code))
    fail('call reply');
  return {
    ok: false,
    code: code as RaftNodeUnavailableCode,
    message: shortText(r.message, 'message'),
    leader: str(r.leader, 'leader'),
  };
}

function finite(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) fail(what);
  return value;
}

/**
 * Validates an inbound payload (as the transport hands it: JSON with bytes restored). Throws on
 * anything malformed; the transport counts it and closes the connection.
 */
export function decodeNodeMessage(payload: unknown): NodeMessage {
  const m = record(payload, 'node message');
  switch (m.kind) {
    case 'raft':
      return { kind: 'raft', message: decodeRaftMessage(m.message) };
    case 'probe':
      return { kind: 'probe' };
    case 'probe-reply':
      return { kind: 'probe-reply', initialized: bool(m.initialized, 'initialized') };
    case 'forward':
      return { kind: 'forward', id: count(m.id, 'id'), request: leaseRequest(m.request) };
    case 'forward-reply':
      return { kind: 'forward-reply', id: count(m.id, 'id'), reply: leaseReply(m.reply) };
    case 'call':
      return { kind: 'call', id: count(m.id, 'id'), payload: m.payload };
    case 'call-reply':
      return { kind: 'call-reply', id: count(m.id, 'id'), reply: callReply(m.reply) };
    default:
      return fail('kind');
  }
}

/*
 * The binary form of node messages (frame format v2, see raft-transport/wire.ts). The messages
 * of the lease path — appends with their entries, their responses, heartbeats, votes — have a
 * fixed layout, entries' data as raw bytes; the rare rest (snapshots, probes, forwarded requests
 * and calls) is its v1 JSON behind a tag, and goes through the same validation as v1.
 *
 * `[tag u8]`, then for tag 1 (`raft`): `[type u8][term f64][from][to]` and the type's fields in
 * their declaration order: numbers as f64 LE (validated as safe non-negative integers), booleans
 * as one byte 0/1, ids as `[length u16 BE][UTF-8]`; an Append's entries as `[count u32 BE]` then
 * per entry `[term f64][index f64][type u8: 0 normal, 1 config][length u32 BE][data]`.
 * For tag 0 (`json`): the UTF-8 of `JSON.stringify(toWireValue(message))`.
 */
const TAG_JSON = 0;
const TAG_RAFT = 1;

/** The binary codes of Raft message types; the index is the code. */
const RAFT_TYPES = [
  'PreVote',
  'Vote',
  'PreVoteResponse',
  'VoteResponse',
  'Append',
  'AppendResponse',
  'Heartbeat',
  'HeartbeatResponse',
  'TimeoutNow',
] as const;
const RAFT_TYPE_CODES = new Map<string, number>(RAFT_TYPES.map((type, code) => [type, code]));
const ENTRY_HEADER_BYTES = 8 + 8 + 1 + 4;

/** Encodes a node message in the binary form (one allocation for the fixed-layout ones). */
export function encodeNodeMessageBinary(message: NodeMessage): Buffer {
  const code = message.kind === 'raft' ? RAFT_TYPE_CODES.get(message.message.type) : undefined;
  if (message.kind !== 'raft' || code === undefined) {
    const json = JSON.stringify(toWireValue(message));
    const out = Buffer.allocUnsafe(1 + Buffer.byteLength(json));
    out[0] = TAG_JSON;
    out.write(json, 1, 'utf8');
    return out;
  }
  const m = message.message;
  const fromBytes = Buffer.byteLength(m.from);
  const toBytes = Buffer.byteLength(m.to);
  let size = 2 + 8 + 2 + fromBytes + 2 + toBytes + fieldBytes(m);
  if (m.type === 'Append') {
    size += 4;
    for (const e of m.entries) size += ENTRY_HEADER_BYTES + e.data.byteLength;
  }
  const out = Buffer.allocUnsafe(size);
  out[0] = TAG_RAFT;
  out[1] = code;
  let at = out.writeDoubleLE(m.term, 2);
  at = out.writeUInt16BE(fromBytes, at);
  at += out.write(m.from, at, fromBytes, 'utf8');
  at = out.writeUInt16BE(toBytes, at);
  at += out.write(m.to, at, toBytes, 'utf8');
  switch (m.type) {
    case 'PreVote':
      at = out.writeDoubleLE(m.lastIndex, at);
      out.writeDoubleLE(m.lastTerm, at);
      break;
    case 'Vote':
      at = out.writeDoubleLE(m.lastIndex, at);
      at = out.writeDoubleLE(m.lastTerm, at);
      out[at] = m.transfer ? 1 : 0;
      break;
    case 'PreVoteResponse':
    case 'VoteResponse':
      out[at] = m.reject ? 1 : 0;
      break;
    case 'Append':
      at = out.writeDoubleLE(m.prevIndex, at);
      at = out.writeDoubleLE(m.prevTerm, at);
      at = out.writeDoubleLE(m.commit, at);
      at = out.writeUInt32BE(m.entries.length, at);
      for (const e of m.entries) {
        at = out.writeDoubleLE(e.term, at);
        at = out.writeDoubleLE(e.index, at);
        out[at++] = e.type === 'config' ? 1 : 0;
        at = out.writeUInt32BE(e.data.byteLength, at);
        out.set(e.data, at);
        at += e.data.byteLength;
      }
      break;
    case 'AppendResponse':
      at = out.writeDoubleLE(m.index, at);
      out[at++] = m.reject ? 1 : 0;
      at = out.writeDoubleLE(m.hintIndex, at);
      out.writeDoubleLE(m.hintTerm, at);
      break;
    case 'Heartbeat':
      out.writeDoubleLE(m.commit, at);
      break;
    default:
      break;
  }
  return out;
}

/** Bytes of a Raft message's type-specific fixed fields (an Append's entries not included). */
function fieldBytes(m: Message): number {
  switch (m.type) {
    case 'PreVote':
      return 16;
    case 'Vote':
      return 17;
    case 'PreVoteResponse':
    case 'VoteResponse':
      return 1;
    case 'Append':
      return 24;
    case 'AppendResponse':
      return 25;
    case 'Heartbeat':
      return 8;
    default:
      return 0;
  }
}

/** Reads a binary node message field by field; every read checks the bounds first. */
class Reader {
  private at = 0;

  constructor(private readonly bytes: Buffer) {}

  u8(what: string): number {
    if (this.at + 1 > this.bytes.byteLength) fail(what);
    return this.bytes[this.at++] as number;
  }

  u32(what: string): number {
    if (this.at + 4 > this.bytes.byteLength) fail(what);
    const value = this.bytes.readUInt32BE(this.at);
    this.at += 4;
    return value;
  }

  count(what: string): number {
    if (this.at + 8 > this.bytes.byteLength) fail(what);
    const value = this.bytes.readDoubleLE(this.at);
    this.at += 8;
    return count(value, what);
  }

  bool(what: string): boolean {
    const value = this.u8(what);
    if (value > 1) fail(what);
    return value === 1;
  }

  id(what: string): string {
    if (this.at + 2 > this.bytes.byteLength) fail(what);
    const length = this.bytes.readUInt16BE(this.at);
    this.at += 2;
    if (length > this.bytes.byteLength - this.at) fail(what);
    const text = this.bytes.toString('utf8', this.at, this.at + length);
    this.at += length;
    return str(text, what, false);
  }

  /** The position, for slicing. */
  offset(): number {
    return this.at;
  }

  skip(bytes: number, what: string): void {
    if (bytes > this.bytes.byteLength - this.at) fail(what);
    this.at += bytes;
  }

  end(): void {
    if (this.at !== this.bytes.byteLength) fail('trailing bytes');
  }
}

/**
 * Validates and decodes a binary node message (throws like {@link decodeNodeMessage}). Entries'
 * data are views into one copy of the message's entries, so that the log never pins the socket's
 * read buffer.
 */
export function decodeNodeMessageBinary(bytes: Buffer): NodeMessage {
  const reader = new Reader(bytes);
  const tag = reader.u8('tag');
  if (tag === TAG_JSON) {
    let value: unknown;
    try {
      value = JSON.parse(bytes.toString('utf8', 1));
    } catch {
      return fail('json');
    }
    const message = decodeNodeMessage(fromWireValue(value));
    // Only what has no fixed layout travels as JSON: one message, one encoding.
    if (message.kind === 'raft' && RAFT_TYPE_CODES.has(message.message.type)) fail('json raft');
    return message;
  }
  if (tag !== TAG_RAFT) fail('tag');
  const type = RAFT_TYPES[reader.u8('raft message type')];
  if (type === undefined) fail('raft message type');
  const term = reader.count('term');
  const from = reader.id('from');
  const to = reader.id('to');
  let message: Message;
  switch (type) {
    case 'PreVote':
      message = {
        from,
        to,
        term,
        type,
        lastIndex: reader.count('lastIndex'),
        lastTerm: reader.count('lastTerm'),
      };
      break;
    case 'Vote':
      message = {
        from,
        to,
        term,
        type,
        lastIndex: reader.count('lastIndex'),
        lastTerm: reader.count('lastTerm'),
        transfer: reader.bool('transfer'),
      };
      break;
    case 'PreVoteResponse':
    case 'VoteResponse':
      message = { from, to, term, type, reject: reader.bool('reject') };
      break;
    case 'Append': {
      const prevIndex = reader.count('prevIndex');
      const prevTerm = reader.count('prevTerm');
      const commit = reader.count('commit');
      const entryCount = reader.u32('entries');
      if (entryCount > MAX_ENTRIES_PER_MESSAGE) fail('entries');
      message = {
        from,
        to,
        term,
        type,
        prevIndex,
        prevTerm,
        commit,
        entries: entries(reader, bytes, entryCount),
      };
      break;
    }
    case 'AppendResponse':
      message = {
        from,
        to,
        term,
        type,
        index: reader.count('index'),
        reject: reader.bool('reject'),
        hintIndex: reader.count('hintIndex'),
        hintTerm: reader.count('hintTerm'),
      };
      break;
    case 'Heartbeat':
      message = { from, to, term, type, commit: reader.count('commit') };
      break;
    case 'HeartbeatResponse':
    case 'TimeoutNow':
      message = { from, to, term, type };
      break;
  }
  reader.end();
  return { kind: 'raft', message };
}

function entries(reader: Reader, bytes: Buffer, entryCount: number): Entry[] {
  const start = reader.offset();
  const headers: Array<{
    term: number;
    index: number;
    type: EntryType;
    at: number;
    length: number;
  }> = [];
  for (let i = 0; i < entryCount; i++) {
    const term = reader.count('entry term');
    const index = reader.count('entry index');
    const code = reader.u8('entry type');
    if (code > 1) fail('entry type');
    const length = reader.u32('entry data');
    const at = reader.offset();
    reader.skip(length, 'entry data');
    headers.push({ term, index, type: code === 1 ? 'config' : 'normal', at: at - start, length });
  }
  if (entryCount === 0) return [];
  const copy = new Uint8Array(reader.offset() - start);
  copy.set(bytes.subarray(start, reader.offset()));
  return headers.map(({ term, index, type, at, length }) => ({
    term,
    index,
    type,
    data: copy.subarray(at, at + length),
  }));
}
