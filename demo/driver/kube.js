// @ts-check
/**
 * The few cluster operations the demo's traffic steps need, through `kubectl` (KUBECTL, with the
 * KUBECONFIG of the environment): JSON reads, apply/delete of a file, pod deletion, and a
 * sidecar's admin API read from inside its pod (the admin port listens on loopback only).
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

/**
 * Reads `path` from the admin API of the sidecar in `pod`, or null when that is not possible
 * (no sidecar container, exec refused): the image has node, not curl.
 * @param {string} namespace
 * @param {string} pod
 * @param {string} path
 */
export async function sidecarGet(namespace, pod, path) {
  const script = `fetch('http://127.0.0.1:15000${path}').then(r=>r.text()).then(t=>process.stdout.write(t),e=>{console.error(e.message);process.exit(1)})`;
  try {
    return await kubectl(
      ['-n', namespace, 'exec', pod, '-c', 'palisade-sidecar', '--', 'node', '-e', script],
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
