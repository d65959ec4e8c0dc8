/**
 * The admin/app API (API.md): `/livez`, `/readyz`, `/healthz`, `/metrics`, `/config`, plus the
 * `/v1/…` routers of Raft, leases and sagas, mounted later with `mount`. Express 5, bound to
 * loopback only, JSON in and out, every error a JSON body with a stable `code`.
 *
 * Loopback only, and requests must name a loopback host (`Host: 127.0.0.1:15000`,
 * `localhost`, `[::1]`): a web page cannot reach the API through DNS rebinding.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ValidationResult } from '@palisade/crds/runtime';
import express, {
  type ErrorRequestHandler,
  type Express,
  type Request,
  type RequestHandler,
  type Router,
} from 'express';
import type { Logger } from 'pino';
import type { ConfigStore } from '../config/config-store.js';
import { ADMIN_HOST } from '../config/defaults.js';
import { redactSecrets } from '../config/redact.js';
import type { Metrics } from '../metrics/metrics.js';
import { AdminHttpError, AdminServerError } from './errors.js';
import type { CheckResult, HealthChecks } from './health-checks.js';
import { listenOn, readinessAnswer } from './probe-server.js';

/** Bind addresses the admin server accepts. */
export const LOOPBACK_BIND_ADDRESSES: readonly string[] = ['127.0.0.1', '::1'];

/** Default request body limit of mounted JSON routes. */
export const DEFAULT_BODY_LIMIT_BYTES = 64 * 1024;

/** A router to mount under a path prefix, e.g. `{ path: '/v1/leases', router }`. */
export interface AdminRoute {
  readonly path: string;
  readonly router: Router | RequestHandler;
}

/**
 * A plain `node:http` handler tried before Express for requests with a loopback `Host`: it
 * answers and returns true, or returns false to let the Express app answer. For hot routes only
 * (the lease API), which must then validate and answer errors like the app does.
 */
export type RawRequestHandler = (req: IncomingMessage, res: ServerResponse) => boolean;

/** Options of `createAdminServer`. */
export interface AdminServerOptions {
  readonly store: ConfigStore;
  readonly metrics: Metrics;
  readonly checks: HealthChecks;
  readonly logger?: Logger;
  /** Must be a loopback address. Default `127.0.0.1`. */
  readonly host?: string;
  /** Default `store.config.listeners.admin`; 0 picks a free port (tests). */
  readonly port?: number;
  /** Largest JSON body accepted (413 above). Default 64 KiB. */
  readonly bodyLimitBytes?: number;
  /** Routers mounted at creation; more can be added with `mount`. */
  readonly routes?: readonly AdminRoute[];
}

/** The admin server. `listen` once, `close` once. */
export interface AdminServer {
  /** The Express app (for tests and for adding middleware before `listen`). */
  readonly app: Express;
  /** Mounts a router under `path` (before the 404 handler; works after `listen` too). */
  mount(path: string, router: Router | RequestHandler): void;
  /** Adds a {@link RawRequestHandler}, tried in order before the Express app. */
  intercept(handler: RawRequestHandler): void;
  /** Starts listening; resolves with the bound address. */
  listen(): Promise<AddressInfo>;
  /** Stops accepting, lets in-flight requests finish (up to `graceMs`), then closes. */
  close(graceMs?: number): Promise<void>;
}

const RESERVED_PATHS = ['/livez', '/readyz', '/healthz', '/metrics', '/config'];
const ALLOWED_HOSTS = /^(127\.0\.0\.1|localhost|\[::1\])(:[0-9]{1,5})?$/i;

/** Creates the admin server (not yet listening). Throws `AdminServerError` for a non-loopback host. */
export function createAdminServer(options: AdminServerOptions): AdminServer {
  const host = options.host ?? ADMIN_HOST;
  if (!LOOPBACK_BIND_ADDRESSES.includes(host)) {
    throw new AdminServerError(
      'ADMIN_BIND_NOT_LOOPBACK',
      `the admin API binds to loopback only (${LOOPBACK_BIND_ADDRESSES.join(' or ')}), not "${host}": it has no authentication`,
    );
  }
  const { store, metrics, checks, logger } = options;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  app.use((req, _res, next) => {
    const requestHost = req.headers.host ?? '';
    if (!ALLOWED_HOSTS.test(requestHost)) {
      next(
        new AdminHttpError(403, 'FORBIDDEN_HOST', `Host "${requestHost}" is not a loopback name`),
      );
      return;
    }
    next();
  });

  app.get('/livez', (_req, res) => {
    res.json({ status: 'ok' });
  });

  app.get('/readyz', async (_req, res) => {
    const answer = await readinessAnswer(checks);
    res.status(answer.status).json(answer.body);
  });

  app.get('/healthz', async (_req, res) => {
    const results = await checks.run('all');
    const config = store.status();
    const status = healthStatus(results, store);
    res.status(status === 'fail' ? 503 : 200).json({ status, checks: results, config });
  });

  app.get('/metrics', async (_req, res) => {
    const text = await metrics.text();
    res.setHeader('content-type', metrics.contentType);
    res.send(text);
  });

  app.get('/config', (_req, res) => {
    const snapshot = store.current();
    res.json({
      version: snapshot.version,
      generation: snapshot.generation,
      appliedAt: new Date(snapshot.appliedAt).toISOString(),
      config: redactSecrets(snapshot.config),
    });
  });

  for (const path of RESERVED_PATHS) {
    app.all(path, (_req, res) => {
      res.setHeader('allow', 'GET, HEAD');
      res
        .status(405)
        .json({ error: { code: 'METHOD_NOT_ALLOWED', message: `${path} only answers GET` } });
    });
  }

  // Mounted routers get validated JSON bodies: a body must be JSON, and not too large.
  const bodyLimit = options.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES;
  app.use((req, _res, next) => {
    if (hasBody(req) && !req.is('application/json')) {
      next(
        new AdminHttpError(
          415,
          'UNSUPPORTED_MEDIA_TYPE',
          'request bodies must be application/json',
        ),
      );
      return;
    }
    next();
  });
  app.use(express.json({ limit: bodyLimit, strict: true }));

  const mounts = express.Router();
  app.use(mounts);
  const mount = (path: string, router: Router | RequestHandler): void => {
    if (!path.startsWith('/') || RESERVED_PATHS.includes(path)) {
      throw new Error(`cannot mount at "${path}": must start with / and not be a built-in path`);
    }
    mounts.use(path, router);
  };
  for (const route of options.routes ?? []) mount(route.path, route.router);

  app.use((req, res) => {
    res
      .status(404)
      .json({ error: { code: 'NOT_FOUND', message: `no route for ${req.method} ${req.path}` } });
  });
  app.use(errorHandler(logger));

  // Express costs a third of the leader's CPU per lease request (docs/decisions/0011): hot routes
  // may bypass it. The Host rule still holds for them; anything else goes to the app, which
  // answers 403 for a foreign Host.
  const raw: RawRequestHandler[] = [];
  const server: Server = createServer(
    { maxHeaderSize: 16 * 1024, requestTimeout: 30_000, headersTimeout: 10_000 },
    (req, res) => {
      if (raw.length > 0 && ALLOWED_HOSTS.test(req.headers.host ?? '')) {
        for (const handler of raw) if (handler(req, res)) return;
      }
      app(req, res);
    },
  );
  server.keepAliveTimeout = 5_000;

  return {
    app,
    mount,
    intercept: (handler) => {
      raw.push(handler);
    },
    async listen() {
      const port = options.port ?? store.config.listeners.admin;
      const address = await listenOn(server, host, port, 'admin API');
      logger?.info({ host: address.address, port: address.port }, 'admin API listening');
      return address;
    },
    async close(graceMs = 2000) {
      if (!server.listening) return;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const timer = setTimeout(() => server.closeAllConnections(), graceMs);
      timer.unref();
      await closed;
      clearTimeout(timer);
    },
  };
}

/**
 * Validates a mounted route's JSON body; returns it typed or throws a 400 `INVALID_REQUEST`
 * listing every field problem.
 */
export function validateBody<T>(
  req: Request,
  validate: (value: unknown) => ValidationResult<T>,
): T {
  const result = validate(req.body);
  if (result.ok) return result.value;
  throw new AdminHttpError(400, 'INVALID_REQUEST', 'request body is invalid', result.errors);
}

/** `fail` if a check fails; `warn` if all pass but the latest reload attempt was refused; else `pass`. */
function healthStatus(
  results: readonly CheckResult[],
  store: ConfigStore,
): 'pass' | 'warn' | 'fail' {
  if (results.some((r) => r.status === 'fail')) return 'fail';
  return store.lastReloadRejected() ? 'warn' : 'pass';
}

function hasBody(req: Request): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/** The one place errors become JSON answers. */
function errorHandler(logger: Logger | undefined): ErrorRequestHandler {
  return (error: unknown, req, res, _next) => {
    let status: number;
    let body: { code: string; message: string; details?: unknown };
    if (error instanceof AdminHttpError) {
      status = error.status;
      body = {
        code: error.code,
        message: error.message,
        ...(error.details.length > 0 ? { details: error.details } : {}),
      };
    } else {
      const type = (error as { type?: unknown } | null)?.type;
      switch (type) {
        case 'entity.too.large':
          status = 413;
          body = { code: 'BODY_TOO_LARGE', message: 'request body is too large' };
          break;
        case 'entity.parse.failed':
          status = 400;
          body = { code: 'INVALID_JSON', message: 'request body is not valid JSON' };
          break;
        case 'encoding.unsupported':
        case 'charset.unsupported':
          status = 415;
          body = { code: 'UNSUPPORTED_MEDIA_TYPE', message: (error as Error).message };
          break;
        case 'request.aborted':
          status = 400;
          body = { code: 'REQUEST_ABORTED', message: 'request aborted' };
          break;
        default:
          status = 500;
          body = { code: 'INTERNAL', message: 'internal error' };
          logger?.error(
            { err: error, method: req.method, path: req.path },
            'admin API handler failed',
          );
      }
    }
    if (res.headersSent) {
      res.destroy();
      return;
    }
    res.status(status).json({ error: body });
  };
}
