/**
 * The probe listener: `/livez`, `/readyz` and `/metrics`, read-only, on an address the kubelet
 * (and Prometheus, and the operator's chaos guards) can reach over the pod IP. The admin API
 * stays on loopback: it also serves `/config` and the `/v1/…` routes that change state, and it
 * has no authentication. Nothing here reads a request body or changes anything, so a plain
 * `node:http` server is enough.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics/metrics.js';
import { AdminServerError } from './errors.js';
import type { HealthChecks } from './health-checks.js';

/** Default port of the probe listener (next to the admin port's 15000 family, like Istio's 15020). */
export const DEFAULT_PROBE_PORT = 15020;

/** Options of `createProbeServer`. */
export interface ProbeServerOptions {
  readonly checks: HealthChecks;
  readonly metrics: Metrics;
  /** Default `0.0.0.0` (the pod IP and loopback). */
  readonly host?: string;
  /** 0 picks a free port (tests). */
  readonly port: number;
  readonly logger?: Logger;
}

/** The probe server. `listen` once, `close` once. */
export interface ProbeServer {
  listen(): Promise<AddressInfo>;
  close(): Promise<void>;
}

/**
 * Listens on `host:port` and resolves with the bound address, or rejects with
 * `ADMIN_LISTEN_FAILED` naming `what` (shared by the admin API and the probe listener).
 */
export async function listenOn(
  server: Server,
  host: string,
  port: number,
  what: string,
): Promise<AddressInfo> {
  server.listen({ host, port });
  try {
    await Promise.race([
      once(server, 'listening'),
      once(server, 'error').then(([error]) => Promise.reject(error as Error)),
    ]);
  } catch (cause) {
    throw new AdminServerError(
      'ADMIN_LISTEN_FAILED',
      `${what} cannot listen on ${host}:${port}: ${(cause as Error).message}`,
      { cause },
    );
  }
  return server.address() as AddressInfo;
}

/** `/readyz`'s answer, shared with the admin API: 200 when every readiness check passes. */
export async function readinessAnswer(
  checks: HealthChecks,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const results = await checks.run('readiness');
  const failing = results.filter((r) => r.status === 'fail');
  return {
    status: failing.length === 0 ? 200 : 503,
    body: {
      status: failing.length === 0 ? 'ok' : 'fail',
      checks: Object.fromEntries(results.map((r) => [r.name, r.status])),
      ...(failing.length > 0
        ? { failing: failing.map((r) => ({ name: r.name, error: r.error })) }
        : {}),
    },
  };
}

/** Creates the probe server (not yet listening). */
export function createProbeServer(options: ProbeServerOptions): ProbeServer {
  const host = options.host ?? '0.0.0.0';
  const json = (res: ServerResponse, status: number, body: unknown): void => {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
    res.end(JSON.stringify(body));
  };
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/livez' && path !== '/readyz' && path !== '/metrics') {
      json(res, 404, { error: { code: 'NOT_FOUND', message: `no route for ${path}` } });
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      json(res, 405, {
        error: { code: 'METHOD_NOT_ALLOWED', message: `${path} only answers GET` },
      });
      return;
    }
    if (path === '/livez') json(res, 200, { status: 'ok' });
    else if (path === '/readyz') {
      const answer = await readinessAnswer(options.checks);
      json(res, answer.status, answer.body);
    } else {
      const text = await options.metrics.text();
      res.writeHead(200, { 'content-type': options.metrics.contentType });
      res.end(text);
    }
  };
  const server = createServer(
    { maxHeaderSize: 8 * 1024, requestTimeout: 10_000, headersTimeout: 5_000 },
    (req, res) => {
      // Probes send no body; whatever comes is drained and ignored.
      req.resume();
      handle(req, res).catch((error: unknown) => {
        options.logger?.error({ err: error }, 'probe request failed');
        if (!res.headersSent)
          json(res, 500, { error: { code: 'INTERNAL', message: 'internal error' } });
        else res.destroy();
      });
    },
  );
  server.keepAliveTimeout = 5_000;
  return {
    async listen() {
      const address = await listenOn(server, host, options.port, 'probe listener');
      options.logger?.info({ host: address.address, port: address.port }, 'probe listener up');
      return address;
    },
    async close() {
      if (!server.listening) return;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}
