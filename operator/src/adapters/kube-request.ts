import { request as httpsRequest, type RequestOptions } from 'node:https';
import { request as httpRequest } from 'node:http';
import type { KubeConfig } from '@kubernetes/client-node';

/** A non-2xx answer of the API server (or a transport failure, status 0). */
export class KubeRequestError extends Error {
  readonly code = 'KUBE_REQUEST_FAILED';
  constructor(
    message: string,
    readonly status: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'KubeRequestError';
  }
}

/** One request to the API server. */
export interface KubeRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  body?: unknown;
  /** Default application/json; e.g. application/merge-patch+json. */
  contentType?: string;
  timeoutMs?: number;
}

/** Largest response body read (bytes); Leases, Secrets and webhook configs are far smaller. */
const MAX_RESPONSE_BYTES = 4 * 1024 * 1024;

/**
 * Plain JSON over the API server with the kubeconfig's credentials: for the few objects whose
 * exact wire format matters (Lease MicroTime) or that need a merge patch. Thin by design.
 */
export async function kubeRequest<T>(kubeConfig: KubeConfig, req: KubeRequest): Promise<T> {
  const cluster = kubeConfig.getCurrentCluster();
  if (cluster === null) throw new KubeRequestError('kubeconfig has no current cluster', 0);
  const url = new URL(req.path, cluster.server);
  const options: RequestOptions = {
    method: req.method,
    protocol: url.protocol,
    hostname: url.hostname,
    port: url.port,
    path: `${url.pathname}${url.search}`,
    headers: { accept: 'application/json' },
  };
  await kubeConfig.applyToHTTPSOptions(options);
  const payload = req.body === undefined ? undefined : Buffer.from(JSON.stringify(req.body));
  options.headers = {
    ...options.headers,
    ...(payload === undefined
      ? {}
      : {
          'content-type': req.contentType ?? 'application/json',
          'content-length': String(payload.length),
        }),
  };
  const send = url.protocol === 'http:' ? httpRequest : httpsRequest;
  return new Promise<T>((resolve, reject) => {
    const r = send(options, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_RESPONSE_BYTES) {
          res.destroy(new KubeRequestError(`response of ${req.path} too large`, 0));
          return;
        }
        chunks.push(chunk);
      });
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const status = res.statusCode ?? 0;
        if (status < 200 || status >= 300) {
          reject(
            new KubeRequestError(
              `${req.method} ${req.path}: ${status} ${text.slice(0, 500)}`,
              status,
            ),
          );
          return;
        }
        try {
          resolve((text === '' ? {} : JSON.parse(text)) as T);
        } catch (error) {
          reject(new KubeRequestError(`${req.path}: invalid JSON`, status, { cause: error }));
        }
      });
    });
    r.setTimeout(req.timeoutMs ?? 10_000, () =>
      r.destroy(new KubeRequestError(`${req.method} ${req.path}: timed out`, 0)),
    );
    r.on('error', (error) =>
      reject(
        error instanceof KubeRequestError
          ? error
          : new KubeRequestError(`${req.method} ${req.path}: ${error.message}`, 0, {
              cause: error,
            }),
      ),
    );
    if (payload !== undefined) r.write(payload);
    r.end();
  });
}
