/**
 * The lease and Raft API (API.md), an Express router mounted at `/v1` on the admin server:
 *
 *   POST /v1/leases/{name}/acquire {holder, ttl}   → 200 {granted, token, expiresAt, validForMs}
 *                                                    409 {code: PALISADE_LEASE_HELD, holder, expiresAt, validForMs}
 *   POST /v1/leases/{name}/renew   {holder, token} → 200 like acquire · 409 stale token
 *   POST /v1/leases/{name}/release {holder, token} → 200 {released: true} · 409 stale token
 *   GET  /v1/leases/{name}                         → 200 {name, holder, token, expiresAt, validForMs} · 404
 *   GET  /v1/raft                                  → id, role, term, leader, commitIndex, members
 *
 * `expiresAt` is wall-clock ISO time computed by the answering sidecar (informational: wall clocks
 * jump); `validForMs` is what a holder must count from the moment it SENT the request (with the
 * drift margin of `safeHoldMs`, docs/leases.md). Retryable failures (no leader, leader change,
 * timeout) are 503 with `Retry-After` and the leader's id when known. Every input is validated.
 */
import { parseDuration } from '@palisade/crds';
import { Router, type Request, type Response } from 'express';
import { AdminHttpError } from '../admin/index.js';
import type { FieldError } from '@palisade/crds';
import { MAX_TTL_MS, type LeaseCommand } from '../leases/index.js';
import type { LeaseReply, LeaseRequest } from './wire-messages.js';
import type { RaftNode } from './raft-node.js';

/** Lease names: 1–128 characters of letters, digits, `.`, `_`, `-`, starting with a letter or digit. */
export const LEASE_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
/** Holders: 1–253 printable ASCII characters. */
export const HOLDER_PATTERN = /^[\x21-\x7e]{1,253}$/;
/** Shortest TTL accepted: below a heartbeat or two a lease is useless. */
export const MIN_TTL_MS = 100;

/** What the router needs from the node (the {@link RaftNode} in production). */
export type LeaseBackend = Pick<RaftNode, 'submit' | 'status' | 'addressOf'>;

function invalid(errors: FieldError[]): never {
  throw new AdminHttpError(400, 'INVALID_REQUEST', 'request is invalid', errors);
}

function leaseName(req: Request): string {
  const name = req.params.name;
  if (typeof name !== 'string' || !LEASE_NAME_PATTERN.test(name)) {
    invalid([{ field: 'name', message: `must match ${LEASE_NAME_PATTERN.source}` }]);
  }
  return name;
}

function body(req: Request, allowed: readonly string[]): Record<string, unknown> {
  const value: unknown = req.body;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    invalid([{ field: '', message: 'body must be a JSON object' }]);
  }
  const record = value as Record<string, unknown>;
  const unknown = Object.keys(record).filter((key) => !allowed.includes(key));
  if (unknown.length > 0) {
    invalid(unknown.map((key) => ({ field: key, message: 'unknown field' })));
  }
  return record;
}

function holderOf(record: Record<string, unknown>, errors: FieldError[]): string {
  const holder = record.holder;
  if (typeof holder !== 'string' || !HOLDER_PATTERN.test(holder)) {
    errors.push({ field: 'holder', message: 'must be 1–253 printable ASCII characters' });
    return '';
  }
  return holder;
}

/** `ttl`: a duration string (`10s`, `1500ms`) or a number of milliseconds, in [100 ms, 1 h]. */
export function parseTtl(value: unknown): number | string {
  let ms: number;
  if (typeof value === 'number') ms = value;
  else if (typeof value === 'string' && value.length <= 32) {
    try {
      ms = parseDuration(value);
    } catch {
      return 'must be a duration like 10s or 1500ms, or milliseconds';
    }
  } else return 'must be a duration like 10s or 1500ms, or milliseconds';
  if (!Number.isInteger(ms) || ms < MIN_TTL_MS || ms > MAX_TTL_MS) {
    return `must be a whole number of milliseconds in [${MIN_TTL_MS}, ${MAX_TTL_MS}]`;
  }
  return ms;
}

function tokenOf(record: Record<string, unknown>, errors: FieldError[]): number {
  const token = record.token;
  if (typeof token !== 'number' || !Number.isSafeInteger(token) || token < 1) {
    errors.push({ field: 'token', message: 'must be a positive integer' });
    return 0;
  }
  return token;
}

function parseCommand(req: Request, op: LeaseCommand['op']): LeaseCommand {
  const name = leaseName(req);
  const errors: FieldError[] = [];
  if (op === 'acquire') {
    const record = body(req, ['holder', 'ttl']);
    const holder = holderOf(record, errors);
    const ttl = parseTtl(record.ttl);
    if (typeof ttl === 'string') errors.push({ field: 'ttl', message: ttl });
    if (errors.length > 0) invalid(errors);
    return { op, name, holder, ttlMs: ttl as number };
  }
  const record = body(req, ['holder', 'token']);
  const holder = holderOf(record, errors);
  const token = tokenOf(record, errors);
  if (errors.length > 0) invalid(errors);
  return { op, name, holder, token };
}

/** Whole milliseconds, rounded down: a holder must never be told more than it has. */
function wholeMs(validForMs: number | undefined): number {
  return Math.max(0, Math.floor(validForMs ?? 0));
}

function wallClock(validForMs: number): string {
  return new Date(Date.now() + Math.max(0, validForMs)).toISOString();
}

/** Maps a node's reply to the HTTP answer (the one place it happens). */
export function sendReply(
  res: Response,
  request: LeaseRequest,
  reply: LeaseReply,
  backend: LeaseBackend,
): void {
  switch (reply.kind) {
    case 'error':
      res.setHeader('retry-after', '1');
      res.status(503).json({
        error: {
          code: reply.code,
          message: reply.message,
          leader: reply.leader === '' ? null : reply.leader,
          leaderAddress: reply.leader === '' ? null : (backend.addressOf(reply.leader) ?? null),
        },
      });
      return;
    case 'view': {
      const lease = reply.lease;
      if (lease === undefined) {
        res.status(404).json({
          error: { code: 'PALISADE_LEASE_NOT_HELD', message: `${request.name} is not held` },
        });
        return;
      }
      res.json({
        name: lease.name,
        holder: lease.holder,
        token: lease.token,
        expiresAt: wallClock(lease.validForMs),
        validForMs: wholeMs(lease.validForMs),
      });
      return;
    }
    case 'result':
      switch (reply.outcome) {
        case 'granted':
          res.json({
            granted: true,
            token: reply.token,
            expiresAt: wallClock(reply.validForMs ?? 0),
            validForMs: wholeMs(reply.validForMs),
          });
          return;
        case 'held':
          res.status(409).json({
            granted: false,
            code: 'PALISADE_LEASE_HELD',
            holder: reply.holder,
            expiresAt: wallClock(reply.validForMs ?? 0),
            validForMs: wholeMs(reply.validForMs),
          });
          return;
        case 'released':
          res.json({ released: true });
          return;
        case 'refused':
          if (reply.code === 'PALISADE_LEASE_INVALID') {
            throw new AdminHttpError(400, 'INVALID_REQUEST', reply.message ?? 'invalid command');
          }
          res.status(409).json({
            granted: false,
            code: reply.code ?? 'PALISADE_LEASE_STALE_TOKEN',
            message: reply.message,
          });
          return;
      }
  }
}

/** The `/v1` router of leases and Raft status. */
export function createLeaseRouter(backend: LeaseBackend): Router {
  const router = Router();
  for (const op of ['acquire', 'renew', 'release'] as const) {
    router.post(`/leases/:name/${op}`, async (req, res) => {
      const command = parseCommand(req, op);
      sendReply(res, command, await backend.submit(command), backend);
    });
  }
  router.get('/leases/:name', async (req, res) => {
    const request: LeaseRequest = { op: 'view', name: leaseName(req) };
    sendReply(res, request, await backend.submit(request), backend);
  });
  router.get('/raft', (_req, res) => {
    res.json(backend.status());
  });
  return router;
}
