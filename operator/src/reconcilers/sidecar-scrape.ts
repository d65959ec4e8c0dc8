/**
 * The I/O of reading sidecars' metrics, shared by chaos observation and Saga status: one
 * `GET /metrics` per pod over the sidecar's probe listener (pod IP, port 15020 by default), with
 * a timeout per pod, all pods of a round in parallel, parsed with the pure `parseSidecarMetrics`.
 */
import type { PodInfo } from '../compiler/types.js';
import { parseSidecarMetrics, type SidecarSample } from './sidecar-metrics.js';

/**
 * Reads one sidecar's Prometheus text; rejects when the sidecar does not answer (the error's
 * message need not name the pod: callers key failures by pod).
 */
export interface SidecarMetricsReader {
  read(pod: PodInfo, signal: AbortSignal): Promise<string>;
}

/** Port of the sidecar's probe listener (`--probe-port`, default 15020). */
export const DEFAULT_SIDECAR_PROBE_PORT = 15020;

/** Largest /metrics body read (a sidecar exposes a few hundred series). */
const MAX_METRICS_BYTES = 4 * 1024 * 1024;

/**
 * `GET http://<podIP>:<port>/metrics` with a timeout (default 1000 ms) and a size bound (default
 * 4 MiB) enforced while the body arrives, so a runaway sidecar costs at most that much memory.
 */
export function httpMetricsReader(options: {
  port?: number | ((pod: PodInfo) => number);
  timeoutMs?: number;
  maxBytes?: number;
}): SidecarMetricsReader {
  const portOf = options.port ?? DEFAULT_SIDECAR_PROBE_PORT;
  const timeoutMs = options.timeoutMs ?? 1000;
  const maxBytes = options.maxBytes ?? MAX_METRICS_BYTES;
  return {
    async read(pod, signal) {
      if (pod.podIP === undefined) throw new Error('no pod IP yet');
      const port = typeof portOf === 'number' ? portOf : portOf(pod);
      // One deadline for the head and the body, on a timer and a controller held here: with
      // AbortSignal.any([caller, AbortSignal.timeout]) a scrape in a loaded CI run was still
      // pending after 5 s (a 300 ms deadline); this form bounds it for certain.
      const controller = new AbortController();
      const onAbort = (): void => controller.abort(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      const timer = setTimeout(
        () => controller.abort(new Error(`timeout: no answer within ${timeoutMs} ms`)),
        timeoutMs,
      );
      try {
        const response = await fetch(`http://${pod.podIP}:${port}/metrics`, {
          signal: controller.signal,
        });
        if (!response.ok) throw new Error(`GET /metrics: HTTP ${response.status}`);
        return await readCapped(response, maxBytes);
      } finally {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
      }
    },
  };
}

/** The body as text; rejects (cancelling the rest) once more than `maxBytes` arrived. */
async function readCapped(response: Response, maxBytes: number): Promise<string> {
  if (response.body === null) return '';
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of response.body) {
    total += chunk.byteLength;
    if (total > maxBytes) throw new Error(`GET /metrics: body larger than ${maxBytes} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** One round of scrapes: a sample per pod that answered, a reason per pod that did not. */
export interface SidecarScrape {
  samples: Map<string, SidecarSample>;
  failures: Map<string, string>;
}

/**
 * Scrapes `pods` in parallel. A sidecar that is down (podKill, restart, not started yet) is a
 * failure of this round, never an error of the caller; only `signal` aborting throws.
 */
export async function scrapeSidecars(
  reader: SidecarMetricsReader,
  pods: readonly PodInfo[],
  signal: AbortSignal,
): Promise<SidecarScrape> {
  const scrape: SidecarScrape = { samples: new Map(), failures: new Map() };
  await Promise.all(
    pods.map(async (pod) => {
      try {
        scrape.samples.set(pod.name, parseSidecarMetrics(await reader.read(pod, signal)));
      } catch (error) {
        scrape.failures.set(pod.name, failureReason(error));
      }
    }),
  );
  signal.throwIfAborted();
  return scrape;
}

/**
 * `fetch failed (ECONNREFUSED)` rather than just `fetch failed`: undici keeps the reason in
 * `cause`. Duck-typed: fetch's errors may come from another realm (`instanceof Error` fails).
 */
function failureReason(error: unknown): string {
  const { message, cause } = (error ?? {}) as { message?: unknown; cause?: { code?: unknown } };
  if (typeof message !== 'string') return String(error);
  return typeof cause?.code === 'string' ? `${message} (${cause.code})` : message;
}
