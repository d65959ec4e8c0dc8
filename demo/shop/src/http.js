// @ts-check
/**
 * The few HTTP helpers the three services share: JSON in and out with a size limit, and JSON
 * calls to other services that go through the sidecar's outbound proxy when HTTP_PROXY is set
 * (Node's http client ignores HTTP_PROXY, so the proxy is addressed by hand, in absolute form).
 */
import http from 'node:http';

/** Largest request body a service reads (bytes): orders and charges are small. */
export const MAX_BODY_BYTES = 64 * 1024;

/** A request that cannot be served as sent; `status` is the response code. */
export class HttpError extends Error {
  /**
   * @param {number} status
   * @param {string} message
   */
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/**
 * Reads a JSON object body. Empty body: `{}`.
 * @param {http.IncomingMessage} req
 * @returns {Promise<Record<string, unknown>>}
 */
export async function readJson(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, `body larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  if (size === 0) return {};
  let value;
  try {
    value = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new HttpError(400, 'body is not JSON');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new HttpError(400, 'body must be a JSON object');
  }
  return value;
}

/**
 * @param {http.ServerResponse} res
 * @param {number} status
 * @param {unknown} body
 * @param {Record<string, string>} [headers]
 */
export function sendJson(res, status, body, headers = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/**
 * @typedef {(req: http.IncomingMessage, res: http.ServerResponse, url: URL) => Promise<void> | void} Handler
 */

/**
 * An http server that maps `HttpError`s (and anything unexpected, as 500) to JSON responses, so
 * each handler only writes its success path.
 * @param {string} service name used in logs
 * @param {Handler} handler
 */
export function createJsonServer(service, handler) {
  return http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://service.invalid');
    Promise.resolve()
      .then(() => handler(req, res, url))
      .catch((/** @type {unknown} */ error) => {
        const status = error instanceof HttpError ? error.status : 500;
        if (status === 500) console.error(`${service}: ${req.method} ${url.pathname}:`, error);
        if (!res.headersSent) sendJson(res, status, { error: errorMessage(error) });
        else res.destroy();
      });
  });
}

/** @param {unknown} error */
export function errorMessage(error) {
  return error instanceof Error ? error.message : String(error);
}

/**
 * The forward proxy to use for `target`, from HTTP_PROXY/NO_PROXY (either case), or null.
 * NO_PROXY entries match a host exactly or as a domain suffix (`.svc` or `svc`); `*` matches all.
 * @param {URL} target
 * @param {Record<string, string | undefined>} env
 * @returns {URL | null}
 */
export function proxyFor(target, env) {
  const proxy = env.HTTP_PROXY || env.http_proxy;
  if (!proxy || target.protocol !== 'http:') return null;
  const host = target.hostname.toLowerCase();
  const noProxy = (env.NO_PROXY || env.no_proxy || '')
    .split(',')
    .map((entry) => entry.trim().toLowerCase())
    .filter((entry) => entry !== '');
  for (const entry of noProxy) {
    if (entry === '*') return null;
    const domain = entry.replace(/^\*?\.?/, '');
    if (host === domain || host.endsWith(`.${domain}`)) return null;
  }
  return new URL(proxy);
}

/**
 * @typedef {{ status: number, headers: http.IncomingHttpHeaders, body: any }} JsonResponse
 * @typedef {{ method?: string, body?: unknown, headers?: Record<string, string>, timeoutMs?: number, env?: Record<string, string | undefined> }} CallOptions
 */

/**
 * One JSON call. Resolves with any status (the caller decides what a failure is); rejects only
 * when no response came (connection refused, timeout). Non-JSON bodies come back as text.
 * @param {string} url
 * @param {CallOptions} [options]
 * @returns {Promise<JsonResponse>}
 */
export function callJson(url, options = {}) {
  const target = new URL(url);
  const proxy = proxyFor(target, options.env ?? process.env);
  const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
  /** @type {Record<string, string | number>} */
  const headers = { accept: 'application/json', ...options.headers, host: target.host };
  if (payload !== undefined) {
    headers['content-type'] = 'application/json';
    headers['content-length'] = Buffer.byteLength(payload);
  }
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: proxy ? proxy.hostname : target.hostname,
        port: proxy ? proxy.port || 80 : target.port || 80,
        // Through a forward proxy the request line carries the absolute URL.
        path: proxy ? target.href : `${target.pathname}${target.search}`,
        method: options.method ?? 'GET',
        headers,
        timeout: options.timeoutMs ?? 5000,
      },
      (res) => {
        const chunks = /** @type {Buffer[]} */ ([]);
        res.on('data', (chunk) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body = text;
          try {
            body = text === '' ? null : JSON.parse(text);
          } catch {
            // Not JSON (e.g. a proxy's plain-text error): keep the text.
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${options.method ?? 'GET'} ${url}: timed out`)));
    req.on('error', reject);
    req.end(payload);
  });
}

/**
 * Starts `server` on `port` (0: any) and closes it on SIGTERM/SIGINT.
 * @param {http.Server} server
 * @param {string} service
 * @param {number} port
 * @returns {Promise<number>} the bound port
 */
export async function listen(server, service, port) {
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, () => resolve(undefined));
  });
  const address = server.address();
  const bound = typeof address === 'object' && address !== null ? address.port : port;
  console.log(`${service} listening on ${bound}`);
  return bound;
}
