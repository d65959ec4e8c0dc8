/**
 * Lease commands as they travel through the Raft log: UTF-8 JSON, stamped by the leader's
 * monotonic clock. The log is shared with other state machines (sagas), so decoding returns
 * undefined for payloads that are not lease commands.
 */

/** Take the lease `name` for `holder`, for `ttlMs` from the leader's stamp. */
export interface AcquireCommand {
  readonly op: 'acquire';
  readonly name: string;
  readonly holder: string;
  readonly ttlMs: number;
}

/** Extend the lease for its TTL from the leader's stamp; `token` proves which grant it is. */
export interface RenewCommand {
  readonly op: 'renew';
  readonly name: string;
  readonly holder: string;
  readonly token: number;
}

/** Give the lease up. */
export interface ReleaseCommand {
  readonly op: 'release';
  readonly name: string;
  readonly holder: string;
  readonly token: number;
}

/** What a client asks of the lease table. */
export type LeaseCommand = AcquireCommand | RenewCommand | ReleaseCommand;

/**
 * A command with the leader's monotonic clock reading (ms), taken right before the proposal. The
 * clock domain is identified by the term of the entry that carries it: only that term's leader
 * appends entries of that term.
 */
export interface StampedLeaseCommand {
  readonly command: LeaseCommand;
  readonly stamp: number;
}

/** Longest TTL accepted (one hour): a typo must not lock a name for a year. */
export const MAX_TTL_MS = 60 * 60 * 1000;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Encodes a stamped command as a log payload. */
export function encodeLeaseCommand(command: LeaseCommand, stamp: number): Uint8Array {
  return encoder.encode(JSON.stringify({ lease: command, stamp }));
}

/**
 * Decodes a log payload; undefined when it is not a lease command (another state machine's
 * entry, or an empty entry). Never throws on malformed data, which `validateLeaseCommand`
 * rejects when applying.
 */
export function decodeLeaseCommand(data: Uint8Array): StampedLeaseCommand | undefined {
  if (data.byteLength === 0 || data[0] !== 0x7b /* { */) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(data));
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null || !('lease' in value) || !('stamp' in value)) {
    return undefined;
  }
  const { lease, stamp } = value;
  if (typeof stamp !== 'number' || typeof lease !== 'object' || lease === null) return undefined;
  return { command: lease as LeaseCommand, stamp };
}

/** Why a command is malformed, or undefined when it is well formed. */
export function validateLeaseCommand(command: LeaseCommand): string | undefined {
  if (typeof command.name !== 'string' || command.name === '') return 'name must be non-empty';
  if (typeof command.holder !== 'string' || command.holder === '') {
    return 'holder must be non-empty';
  }
  switch (command.op) {
    case 'acquire':
      if (!Number.isInteger(command.ttlMs) || command.ttlMs <= 0 || command.ttlMs > MAX_TTL_MS) {
        return `ttlMs must be an integer in [1, ${MAX_TTL_MS}]`;
      }
      return undefined;
    case 'renew':
    case 'release':
      if (!Number.isInteger(command.token) || command.token <= 0) return 'token must be positive';
      return undefined;
    default:
      return 'unknown op';
  }
}
