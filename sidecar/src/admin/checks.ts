/** The sidecar's built-in readiness checks. Raft registers its own (`raft`: joined). */
import { connect } from 'node:net';
import type { ConfigStore } from '../config/config-store.js';
import type { CheckFunction } from './health-checks.js';

/** Passes once a config is in force (always, once the store exists); shows its version. */
export function configLoadedCheck(store: ConfigStore): CheckFunction {
  return () => `version ${store.current().version} (generation ${store.current().generation})`;
}

/** Options of `tcpConnectCheck`. */
export interface TcpConnectCheckOptions {
  /** Where to connect, read at each run (the app address can change with a reload). */
  readonly target: () => { readonly host: string; readonly port: number };
  /** Connect timeout. Default 500 ms. */
  readonly timeoutMs?: number;
  /** A result (pass or fail) is reused this long, so frequent probes cost one connect. Default 1000 ms. */
  readonly cacheMs?: number;
  /** Monotonic milliseconds. Default `performance.now`. */
  readonly now?: () => number;
}

/**
 * Passes when a TCP connection to the target opens within the timeout (then closes it at once):
 * "the app is listening", without speaking its protocol.
 */
export function tcpConnectCheck(options: TcpConnectCheckOptions): CheckFunction {
  const timeoutMs = options.timeoutMs ?? 500;
  const cacheMs = options.cacheMs ?? 1000;
  const now = options.now ?? (() => performance.now());
  let cached: { at: number; key: string; result: Promise<string> } | null = null;
  return () => {
    const { host, port } = options.target();
    const key = `${host}:${port}`;
    const t = now();
    if (cached === null || cached.key !== key || t - cached.at >= cacheMs) {
      cached = { at: t, key, result: probe(host, port, timeoutMs) };
      // Keep a failed probe from surfacing as an unhandled rejection while cached.
      cached.result.catch(() => undefined);
    }
    return cached.result;
  };
}

function probe(host: string, port: number, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`connect to ${host}:${port} timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(`connected to ${host}:${port}`);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      socket.destroy();
      reject(new Error(`connect to ${host}:${port} failed: ${error.code ?? error.message}`));
    });
  });
}
