/**
 * A lease client for tests and benchmarks: hammers a sidecar's admin API with
 * acquire/renew/release and records every operation with its invocation and response times on
 * the machine's monotonic clock (`process.hrtime`, shared by every process and network namespace
 * of one machine), for the history checker.
 *
 * Behaviour of one client on one name: acquire; while granted, renew a few times (each renew sent
 * before a third of the safe hold has passed) and then release; after a 409 or an error, wait a
 * little and try again. A client stops acting on a grant at `invokedAt + safeHoldMs(validForMs)`
 * or when it sends a release, whichever comes first — exactly what the checker assumes.
 */
import { request } from 'node:http';
import { safeHoldMs } from '../../leases/index.js';

/** One recorded operation. Times are monotonic milliseconds ({@link monotonicMs}). */
export interface LeaseHistoryEvent {
  readonly client: string;
  readonly name: string;
  readonly op: 'acquire' | 'renew' | 'release';
  readonly invokedAt: number;
  readonly completedAt: number;
  /** granted: acquire/renew succeeded; held/stale: 409; released; unavailable: 503; error: other. */
  readonly outcome: 'granted' | 'held' | 'stale' | 'released' | 'unavailable' | 'error';
  /** The token sent (renew/release) or granted (acquire/renew). */
  readonly token?: number;
  readonly validForMs?: number;
  readonly status?: number;
}

/** The machine-wide monotonic clock in milliseconds (CLOCK_MONOTONIC). */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** An HTTP JSON answer. */
export interface JsonAnswer {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

/** POST/GET JSON to the admin API on loopback (keep-alive agent-free: one socket per call). */
export function adminRequest(
  port: number,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
  timeoutMs = 5000,
): Promise<JsonAnswer> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        headers: {
          host: `127.0.0.1:${port}`,
          ...(payload !== undefined
            ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }
            : {}),
        },
        timeout: timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: Record<string, unknown> = {};
          try {
            parsed = text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
          } catch {
            parsed = { raw: text };
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timeout after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(payload);
  });
}

/** Options of {@link runLeaseClient}. */
export interface LeaseClientOptions {
  readonly client: string;
  readonly adminPort: number;
  readonly names: readonly string[];
  readonly ttlMs: number;
  /** Stop starting operations after this many ms. */
  readonly durationMs: number;
  /** Renewals per grant before releasing (default 2). */
  readonly renewals?: number;
  /** Pause after a refusal or error, ms (default 20). */
  readonly backoffMs?: number;
  /** Stops starting operations early (e.g. its sidecar's pod is gone). */
  readonly signal?: AbortSignal;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs one client over every name concurrently; resolves with the recorded history. */
export async function runLeaseClient(options: LeaseClientOptions): Promise<LeaseHistoryEvent[]> {
  const history: LeaseHistoryEvent[] = [];
  const deadline = monotonicMs() + options.durationMs;
  const renewals = options.renewals ?? 2;
  const backoffMs = options.backoffMs ?? 20;

  const call = async (
    name: string,
    op: LeaseHistoryEvent['op'],
    body: Record<string, unknown>,
  ): Promise<LeaseHistoryEvent> => {
    const invokedAt = monotonicMs();
    let event: LeaseHistoryEvent;
    try {
      const answer = await adminRequest(
        options.adminPort,
        'POST',
        `/v1/leases/${encodeURIComponent(name)}/${op}`,
        body,
      );
      const completedAt = monotonicMs();
      const b = answer.body;
      const base = {
        client: options.client,
        name,
        op,
        invokedAt,
        completedAt,
        status: answer.status,
      };
      if (answer.status === 200 && op === 'release') {
        event = { ...base, outcome: 'released', token: body.token as number };
      } else if (answer.status === 200) {
        event = {
          ...base,
          outcome: 'granted',
          token: b.token as number,
          validForMs: b.validForMs as number,
        };
      } else if (answer.status === 409) {
        event = {
          ...base,
          outcome: b.code === 'PALISADE_LEASE_HELD' ? 'held' : 'stale',
          token: body.token as number | undefined,
        };
      } else if (answer.status === 503) {
        event = { ...base, outcome: 'unavailable', token: body.token as number | undefined };
      } else {
        event = { ...base, outcome: 'error', token: body.token as number | undefined };
      }
    } catch {
      event = {
        client: options.client,
        name,
        op,
        invokedAt,
        completedAt: monotonicMs(),
        outcome: 'error',
        token: body.token as number | undefined,
      };
    }
    history.push(event);
    return event;
  };

  const loop = async (name: string): Promise<void> => {
    while (monotonicMs() < deadline && options.signal?.aborted !== true) {
      const grant = await call(name, 'acquire', { holder: options.client, ttl: options.ttlMs });
      if (grant.outcome !== 'granted' || grant.token === undefined) {
        await sleep(backoffMs + Math.random() * backoffMs);
        continue;
      }
      let token = grant.token;
      let current = grant;
      let holding = true;
      for (let i = 0; i < renewals && holding; i++) {
        const holdUntil = current.invokedAt + safeHoldMs(current.validForMs ?? 0);
        const renewAt = current.invokedAt + safeHoldMs(current.validForMs ?? 0) / 3;
        const wait = renewAt - monotonicMs();
        if (wait > 0) await sleep(wait);
        if (monotonicMs() >= holdUntil) {
          holding = false;
          break;
        }
        const renewed = await call(name, 'renew', { holder: options.client, token });
        if (renewed.outcome !== 'granted') holding = false;
        else {
          current = renewed;
          token = renewed.token ?? token;
        }
      }
      if (holding) await call(name, 'release', { holder: options.client, token });
      await sleep(Math.random() * backoffMs);
    }
  };

  await Promise.all(options.names.map((name) => loop(name)));
  return history;
}
