import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

/** What /readyz reports. */
export interface ReadinessReport {
  ready: boolean;
  /** Shown in the body, e.g. `{informersSynced: true, role: 'standby'}`. */
  details: Record<string, unknown>;
}

/** Options of a `HealthServer`. */
export interface HealthServerOptions {
  host: string;
  port: number;
  readiness: () => ReadinessReport;
  registry: Registry;
}

/**
 * Plain HTTP on its own port: `/healthz` (the process answers), `/readyz` (200 or 503 with
 * the details), `/metrics` (Prometheus text). GET only; no request body is read.
 */
export class HealthServer {
  private readonly server: Server;
  private readonly options: HealthServerOptions;

  constructor(options: HealthServerOptions) {
    this.options = options;
    this.server = createServer((req, res) => {
      const path = (req.url ?? '').split('?')[0];
      const send = (status: number, type: string, body: string) => {
        res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
        res.end(body);
      };
      if (req.method !== 'GET' && req.method !== 'HEAD')
        return send(405, 'text/plain', 'GET only\n');
      if (path === '/healthz') return send(200, 'text/plain', 'ok\n');
      if (path === '/readyz') {
        const report = options.readiness();
        return send(report.ready ? 200 : 503, 'application/json', `${JSON.stringify(report)}\n`);
      }
      if (path === '/metrics') {
        options.registry
          .metrics()
          .then((text) => send(200, options.registry.contentType, text))
          .catch((error: unknown) => send(500, 'text/plain', `${String(error)}\n`));
        return;
      }
      send(404, 'text/plain', 'not found\n');
    });
    this.server.requestTimeout = 10_000;
  }

  /** Resolves with the bound port. */
  async listen(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port, this.options.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    return (this.server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}
