/**
 * Makes one attempt of a saga call with undici and reduces whatever happens to a `CallOutcome`.
 * The only I/O of a step. Errors are split by whether the request may have reached the service:
 * a refused connection or unknown host did not (the step certainly took no effect); a timeout or
 * a reset after connecting may have, and the table then treats the step as possibly done.
 *
 * The call goes through undici's `dispatch` with a handler of its own (no response stream, no
 * AbortSignal), over one keep-alive agent (a pool per origin), and its per-attempt timeout sits
 * in a shared {@link DeadlineQueue}: together half the CPU of `request()` with
 * `AbortSignal.timeout` per call (docs/decisions/0017-sagas.md, measured).
 */
import { Agent, type Dispatcher } from 'undici';
import type { CallOutcome } from './commands.js';
import { MAX_ERROR_LENGTH } from './commands.js';
import { DeadlineQueue } from './deadline-queue.js';
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
  const deadlines = new DeadlineQueue();
  return {
    call: (req) => callOnce(agent, deadlines, req),
    // Calls in flight finish first; their deadlines still run, so a silent service cannot hold
    // the close for longer than its call's timeout.
    close: async () => {
      await agent.close();
      deadlines.clear();
    },
  };
}

function errorOutcome(uncertain: boolean, message: string): CallOutcome {
  return { kind: 'error', uncertain, message: message.slice(0, MAX_ERROR_LENGTH) };
}

function callOnce(
  agent: Dispatcher,
  deadlines: DeadlineQueue,
  req: RenderedRequest,
): Promise<CallOutcome> {
  let url: URL;
  try {
    url = new URL(req.url);
  } catch {
    return Promise.resolve(errorOutcome(false, `invalid URL ${req.url}`));
  }
  return new Promise<CallOutcome>((resolve) => {
    let controller: Dispatcher.DispatchController | undefined;
    let settled = false;
    let timedOut = false;
    let status = 0;
    let contentType: string | string[] | undefined;
    let size = 0;
    const chunks: Buffer[] = [];
    const settle = (outcome: CallOutcome): void => {
      if (settled) return;
      settled = true;
      deadline.cancel();
      resolve(outcome);
    };
    // The request may still be waiting for a connection: then it is aborted once it gets one.
    const deadline = deadlines.add(req.timeoutMs, () => {
      timedOut = true;
      controller?.abort(new Error('timeout'));
      settle(errorOutcome(true, `no answer within ${req.timeoutMs} ms`));
    });
    const handler: Dispatcher.DispatchHandler = {
      onRequestStart(c) {
        controller = c;
        if (timedOut) c.abort(new Error('timeout'));
      },
      onResponseStart(_c, statusCode, headers) {
        status = statusCode;
        contentType = headers['content-type'];
      },
      onResponseData(c, chunk) {
        size += chunk.byteLength;
        if (size > MAX_RESPONSE_BYTES) {
          // Too large to keep: the answer counts, its body is dropped.
          settle({ kind: 'response', status });
          c.abort(new Error('response body too large'));
          return;
        }
        chunks.push(chunk);
      },
      onResponseEnd() {
        const body = parseBody(chunks, size, contentType);
        settle(
          body === undefined ? { kind: 'response', status } : { kind: 'response', status, body },
        );
      },
      onResponseError(_c, error) {
        if (timedOut || settled) return;
        const code = errorCode(error);
        settle(
          errorOutcome(
            code === undefined || !NOT_SENT.has(code),
            `${code ?? 'error'}: ${error.message}`,
          ),
        );
      },
    };
    try {
      agent.dispatch(
        {
          origin: url.origin,
          path: `${url.pathname}${url.search}`,
          method: req.method as Dispatcher.HttpMethod,
          headers: req.headers,
          body: req.body,
        },
        handler,
      );
    } catch (error) {
      // Refused before anything was sent (invalid method or headers, closed agent).
      settle(errorOutcome(false, `${errorCode(error) ?? 'error'}: ${(error as Error).message}`));
    }
  });
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

function parseBody(
  chunks: readonly Buffer[],
  size: number,
  contentType: string | string[] | undefined,
): unknown {
  if (size === 0) return undefined;
  const text = Buffer.concat(chunks, size).toString('utf8');
  const type = Array.isArray(contentType) ? contentType[0] : contentType;
  if (type === undefined || !/json/i.test(type)) return text;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
