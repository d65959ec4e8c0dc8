/**
 * The step services of the saga tests: one real HTTP server on 127.0.0.1:0 that behaves like an
 * idempotent API and records every call with its `Idempotency-Key`.
 *
 * - The first call with a key is a *new effect* (recorded as such) unless the path is told to
 *   fail; its answer (`201 {id: <key>}`) is stored, and every later call with the key (a retry, a
 *   new leader re-issuing it) gets the stored answer without a new effect — also while the first
 *   is still being processed (it waits for it).
 * - Per path prefix, `behave(prefix, {status, times, delayMs, hold})`: answer `status` (no effect)
 *   for the first `times` calls (default: always), delay every answer, or hold calls until
 *   `release()` (the effect happens when released, like a slow service).
 * - `onCall` listeners see each call as it arrives (to kill a leader at a chosen point).
 */
import http, { type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One call as the service saw it. */
export interface RecordedCall {
  readonly method: string;
  readonly path: string;
  readonly key: string | undefined;
  readonly traceparent: string | undefined;
  readonly body: string;
  /** This call caused the effect (first successful call with its key). */
  readonly newEffect: boolean;
  readonly status: number;
}

/** How the service answers a path prefix. */
export interface Behaviour {
  /** Answer this status without effect… */
  readonly status?: number;
  /** …for this many calls (then succeed); default: every call. */
  readonly times?: number;
  readonly delayMs?: number;
  /** Hold calls (and their effects) until `release()`. */
  readonly hold?: boolean;
}

/** A running recorder. */
export interface SagaRecorder {
  readonly port: number;
  readonly url: string;
  readonly calls: RecordedCall[];
  behave(prefix: string, behaviour: Behaviour): void;
  /** Releases held calls. */
  release(): void;
  onCall(listener: (method: string, path: string, key: string | undefined) => void): () => void;
  /** Keys that took effect, in order. */
  effects(): string[];
  stop(): Promise<void>;
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Starts a recorder. */
export async function startSagaRecorder(): Promise<SagaRecorder> {
  const calls: RecordedCall[] = [];
  const behaviours = new Map<string, Behaviour & { count: number }>();
  const stored = new Map<string, Promise<{ status: number; body: string } | undefined>>();
  const listeners = new Set<(method: string, path: string, key: string | undefined) => void>();
  let held: (() => void)[] = [];
  const behaviourOf = (path: string) =>
    [...behaviours.entries()]
      .filter(([prefix]) => path.startsWith(prefix))
      .sort((a, b) => b[0].length - a[0].length)[0]?.[1];

  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      void (async () => {
        const path = req.url ?? '/';
        const key = header(req, 'idempotency-key');
        for (const listener of listeners) listener(req.method ?? '', path, key);
        const behaviour = behaviourOf(path);
        const record = (status: number, newEffect: boolean): void => {
          calls.push({
            method: req.method ?? '',
            path,
            key,
            traceparent: header(req, 'traceparent'),
            body,
            newEffect,
            status,
          });
        };
        // A key seen before (or still being processed) gets the stored answer, no new effect.
        const previous = key === undefined ? undefined : await stored.get(key);
        if (previous !== undefined) {
          record(previous.status, false);
          res.writeHead(previous.status, { 'content-type': 'application/json' }).end(previous.body);
          return;
        }
        let settle: (answer: { status: number; body: string } | undefined) => void = () =>
          undefined;
        if (key !== undefined) stored.set(key, new Promise((r) => (settle = r)));
        if (behaviour?.hold) await new Promise<void>((r) => held.push(r));
        if (behaviour?.delayMs) await new Promise((r) => setTimeout(r, behaviour.delayMs));
        if (
          behaviour?.status !== undefined &&
          (behaviour.times === undefined || behaviour.count < behaviour.times)
        ) {
          behaviour.count++;
          if (key !== undefined) stored.delete(key);
          settle(undefined);
          record(behaviour.status, false);
          res
            .writeHead(behaviour.status, { 'content-type': 'application/json' })
            .end('{"error":"told to fail"}');
          return;
        }
        const answer = { status: 201, body: JSON.stringify({ id: key ?? 'no-key', path }) };
        settle(answer);
        record(answer.status, true);
        res.writeHead(answer.status, { 'content-type': 'application/json' }).end(answer.body);
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    calls,
    behave: (prefix, behaviour) => behaviours.set(prefix, { ...behaviour, count: 0 }),
    release: () => {
      const waiting = held;
      held = [];
      for (const resume of waiting) resume();
    },
    onCall: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    effects: () => calls.filter((c) => c.newEffect).map((c) => c.key ?? ''),
    stop: async () => {
      for (const resume of held) resume();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
