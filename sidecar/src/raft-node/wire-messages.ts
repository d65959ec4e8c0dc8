/**
 * What sidecars of one group say to each other over the Raft transport: the core's Raft messages,
 * the bootstrap probe, and lease requests forwarded to the leader (the admin API is loopback-only,
 * so a follower cannot reach the leader's; see docs/decisions/0011-raft-driver.md).
 *
 * Everything that arrives is validated here before the core or the lease table sees it: the MAC
 * only proves that a member of the group sent it, not that it is well formed.
 */
import type { LeaseCommand } from '../leases/index.js';
import type { Entry, Message, Snapshot } from '../raft/index.js';

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

/** Validates a Raft message of the core (field by field: nothing unchecked reaches `step`). */
export function decodeRaftMessage(value: unknown): Message {
  const m = record(value, 'raft message');
  const from = str(m.from, 'from', false);
  const to = str(m.to, 'to', false);
  const term = count(m.term, 'term');
  const base = { from, to, term };
  switch (m.type) {
    case 'PreVote':
      return {
        ...base,
        type: 'PreVote',
        lastIndex: count(m.lastIndex, 'lastIndex'),
        lastTerm: count(m.lastTerm, 'lastTerm'),
      };
    case 'Vote':
      return {
        ...base,
        type: 'Vote',
        lastIndex: count(m.lastIndex, 'lastIndex'),
        lastTerm: count(m.lastTerm, 'lastTerm'),
        transfer: bool(m.transfer, 'transfer'),
      };
    case 'PreVoteResponse':
    case 'VoteResponse':
      return { ...base, type: m.type, reject: bool(m.reject, 'reject') };
    case 'Append': {
      if (!Array.isArray(m.entries) || m.entries.length > MAX_ENTRIES_PER_MESSAGE) fail('entries');
      return {
        ...base,
        type: 'Append',
        prevIndex: count(m.prevIndex, 'prevIndex'),
        prevTerm: count(m.prevTerm, 'prevTerm'),
        entries: m.entries.map(entry),
        commit: count(m.commit, 'commit'),
      };
    }
    case 'AppendResponse':
      return {
        ...base,
        type: 'AppendResponse',
        index: count(m.index, 'index'),
        reject: bool(m.reject, 'reject'),
        hintIndex: count(m.hintIndex, 'hintIndex'),
        hintTerm: count(m.hintTerm, 'hintTerm'),
      };
    case 'Heartbeat':
      return { ...base, type: 'Heartbeat', commit: count(m.commit, 'commit') };
    case 'HeartbeatResponse':
      return { ...base, type: 'HeartbeatResponse' };
    case 'Snapshot':
      return { ...base, type: 'Snapshot', snapshot: snapshot(m.snapshot) };
    case 'TimeoutNow':
      return { ...base, type: 'TimeoutNow' };
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
