// @ts-check
/**
 * The few cluster operations the demo's traffic steps need, through `kubectl` (KUBECTL, with the
 * KUBECONFIG of the environment): JSON reads, apply/delete of a file, pod deletion, and a
 * sidecar's metrics and admin API.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);
const KUBECTL = process.env.KUBECTL || 'kubectl';

/**
 * @param {string[]} args
 * @param {number} [timeoutMs]
 */
export async function kubectl(args, timeoutMs = 30_000) {
  const { stdout } = await run(KUBECTL, args, { timeout: timeoutMs, maxBuffer: 32 * 1024 * 1024 });
  return stdout;
}

/**
 * A resource (or list) as JSON.
 * @param {string[]} args e.g. ['-n', 'shop', 'get', 'pods']
 */
export async function getJson(args) {
  return JSON.parse(await kubectl([...args, '-o', 'json']));
}

/** The sidecar's read-only probe listener (/livez, /readyz, /metrics on the pod IP). */
export const PROBE_PORT = 15020;

/**
 * The Prometheus text of the sidecar in `pod` (a Pod object), or null when it cannot be read:
 * from the probe listener on the pod IP, else from the loopback admin API through `kubectl exec`.
 * @param {any} pod
 * @param {{ exec?: boolean }} [options] exec: false — the probe listener only (cheap enough to poll)
 */
export async function sidecarMetrics(pod, options = {}) {
  try {
    const reply = await fetch(`http://${pod.status.podIP}:${PROBE_PORT}/metrics`, {
      signal: AbortSignal.timeout(3000),
    });
    if (reply.ok) return await reply.text();
  } catch {
    // No probe listener (older sidecar) or not reachable from here: try exec.
  }
  if (options.exec === false) return null;
  return sidecarAdmin(pod, '/metrics');
}

/**
 * The body of GET `path` on the loopback admin API of the sidecar in `pod` (a Pod object),
 * through `kubectl exec` (the admin API is not reachable from outside the pod; the image has
 * node, not curl), or null when it cannot be read.
 * @param {any} pod
 * @param {string} path e.g. '/v1/raft'
 */
export async function sidecarAdmin(pod, path) {
  const script = `fetch('http://127.0.0.1:15000'+process.argv[1]).then(r=>r.text()).then(t=>process.stdout.write(t),e=>{console.error(e.message);process.exit(1)})`;
  try {
    return await kubectl(
      [
        '-n',
        pod.metadata.namespace,
        'exec',
        pod.metadata.name,
        '-c',
        'palisade-sidecar',
        '--',
        'node',
        '-e',
        script,
        path,
      ],
      15_000,
    );
  } catch {
    return null;
  }
}

/**
 * Sum of the samples of `metric` in a Prometheus text exposition whose labels contain every
 * `label="value"` pair of `labels`.
 * @param {string} text
 * @param {string} metric
 * @param {Record<string, string>} [labels]
 */
export function sumMetric(text, metric, labels = {}) {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${metric}{`) && !line.startsWith(`${metric} `)) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (Number.isFinite(value)) sum += value;
  }
  return sum;
}
