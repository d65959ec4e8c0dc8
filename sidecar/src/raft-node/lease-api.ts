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
 *
 * The lease routes are served twice over the same validation and answers: by a plain `node:http`
 * handler the admin server tries before Express (the hot path: Express, its router and
 * body-parser cost a third of the leader's CPU per request), and by the Express router (for
 * servers without the fast path, and `/v1/raft`).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseDuration } from '@palisade/crds/runtime';
import type { FieldError } from '@palisade/crds/runtime';
import { Router, type Response } from 'express';
import type { Logger } from 'pino';
import {
  DEFAULT_BODY_LIMIT_BYTES,
  AdminHttpError,
  type RawRequestHandler,
} from '../admin/index.js';
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

type LeaseOp = LeaseCommand['op'];
const LEASE_OPS: readonly string[] = ['acquire', 'renew', 'release'] satisfies LeaseOp[];

function invalid(errors: FieldError[]): never {
  throw new AdminHttpError(400, 'INVALID_REQUEST', 'request is invalid', errors);
}

function leaseName(name: unknown): string {
  if (typeof name !== 'string' || !LEASE_NAME_PATTERN.test(name)) {
    invalid([{ field: 'name', message: `must match ${LEASE_NAME_PATTERN.source}` }]);
  }
  return name;
}

function bodyRecord(value: unknown, allowed: readonly string[]): Record<string, unknown> {
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

/** Validates a lease command from its path name and JSON body; throws a 400 listing the problems. */
export function parseLeaseCommand(op: LeaseOp, rawName: unknown, body: unknown): LeaseCommand {
  const name = leaseName(rawName);
  const errors: FieldError[] = [];
  if (op === 'acquire') {
    const record = bodyRecord(body, ['holder', 'ttl']);
    const holder = holderOf(record, errors);
    const ttl = parseTtl(record.ttl);
    if (typeof ttl === 'string') errors.push({ field: 'ttl', message: ttl });
    if (errors.length > 0) invalid(errors);
    return { op, name, holder, ttlMs: ttl as number };
  }
  const record = bodyRecord(body, ['holder', 'token']);
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

/** An HTTP answer: status and JSON body; `retryAfter` adds `Retry-After: 1`. */
export interface LeaseHttpAnswer {
  readonly status: number;
  readonly body: unknown;
  readonly retryAfter?: boolean;
}

function errorAnswer(error: AdminHttpError): LeaseHttpAnswer {
  return {
    status: error.status,
    body: {
      error: {
        code: error.code,
        message: error.message,
        ...(error.details.length > 0 ? { details: error.details } : {}),
      },
    },
  };
}

/** Maps a node's reply to the HTTP answer (the one place it happens). */
export function leaseAnswer(
  request: LeaseRequest,
  reply: LeaseReply,
  backend: LeaseBackend,
): LeaseHttpAnswer {
  switch (reply.kind) {
    case 'error':
      return {
        status: 503,
        retryAfter: true,
        body: {
          error: {
            code: reply.code,
            message: reply.message,
            leader: reply.leader === '' ? null : reply.leader,
            leaderAddress: reply.leader === '' ? null : (backend.addressOf(reply.leader) ?? null),
          },
        },
      };
    case 'view': {
      const lease = reply.lease;
      if (lease === undefined) {
        return {
          status: 404,
          body: {
            error: { code: 'PALISADE_LEASE_NOT_HELD', message: `${request.name} is not held` },
          },
        };
      }
      return {
        status: 200,
        body: {
          name: lease.name,
          holder: lease.holder,
          token: lease.token,
          expiresAt: wallClock(lease.validForMs),
          validForMs: wholeMs(lease.validForMs),
        },
      };
    }
    case 'result':
      switch (reply.outcome) {
        case 'granted':
          return {
            status: 200,
            body: {
              granted: true,
              token: reply.token,
              expiresAt: wallClock(reply.validForMs ?? 0),
              validForMs: wholeMs(reply.validForMs),
            },
          };
        case 'held':
          return {
            status: 409,
            body: {
              granted: false,
              code: 'PALISADE_LEASE_HELD',
              holder: reply.holder,
              expiresAt: wallClock(reply.validForMs ?? 0),
              validForMs: wholeMs(reply.validForMs),
            },
          };
        case 'released':
          return { status: 200, body: { released: true } };
        case 'refused':
          if (reply.code === 'PALISADE_LEASE_INVALID') {
            return errorAnswer(
              new AdminHttpError(400, 'INVALID_REQUEST', reply.message ?? 'invalid command'),
            );
          }
          return {
            status: 409,
            body: {
              granted: false,
              code: reply.code ?? 'PALISADE_LEASE_STALE_TOKEN',
              message: reply.message,
            },
          };
      }
  }
}

/** The `/v1` Express router of leases and Raft status. */
export function createLeaseRouter(backend: LeaseBackend): Router {
  const router = Router();
  const send = (res: Response, answer: LeaseHttpAnswer): void => {
    if (answer.retryAfter) res.setHeader('retry-after', '1');
    res.status(answer.status).json(answer.body);
  };
  for (const op of ['acquire', 'renew', 'release'] as const) {
    router.post(`/leases/:name/${op}`, async (req, res) => {
      const command = parseLeaseCommand(op, req.params.name, req.body);
      send(res, leaseAnswer(command, await backend.submit(command), backend));
    });
  }
  router.get('/leases/:name', async (req, res) => {
    const request: LeaseRequest = { op: 'view', name: leaseName(req.params.name) };
    send(res, leaseAnswer(request, await backend.submit(request), backend));
  });
  router.get('/raft', (_req, res) => {
    res.json(backend.status());
  });
  return router;
}

// -----------------------------------------------------------------------------------------------
// The fast path: plain node:http, same validation and answers as the router above and the admin
// server's error handler (`{error: {code, message, details?}}`, 400/413/415).

const LEASE_PATH = /^\/v1\/leases\/([A-Za-z0-9._-]+)(?:\/([a-z]+))?$/;
const JSON_CONTENT_TYPE = /^application\/json\s*(?:;\s*charset\s*=\s*"?utf-8"?\s*)?$/i;

function writeAnswer(res: ServerResponse, answer: LeaseHttpAnswer): void {
  const json = JSON.stringify(answer.body);
  const headers: Record<string, string | number> = {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(json),
  };
  if (answer.retryAfter) headers['retry-after'] = '1';
  res.writeHead(answer.status, headers);
  res.end(json);
}

/** Reads and parses a JSON body like the admin app's `express.json({strict: true})`. */
export function readJsonBody(req: IncomingMessage, limit: number): Promise<unknown> {
  const length = req.headers['content-length'];
  const chunked = req.headers['transfer-encoding'] !== undefined;
  if (!chunked && (length === undefined || length === '0')) {
    req.resume();
    return Promise.resolve(length === '0' ? {} : undefined);
  }
  if (!JSON_CONTENT_TYPE.test(req.headers['content-type'] ?? '')) {
    req.resume();
    return Promise.reject(
      new AdminHttpError(415, 'UNSUPPORTED_MEDIA_TYPE', 'request bodies must be application/json'),
    );
  }
  const tooLarge = (): AdminHttpError =>
    new AdminHttpError(413, 'BODY_TOO_LARGE', 'request body is too large');
  if (Number(length) > limit) {
    req.resume();
    return Promise.reject(tooLarge());
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.byteLength;
      if (size <= limit) chunks.push(chunk);
    });
    req.on('error', () => reject(new AdminHttpError(400, 'REQUEST_ABORTED', 'request aborted')));
    req.on('end', () => {
      if (size > limit) return reject(tooLarge());
      const text = Buffer.concat(chunks, size).toString('utf8').trim();
      if (text === '') return resolve({});
      // strict: only an object or an array, as body-parser's strict mode
      if (text[0] !== '{' && text[0] !== '[') {
        return reject(new AdminHttpError(400, 'INVALID_JSON', 'request body is not valid JSON'));
      }
      try {
        resolve(JSON.parse(text));
      } catch {
        reject(new AdminHttpError(400, 'INVALID_JSON', 'request body is not valid JSON'));
      }
    });
  });
}

/**
 * The lease routes as a {@link RawRequestHandler}: takes `POST /v1/leases/{name}/{op}` and
 * `GET /v1/leases/{name}` (query strings, encoded or odd paths, other methods: left to Express).
 */
export function createLeaseHttpHandler(
  backend: LeaseBackend,
  options: { readonly bodyLimitBytes?: number; readonly logger?: Logger } = {},
): RawRequestHandler {
  const bodyLimitBytes = options.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES;
  const serve = async (req: IncomingMessage, name: string, op: string | undefined) => {
    let request: LeaseRequest;
    if (op === undefined) {
      req.resume();
      request = { op: 'view', name: leaseName(name) };
    } else {
      request = parseLeaseCommand(op as LeaseOp, name, await readJsonBody(req, bodyLimitBytes));
    }
    return leaseAnswer(request, await backend.submit(request), backend);
  };
  return (req, res) => {
    const match = LEASE_PATH.exec(req.url ?? '');
    if (match === null) return false;
    const [, name, op] = match as unknown as [string, string, string | undefined];
    if (
      op === undefined ? req.method !== 'GET' : req.method !== 'POST' || !LEASE_OPS.includes(op)
    ) {
      return false;
    }
    serve(req, name, op).then(
      (answer) => writeAnswer(res, answer),
      (error: unknown) => {
        if (!(error instanceof AdminHttpError)) {
          options.logger?.error({ err: error, method: req.method }, 'lease API handler failed');
        }
        writeAnswer(
          res,
          errorAnswer(
            error instanceof AdminHttpError
              ? error
              : new AdminHttpError(500, 'INTERNAL', 'internal error'),
          ),
        );
      },
    );
    return true;
  };
}
