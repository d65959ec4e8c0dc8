import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { SidecarSettings } from '../options.js';
import { reviewAdmission, type AdmissionAnswer } from './admission-review.js';

/** Largest AdmissionReview accepted (bytes); the API server's own request limit is 3 MiB. */
export const MAX_REVIEW_BYTES = 3 * 1024 * 1024;

/** Options of a `WebhookServer`. */
export interface WebhookServerOptions {
  host: string;
  port: number;
  /** Path of the mutating webhook (default /mutate). */
  path?: string;
  tls: { cert: string; key: string };
  settings: SidecarSettings;
  /** Told about every review (metrics, logs). */
  onReview?: (answer: AdmissionAnswer) => void;
  /** Per-request time limit, ms (the API server waits at most `timeoutSeconds`). */
  requestTimeoutMs?: number;
}

/**
 * The HTTPS shell around `reviewAdmission`: POST <path> (default /mutate) with a JSON body of bounded size.
 * `setCertificate` swaps the serving certificate without a restart (rotation).
 */
export class WebhookServer {
  private readonly server: Server;
  private readonly options: WebhookServerOptions;

  constructor(options: WebhookServerOptions) {
    this.options = options;
    this.server = createServer({ cert: options.tls.cert, key: options.tls.key }, (req, res) => {
      const send = (status: number, body: unknown) => {
        const text = JSON.stringify(body);
        res.writeHead(status, {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(text),
        });
        res.end(text);
      };
      const url = (req.url ?? '').split('?')[0];
      const path = this.options.path ?? '/mutate';
      if (req.method !== 'POST' || url !== path) return send(404, { message: `POST ${path} only` });
      const type = req.headers['content-type'] ?? '';
      if (!type.startsWith('application/json'))
        return send(415, { message: 'application/json only' });
      const declared = Number(req.headers['content-length'] ?? '0');
      if (declared > MAX_REVIEW_BYTES) return send(413, { message: 'review too large' });
      const chunks: Buffer[] = [];
      let size = 0;
      let aborted = false;
      req.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_REVIEW_BYTES) {
          aborted = true;
          send(413, { message: 'review too large' });
          req.destroy();
          return;
        }
        chunks.push(chunk);
      });
      req.on('end', () => {
        if (aborted) return;
        let parsed: unknown;
        try {
          parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
          return send(400, { message: 'body is not JSON' });
        }
        const answer = reviewAdmission(parsed, this.options.settings);
        this.options.onReview?.(answer);
        send(answer.status, answer.body);
      });
    });
    this.server.requestTimeout = options.requestTimeoutMs ?? 10_000;
    this.server.headersTimeout = Math.min(this.server.requestTimeout, 10_000);
  }

  /** Starts listening; resolves with the bound port (useful with port 0). */
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

  /** Serves new connections with a new certificate (existing ones keep the old until closed). */
  setCertificate(tls: { cert: string; key: string }): void {
    this.server.setSecureContext({ cert: tls.cert, key: tls.key });
  }

  /** Stops accepting, closes idle connections, resolves when all are closed. */
  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeIdleConnections();
    });
  }
}
