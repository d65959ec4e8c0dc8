/**
 * Makes one attempt of a saga call with undici and reduces whatever happens to a `CallOutcome`.
 * The only I/O of a step. Errors are split by whether the request may have reached the service:
 * a refused connection or unknown host did not (the step certainly took no effect); a timeout or
 * a reset after connecting may have, and the table then treats the step as possibly done.
 */
import { Agent, request, type Dispatcher } from 'undici';
import type { CallOutcome } from './commands.js';
import { MAX_ERROR_LENGTH } from './commands.js';
import type { RenderedRequest } from './decisions.js';

/** Response bodies kept (for templates and the step log) up to this size; larger ones are dropped. */
export const MAX_RESPONSE_BYTES = 64 * 1024;

/** Error codes that prove the request never left (no connection was made). */
const NOT_SENT = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'UND_ERR_CONNECT_TIMEOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

/** Makes one call; never rejects. */
export type StepCaller = (request: RenderedRequest) => Promise<CallOutcome>;

/** A caller over one keep-alive undici agent; `close` it at shutdown. */
export function createHttpCaller(options: { connections?: number } = {}): {
  call: StepCaller;
  close(): Promise<void>;
} {
  const agent = new Agent({ connections: options.connections ?? 128, keepAliveTimeout: 10_000 });
  return {
    call: (req) => callOnce(agent, req),
    close: () => agent.close(),
  };
}

async function callOnce(dispatcher: Dispatcher, req: RenderedRequest): Promise<CallOutcome> {
  try {
    const res = await request(req.url, {
      dispatcher,
      method: req.method as Dispatcher.HttpMethod,
      headers: req.headers,
      body: req.body,
      signal: AbortSignal.timeout(req.timeoutMs),
    });
    const body = await readBody(res.body, res.headers['content-type']);
    return body === undefined
      ? { kind: 'response', status: res.statusCode }
      : { kind: 'response', status: res.statusCode, body };
  } catch (error) {
    const code = errorCode(error);
    const timedOut =
      (error as Error).name === 'TimeoutError' || (error as Error).name === 'AbortError';
    const message = timedOut
      ? `no answer within ${req.timeoutMs} ms`
      : `${code ?? 'error'}: ${(error as Error).message}`;
    return {
      kind: 'error',
      uncertain: code === undefined || !NOT_SENT.has(code),
      message: message.slice(0, MAX_ERROR_LENGTH),
    };
  }
}

function errorCode(error: unknown): string | undefined {
  for (
    let e: unknown = error;
    typeof e === 'object' && e !== null;
    e = (e as { cause?: unknown }).cause
  ) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

async function readBody(
  body: Dispatcher.ResponseData['body'],
  contentType: string | string[] | undefined,
): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += (chunk as Buffer).byteLength;
    if (size > MAX_RESPONSE_BYTES) {
      body.destroy();
      return undefined;
    }
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return undefined;
  const text = Buffer.concat(chunks).toString('utf8');
  const type = Array.isArray(contentType) ? contentType[0] : contentType;
  if (type === undefined || !/json/i.test(type)) return text;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
