/**
 * The saga API (API.md), an Express router mounted at `/v1` on the admin server, and the same
 * routes as a plain `node:http` fast path the admin server tries first:
 *
 *   POST /v1/sagas/{saga} {input}   → 202 {id}            (the start entry is committed)
 *   GET  /v1/sagas/{saga}/{id}      → 200 {id, saga, state, steps, log, …} · 404
 *
 * `{saga}` is `namespace/name` as in the config (`/v1/sagas/shop/place-order`), or the bare name
 * when only one configured saga has it. Every member answers: the request (validated here) goes
 * to the leader over the Raft transport, which starts the instance or reads its table (reads are
 * the leader's: a 202 is always followed by a readable instance). Retryable failures are 503 with
 * `Retry-After`, like the lease API.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Router, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import {
  AdminHttpError,
  DEFAULT_BODY_LIMIT_BYTES,
  type RawRequestHandler,
} from '../admin/index.js';
import type { EntryReply } from '../raft-node/index.js';
import { readJsonBody } from '../raft-node/lease-api.js';
import { INSTANCE_ID_PATTERN } from './commands.js';
import type { SagaDefinition } from './definition.js';
import type { SagaOrchestrator, SagaLog } from './orchestrator.js';
import { RandomHexPool } from './random-hex.js';
import type { SagaInstance, SagaTable } from './saga-table.js';
import { describeRef, readInput } from '@palisade/crds/runtime';

/** A request as forwarded to the leader (validated again there: it crossed the network). */
export type SagaCall =
  | { readonly op: 'start'; readonly saga: string; readonly input: Record<string, unknown> }
  | { readonly op: 'view'; readonly saga: string; readonly id: string };

/** The leader's answer: an HTTP status and JSON body. */
export interface SagaAnswer {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

const NAME = /^[a-z0-9]([-.a-z0-9]*[a-z0-9])?$/;
/** Largest accepted `input` (bytes of JSON): it is copied into the Raft log. */
export const MAX_INPUT_BYTES = 64 * 1024;

function invalid(field: string, message: string): never {
  throw new AdminHttpError(400, 'INVALID_REQUEST', 'request is invalid', [{ field, message }]);
}

/** `ns/name` or a bare `name`, from the path segments. */
function sagaParam(req: Request): string {
  const { namespace, name } = req.params as { namespace?: string; name?: string };
  for (const part of [namespace, name]) {
    if (part !== undefined && !NAME.test(part))
      invalid('saga', 'must be namespace/name or name (lowercase DNS labels)');
  }
  return namespace === undefined ? (name as string) : `${namespace}/${name}`;
}

/** Validates a forwarded call's payload. */
export function decodeSagaCall(payload: unknown): SagaCall | undefined {
  if (typeof payload !== 'object' || payload === null) return undefined;
  const p = payload as Record<string, unknown>;
  if (typeof p.saga !== 'string' || p.saga.length > 317) return undefined;
  if (p.op === 'view' && typeof p.id === 'string' && INSTANCE_ID_PATTERN.test(p.id)) {
    return { op: 'view', saga: p.saga, id: p.id };
  }
  if (
    p.op === 'start' &&
    typeof p.input === 'object' &&
    p.input !== null &&
    !Array.isArray(p.input)
  ) {
    return { op: 'start', saga: p.saga, input: p.input as Record<string, unknown> };
  }
  return undefined;
}

/** Finds the configured saga a request names (`ns/name`, or a bare name when unique). */
export function resolveSaga(
  definitions: ReadonlyMap<string, SagaDefinition>,
  saga: string,
): SagaDefinition | undefined {
  const exact = definitions.get(saga);
  if (exact !== undefined || saga.includes('/')) return exact;
  const matches = [...definitions.values()].filter((d) => d.name.endsWith(`/${saga}`));
  return matches.length === 1 ? matches[0] : undefined;
}

/** An instance as `GET /v1/sagas/{saga}/{id}` shows it. */
export function viewInstance(instance: SagaInstance): Record<string, unknown> {
  const iso = (ms: number | undefined) =>
    ms === undefined ? undefined : new Date(ms).toISOString();
  return {
    id: instance.id,
    saga: instance.saga,
    state: instance.state,
    input: instance.input,
    startedAt: iso(instance.startedAt),
    finishedAt: iso(instance.finishedAt),
    error: instance.error,
    steps: instance.steps.map((s) => ({
      name: s.name,
      action: s.action,
      ...(s.compensable ? { compensation: s.compensation } : {}),
    })),
    log: instance.log.map((l) => ({ ...l, at: iso(l.at) })),
  };
}

/** Options of {@link createSagaService}. */
export interface SagaServiceOptions {
  readonly log: SagaLog;
  readonly table: () => SagaTable;
  readonly definitions: () => ReadonlyMap<string, SagaDefinition>;
  readonly orchestrator: Pick<SagaOrchestrator, 'ready' | 'started'>;
  readonly wallClock: () => number;
}

function notFound(what: string): SagaAnswer {
  return { status: 404, body: { error: { code: 'PALISADE_SAGA_NOT_FOUND', message: what } } };
}

function unavailable(reply: { code: string; message: string; leader: string }): SagaAnswer {
  return {
    status: 503,
    body: { error: { code: reply.code, message: reply.message, leader: reply.leader || null } },
  };
}

/** The leader-side handler of saga calls (what `callLeader` runs on the leader). */
export function createSagaService(
  options: SagaServiceOptions,
): (payload: unknown) => Promise<SagaAnswer> {
  const ids = new RandomHexPool();
  return async (payload) => {
    const call = decodeSagaCall(payload);
    if (call === undefined) {
      return {
        status: 400,
        body: { error: { code: 'INVALID_REQUEST', message: 'malformed saga call' } },
      };
    }
    const definition = resolveSaga(options.definitions(), call.saga);
    if (definition === undefined) return notFound(`no saga ${call.saga} is configured`);
    // A new leader's table may lack entries committed under the previous one until its own
    // barrier applies: neither a start nor a view is served from it before then.
    if (!options.orchestrator.ready()) {
      return unavailable({
        code: 'PALISADE_RAFT_NOT_LEADER',
        message: 'the leader is still catching up with its term; retry',
        leader: '',
      });
    }
    if (call.op === 'view') {
      const instance = options.table().get(call.id);
      return instance === undefined || instance.saga !== definition.name
        ? notFound(`${definition.name} has no instance ${call.id}`)
        : { status: 200, body: viewInstance(instance) };
    }
    const missing = definition.inputRefs.filter((ref) => readInput(ref, call.input) === undefined);
    if (missing.length > 0) {
      return {
        status: 400,
        body: {
          error: {
            code: 'INVALID_REQUEST',
            message: 'input lacks values the saga reads',
            details: missing.map((ref) => ({
              field: describeRef(ref),
              message: "required by the saga's templates",
            })),
          },
        },
      };
    }
    const id = ids.next(16);
    const answer = await options.log.propose({
      op: 'start',
      id,
      saga: definition.name,
      input: call.input,
      steps: definition.steps.map((s) => ({
        name: s.name,
        compensable: s.compensation !== undefined,
      })),
      at: Math.floor(options.wallClock()),
    });
    if (!answer.ok) return unavailable(answer);
    options.orchestrator.started(id);
    return { status: 202, body: { id } };
  };
}

function answerOf(reply: EntryReply): SagaAnswer {
  if (!reply.ok) return unavailable(reply);
  const r = reply.result as Partial<SagaAnswer> | null;
  if (
    typeof r !== 'object' ||
    r === null ||
    typeof r.status !== 'number' ||
    !Number.isInteger(r.status) ||
    r.status < 200 ||
    r.status > 599 ||
    typeof r.body !== 'object' ||
    r.body === null
  ) {
    return unavailable({
      code: 'PALISADE_RAFT_NOT_LEADER',
      message: 'the leader answered something malformed',
      leader: '',
    });
  }
  return { status: r.status, body: r.body };
}

/** A start request's `{input}` body, validated (throws a 400 `AdminHttpError`). */
function startInput(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    invalid('', 'body must be a JSON object {input}');
  const unknown = Object.keys(body).filter((k) => k !== 'input');
  if (unknown.length > 0) invalid(unknown[0] as string, 'unknown field');
  const input = (body as { input?: unknown }).input ?? {};
  if (typeof input !== 'object' || input === null || Array.isArray(input))
    invalid('input', 'must be a JSON object');
  if (Buffer.byteLength(JSON.stringify(input)) > MAX_INPUT_BYTES)
    invalid('input', `must be at most ${MAX_INPUT_BYTES} bytes of JSON`);
  return input as Record<string, unknown>;
}

/** The `/v1` router of sagas: every request goes to the leader through `callLeader`. */
export function createSagaRouter(callLeader: (payload: SagaCall) => Promise<EntryReply>): Router {
  const router = Router();
  const send = async (res: Response, call: SagaCall): Promise<void> => {
    const answer = answerOf(await callLeader(call));
    if (answer.status === 503) res.setHeader('retry-after', '1');
    res.status(answer.status).json(answer.body);
  };
  const start = async (req: Request, res: Response): Promise<void> => {
    const saga = sagaParam(req);
    await send(res, { op: 'start', saga, input: startInput(req.body) });
  };
  const view = async (req: Request, res: Response): Promise<void> => {
    const saga = sagaParam(req);
    const id = req.params.id;
    if (typeof id !== 'string' || !INSTANCE_ID_PATTERN.test(id))
      invalid('id', 'must be 32 lowercase hex digits');
    await send(res, { op: 'view', saga, id });
  };
  router.post('/sagas/:name', start);
  router.post('/sagas/:namespace/:name', start);
  router.get('/sagas/:name/:id', view);
  router.get('/sagas/:namespace/:name/:id', view);
  return router;
}

// -----------------------------------------------------------------------------------------------
// The fast path: the same routes on plain node:http, tried before Express (the router, body
// parser and response helpers were a tenth of the leader's CPU per instance). It takes only
// well-formed paths (names that pass NAME, a 32-hex id, no query string); anything else goes on
// to the router above, which answers it (errors included) as before.

const SAGA_PATH = /^\/v1\/sagas\/([^/?]+)(?:\/([^/?]+))?(?:\/([^/?]+))?$/;

function writeJson(res: ServerResponse, status: number, body: unknown): void {
  const json = JSON.stringify(body);
  const headers: Record<string, string | number> = {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(json),
  };
  if (status === 503) headers['retry-after'] = '1';
  res.writeHead(status, headers);
  res.end(json);
}

/** The call a request makes, or undefined when the fast path does not take it. */
function fastCall(
  method: string | undefined,
  segments: readonly string[],
): { op: 'start'; saga: string } | { op: 'view'; saga: string; id: string } | undefined {
  if (method === 'POST' && segments.length <= 2) {
    return segments.every((s) => NAME.test(s))
      ? { op: 'start', saga: segments.join('/') }
      : undefined;
  }
  if (method === 'GET' && segments.length >= 2) {
    const id = segments[segments.length - 1] as string;
    const names = segments.slice(0, -1);
    if (!INSTANCE_ID_PATTERN.test(id) || !names.every((s) => NAME.test(s))) return undefined;
    return { op: 'view', saga: names.join('/'), id };
  }
  return undefined;
}

/** The saga routes as a {@link RawRequestHandler} over `callLeader`, like {@link createSagaRouter}. */
export function createSagaHttpHandler(
  callLeader: (payload: SagaCall) => Promise<EntryReply>,
  options: { readonly bodyLimitBytes?: number; readonly logger?: Logger } = {},
): RawRequestHandler {
  const bodyLimitBytes = options.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES;
  const serve = async (req: IncomingMessage, call: NonNullable<ReturnType<typeof fastCall>>) => {
    if (call.op === 'view') {
      req.resume();
      return answerOf(await callLeader(call));
    }
    const input = startInput(await readJsonBody(req, bodyLimitBytes));
    return answerOf(await callLeader({ ...call, input }));
  };
  return (req, res) => {
    const match = SAGA_PATH.exec(req.url ?? '');
    if (match === null) return false;
    const call = fastCall(
      req.method,
      match.slice(1).filter((s): s is string => s !== undefined),
    );
    if (call === undefined) return false;
    serve(req, call).then(
      (answer) => writeJson(res, answer.status, answer.body),
      (error: unknown) => {
        if (!(error instanceof AdminHttpError)) {
          options.logger?.error({ err: error, method: req.method }, 'saga API handler failed');
        }
        const failure =
          error instanceof AdminHttpError
            ? error
            : new AdminHttpError(500, 'INTERNAL', 'internal error');
        writeJson(res, failure.status, {
          error: {
            code: failure.code,
            message: failure.message,
            ...(failure.details.length > 0 ? { details: failure.details } : {}),
          },
        });
      },
    );
    return true;
  };
}
