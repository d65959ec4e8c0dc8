// @ts-check
/**
 * Time series of the shop sidecars' metrics during the demo, for the dashboard picture
 * (render-dashboard.js): which metrics, which of their labels are kept, how pods are combined
 * (counters summed; state gauges by max), and per-second rates. Pure.
 */

/** Metric → labels kept (others, e.g. route or pod, are summed away) and how pods combine. */
export const SAMPLED = Object.freeze({
  palisade_requests_total: { keep: ['direction', 'code'], combine: 'sum' },
  palisade_rate_limited_total: { keep: ['policy'], combine: 'sum' },
  palisade_circuit_breaker_state: { keep: ['breaker'], combine: 'max' },
  palisade_faults_injected_total: { keep: ['experiment', 'type'], combine: 'sum' },
  palisade_saga_instances: { keep: ['state'], combine: 'max' },
  palisade_lease_grants_total: { keep: [], combine: 'sum' },
  palisade_raft_leader_changes_total: { keep: [], combine: 'sum' },
});

/**
 * One line of Prometheus text → name, labels, value; null for comments and other lines.
 * @param {string} line
 */
export function parseLine(line) {
  const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? ([^ ]+)$/.exec(line);
  if (!m) return null;
  /** @type {Record<string, string>} */
  const labels = {};
  for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
    labels[/** @type {string} */ (l[1])] = /** @type {string} */ (l[2]);
  }
  const value = Number(m[3]);
  return Number.isFinite(value) ? { name: /** @type {string} */ (m[1]), labels, value } : null;
}

/**
 * The sampled series of several sidecars' expositions, combined: key `name{kept labels}` → value.
 * @param {string[]} texts
 * @returns {Record<string, number>}
 */
export function combine(texts) {
  /** @type {Record<string, number>} */
  const out = {};
  for (const text of texts) {
    for (const line of text.split('\n')) {
      const sample = parseLine(line);
      const spec = sample && SAMPLED[/** @type {keyof typeof SAMPLED} */ (sample.name)];
      if (!sample || !spec) continue;
      const kept = spec.keep.map((k) => `${k}="${sample.labels[k] ?? ''}"`).join(',');
      const key = `${sample.name}{${kept}}`;
      const previous = out[key];
      out[key] =
        previous === undefined
          ? sample.value
          : spec.combine === 'max'
            ? Math.max(previous, sample.value)
            : previous + sample.value;
    }
  }
  return out;
}

/** @typedef {{ t: number, values: Record<string, number> }} Sample */

/**
 * Per-second rate of a counter between consecutive samples. A drop (a pod and its counters went
 * away) counts as 0 rather than a negative rate.
 * @param {Sample[]} samples ascending t (ms)
 * @param {string} key
 * @returns {[number, number][]} [t, rate]
 */
export function rateOf(samples, key) {
  /** @type {[number, number][]} */
  const points = [];
  for (let i = 1; i < samples.length; i++) {
    const a = /** @type {Sample} */ (samples[i - 1]);
    const b = /** @type {Sample} */ (samples[i]);
    const dt = (b.t - a.t) / 1000;
    if (dt <= 0) continue;
    const delta = (b.values[key] ?? 0) - (a.values[key] ?? 0);
    points.push([b.t, Math.max(0, delta) / dt]);
  }
  return points;
}

/**
 * A gauge's values.
 * @param {Sample[]} samples
 * @param {string} key
 * @returns {[number, number][]}
 */
export function valuesOf(samples, key) {
  return samples
    .filter((s) => key in s.values)
    .map((s) => [s.t, /** @type {number} */ (s.values[key])]);
}

/**
 * Every key seen for `metric`, sorted.
 * @param {Sample[]} samples
 * @param {string} metric
 */
export function keysOf(samples, metric) {
  const keys = new Set();
  for (const s of samples)
    for (const k of Object.keys(s.values)) if (k.startsWith(`${metric}{`)) keys.add(k);
  return /** @type {string[]} */ ([...keys].sort());
}
