/**
 * The in-cluster adapter of `ConfigMapClient` on `node:https`: the two calls the reflector makes
 * (a label-selected list and a watch of one namespace's ConfigMaps), authenticated with the pod's
 * service-account token and the cluster CA. Every injected pod runs this, and
 * @kubernetes/client-node costs ~46 MB of resident memory per process for them (measured,
 * docs/decisions/0019): this is ~150 lines. client-node stays for kubeconfig files
 * (`kube-client.ts`), whose auth variants (exec plugins, client certificates) it handles.
 */
import { readFileSync } from 'node:fs';
import { request, type RequestOptions } from 'node:https';
import type { IncomingMessage } from 'node:http';
import type { ConfigMapClient } from './config-map-reflector.js';

/** Where the API server is and how to authenticate to it. */
export interface ClusterAccess {
  readonly host: string;
  readonly port: number;
  /** PEM of the CA that signed the API server's certificate. */
  readonly ca: Buffer;
  /** Re-read before every call: projected tokens are rotated in place by the kubelet. */
  readonly tokenFile: string;
}

/** The service-account mount every pod gets. */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** The access a pod has: `KUBERNETES_SERVICE_HOST`/`_PORT` and the service-account mount. */
export function inClusterAccess(
  env: NodeJS.ProcessEnv = process.env,
  dir = SERVICE_ACCOUNT_DIR,
): ClusterAccess {
  const host = env['KUBERNETES_SERVICE_HOST'];
  const port = Number(env['KUBERNETES_SERVICE_PORT']);
  if (host === undefined || host === '' || !Number.isInteger(port) || port <= 0) {
    throw new Error(
      'not running in a pod: KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT unset (use --kubeconfig)',
    );
  }
  return { host, port, ca: readFileSync(`${dir}/ca.crt`), tokenFile: `${dir}/token` };
}

/** An API error with the HTTP status the reflector acts on (410 Gone → relist). */
export class KubeApiError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
    this.name = 'KubeApiError';
  }
}

/** Largest list answer read (a namespace's config ConfigMaps; each is at most 1 MiB). */
const MAX_LIST_BYTES = 256 * 1024 * 1024;
/** Largest single watch event line (one ConfigMap plus the event envelope). */
const MAX_EVENT_BYTES = 4 * 1024 * 1024;

/** The client for `namespace`'s ConfigMaps selected by `labelSelector`. */
export function inClusterConfigMapClient(
  access: ClusterAccess,
  namespace: string,
  labelSelector: string,
  watchSeconds: () => number,
): ConfigMapClient {
  const path = `/api/v1/namespaces/${encodeURIComponent(namespace)}/configmaps`;
  const selector = `labelSelector=${encodeURIComponent(labelSelector)}`;
  return {
    async list() {
      const response = await get(access, `${path}?${selector}`);
      const body = JSON.parse(await readBody(response, MAX_LIST_BYTES)) as {
        items?: unknown;
        metadata?: { resourceVersion?: unknown };
      };
      const items = Array.isArray(body.items) ? (body.items as unknown[]) : [];
      const version = body.metadata?.resourceVersion;
      return { items, resourceVersion: typeof version === 'string' ? version : '' };
    },
    async watch(resourceVersion, onEvent, onDone) {
      const query =
        `${selector}&watch=true&allowWatchBookmarks=true&timeoutSeconds=${watchSeconds()}` +
        `&resourceVersion=${encodeURIComponent(resourceVersion)}`;
      const response = await get(access, `${path}?${query}`);
      let finished = false;
      const finish = (error: unknown): void => {
        if (finished) return;
        finished = true;
        onDone(error);
      };
      const lines = new LineSplitter(MAX_EVENT_BYTES);
      response.on('data', (chunk: Buffer) => {
        if (finished) return;
        let events: string[];
        try {
          events = lines.push(chunk);
        } catch (error) {
          response.destroy();
          finish(error);
          return;
        }
        for (const line of events) {
          let event: { type?: unknown; object?: unknown };
          try {
            event = JSON.parse(line) as typeof event;
          } catch {
            response.destroy();
            finish(new Error('watch stream: an event is not JSON'));
            return;
          }
          if (typeof event.type === 'string') onEvent(event.type, event.object);
          if (finished) return; // onEvent may have aborted the watch
        }
      });
      response.on('end', () => finish(null));
      response.on('error', finish);
      response.on('close', () => finish(new Error('watch stream closed')));
      return {
        abort() {
          finish(null);
          response.destroy();
        },
      };
    },
  };
}

/** GET `path`; resolves with the response when it is 200, else rejects with a `KubeApiError`. */
function get(access: ClusterAccess, path: string): Promise<IncomingMessage> {
  const options: RequestOptions = {
    host: access.host,
    port: access.port,
    path,
    ca: access.ca,
    headers: {
      accept: 'application/json',
      authorization: `Bearer ${readFileSync(access.tokenFile, 'utf8').trim()}`,
    },
    // Bounded connect + first byte; an idle watch then relies on the server's timeoutSeconds.
    timeout: 30_000,
  };
  return new Promise((resolve, reject) => {
    const req = request(options, (response) => {
      req.setTimeout(0);
      if (response.statusCode === 200) {
        resolve(response);
        return;
      }
      const status = response.statusCode ?? 0;
      readBody(response, 64 * 1024).then(
        (text) =>
          reject(new KubeApiError(status, `GET ${path.split('?')[0]}: ${status} ${reason(text)}`)),
        () => reject(new KubeApiError(status, `GET ${path.split('?')[0]}: ${status}`)),
      );
    });
    // A watch idles for minutes: TCP keep-alive finds a peer that vanished without a FIN.
    req.on('socket', (socket) => socket.setKeepAlive(true, 30_000));
    req.on('timeout', () => req.destroy(new Error(`GET ${path.split('?')[0]}: no answer in 30 s`)));
    req.on('error', reject);
    req.end();
  });
}

/** The `message` of a Kubernetes Status body, else the text's start. */
function reason(text: string): string {
  try {
    const status = JSON.parse(text) as { message?: unknown };
    if (typeof status.message === 'string') return status.message;
  } catch {
    // not a Status object
  }
  return text.slice(0, 200);
}

/** The whole body as text; rejects past `maxBytes`. */
function readBody(response: IncomingMessage, maxBytes: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    response.on('data', (chunk: Buffer) => {
      total += chunk.length;
      if (total > maxBytes) {
        response.destroy();
        reject(new Error(`API answer larger than ${maxBytes} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    response.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    response.on('error', reject);
  });
}

/** Splits a stream of newline-delimited JSON into lines; a line longer than the bound throws. */
export class LineSplitter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  constructor(private readonly maxLineBytes: number) {}

  /** The complete lines `chunk` finishes (empty ones skipped). */
  push(chunk: Buffer): string[] {
    const lines: string[] = [];
    let start = 0;
    for (let newline = chunk.indexOf(10); newline !== -1; newline = chunk.indexOf(10, start)) {
      const piece = chunk.subarray(start, newline);
      const line =
        this.pendingBytes === 0
          ? piece.toString('utf8')
          : Buffer.concat([...this.pending, piece]).toString('utf8');
      this.pending = [];
      this.pendingBytes = 0;
      if (line.trim() !== '') lines.push(line);
      start = newline + 1;
    }
    if (start < chunk.length) {
      this.pendingBytes += chunk.length - start;
      if (this.pendingBytes > this.maxLineBytes) {
        throw new Error(`watch stream: an event longer than ${this.maxLineBytes} bytes`);
      }
      this.pending.push(chunk.subarray(start));
    }
    return lines;
  }
}
