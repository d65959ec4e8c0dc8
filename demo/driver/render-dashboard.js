#!/usr/bin/env node
// @ts-check
/**
 * Renders the series the demo scraped from the shop's sidecars (series.json, written by demo.js)
 * as a page of panels like the Grafana dashboard's (same titles and queries, computed here), and
 * optionally a PNG of it through headless Chromium. This is how docs/images/demo-dashboard.png
 * is made: real demo data, no Grafana needed.
 *
 * Usage: node demo/driver/render-dashboard.js <series.json> <out.html> [--png <out.png>]
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { keysOf, rateOf, valuesOf } from './series.js';

const COLOURS = [
  '#3274d9',
  '#e0752d',
  '#56a64b',
  '#f2cc0c',
  '#8f3bb8',
  '#e02f44',
  '#37872d',
  '#1f60c4',
];
const WIDTH = 440;
const HEIGHT = 200;
const PAD = { left: 44, right: 10, top: 26, bottom: 52 };

/** @param {string} s */
const escape = (s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * One panel as SVG: lines over time, y from 0 to the largest value, step boundaries as dashed
 * vertical lines, a legend below.
 * @param {{ title: string, unit: string, series: { name: string, points: [number, number][] }[], t0: number, t1: number, marks: { t: number, label: string }[] }} panel
 */
export function panelSvg({ title, unit, series, t0, t1, marks }) {
  const max = Math.max(1e-9, ...series.flatMap((s) => s.points.map((p) => p[1])));
  const x = (/** @type {number} */ t) =>
    PAD.left + ((t - t0) / Math.max(1, t1 - t0)) * (WIDTH - PAD.left - PAD.right);
  const y = (/** @type {number} */ v) =>
    HEIGHT - PAD.bottom - (v / max) * (HEIGHT - PAD.top - PAD.bottom);
  const parts = [
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="#181b1f" rx="4"/>`,
    `<text x="10" y="17" fill="#ccccdc" font-size="12" font-weight="bold">${escape(title)}</text>`,
    `<text x="${PAD.left - 4}" y="${PAD.top + 4}" fill="#8e8e8e" font-size="10" text-anchor="end">${formatValue(max)}${unit}</text>`,
    `<text x="${PAD.left - 4}" y="${HEIGHT - PAD.bottom}" fill="#8e8e8e" font-size="10" text-anchor="end">0</text>`,
    `<line x1="${PAD.left}" y1="${HEIGHT - PAD.bottom}" x2="${WIDTH - PAD.right}" y2="${HEIGHT - PAD.bottom}" stroke="#444"/>`,
  ];
  for (const mark of marks) {
    const mx = x(mark.t).toFixed(1);
    parts.push(
      `<line x1="${mx}" y1="${PAD.top}" x2="${mx}" y2="${HEIGHT - PAD.bottom}" stroke="#555" stroke-dasharray="3,3"/>`,
    );
  }
  series.forEach((s, i) => {
    if (s.points.length === 0) return;
    const d = s.points.map(([t, v]) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
    parts.push(
      `<polyline points="${d}" fill="none" stroke="${COLOURS[i % COLOURS.length]}" stroke-width="1.6"/>`,
    );
    const lx = 10 + (i % 2) * 215;
    const ly = HEIGHT - 34 + Math.floor(i / 2) * 12;
    parts.push(
      `<rect x="${lx}" y="${ly - 7}" width="8" height="8" fill="${COLOURS[i % COLOURS.length]}"/>`,
      `<text x="${lx + 11}" y="${ly}" fill="#ccccdc" font-size="9.5">${escape(s.name.slice(0, 34))}</text>`,
    );
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" font-family="DejaVu Sans, sans-serif">${parts.join('')}</svg>`;
}

/** @param {number} v */
function formatValue(v) {
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
}

/** The label values of a combined key, e.g. `name{a="x",b="y"}` → `x y`. */
const labelText = (/** @type {string} */ key) =>
  [...key.matchAll(/="([^"]*)"/g)].map((m) => m[1]).join(' ') || key.slice(0, key.indexOf('{'));

/**
 * The whole page.
 * @param {{ samples: import('./series.js').Sample[], marks: { t: number, label: string }[] }} data
 */
export function dashboardHtml({ samples, marks }) {
  const t0 = samples[0]?.t ?? 0;
  const t1 = samples.at(-1)?.t ?? 1;
  /** @param {string} metric @param {(k: string) => boolean} [filter] */
  const rates = (metric, filter = () => true) =>
    keysOf(samples, metric)
      .filter(filter)
      .map((k) => ({ name: labelText(k), points: rateOf(samples, k) }));
  /** @param {string} metric */
  const gauges = (metric) =>
    keysOf(samples, metric).map((k) => ({ name: labelText(k), points: valuesOf(samples, k) }));
  const panels = [
    {
      title: 'Requests/s by status (inbound)',
      unit: '/s',
      series: rates('palisade_requests_total', (k) => k.includes('"inbound"')),
    },
    {
      title: 'Requests/s by status (outbound)',
      unit: '/s',
      series: rates('palisade_requests_total', (k) => k.includes('"outbound"')),
    },
    {
      title: '429s/s by RateLimitPolicy',
      unit: '/s',
      series: rates('palisade_rate_limited_total'),
    },
    {
      title: 'Circuit breaker (0 closed, 1 open, 2 half-open)',
      unit: '',
      series: gauges('palisade_circuit_breaker_state'),
    },
    {
      title: 'Faults injected/s by ChaosExperiment',
      unit: '/s',
      series: rates('palisade_faults_injected_total'),
    },
    { title: 'Saga instances by state', unit: '', series: gauges('palisade_saga_instances') },
    {
      title: 'Lease grants/s and Raft leader changes/s',
      unit: '/s',
      series: [
        ...rates('palisade_lease_grants_total'),
        ...rates('palisade_raft_leader_changes_total'),
      ].map((s, i) => ({
        ...s,
        name: i === 0 ? 'lease grants' : 'leader changes',
      })),
    },
  ];
  const minutes = ((t1 - t0) / 60000).toFixed(1);
  const steps = marks.map((m) => `<li>${escape(m.label)}</li>`).join('');
  return `<!doctype html><html><head><meta charset="utf-8"><style>
body{background:#111217;color:#ccccdc;font-family:'DejaVu Sans',sans-serif;margin:16px;width:1360px}
h1{font-size:18px;margin:0 0 4px} p{font-size:12px;color:#8e8e8e;margin:0 0 12px}
.grid{display:grid;grid-template-columns:repeat(3,${WIDTH}px);gap:12px}
ol{font-size:11px;color:#8e8e8e;columns:2;margin:12px 0 0;padding-left:18px}
</style></head><body>
<h1>Palisade — demo shop (namespace shop)</h1>
<p>Scraped from the shop's sidecars every 2 s during one <code>make demo</code> run (${minutes} min, ${new Date(t0).toISOString().slice(0, 16)} UTC); panels follow deploy/grafana/palisade-dashboard.json. Dashed lines: the demo's steps.</p>
<div class="grid">${panels.map((p) => panelSvg({ ...p, t0, t1, marks })).join('')}</div>
<ol>${steps}</ol>
</body></html>`;
}

async function main() {
  const [seriesPath, htmlPath, flag, pngPath] = process.argv.slice(2);
  if (!seriesPath || !htmlPath || (flag !== undefined && (flag !== '--png' || !pngPath))) {
    console.error('usage: render-dashboard.js <series.json> <out.html> [--png <out.png>]');
    return 2;
  }
  const data = JSON.parse(readFileSync(seriesPath, 'utf8'));
  if (!Array.isArray(data.samples) || data.samples.length < 2) {
    console.error(`${seriesPath}: fewer than 2 samples; nothing to draw`);
    return 1;
  }
  writeFileSync(htmlPath, dashboardHtml(data));
  if (pngPath) {
    execFileSync(
      process.env.CHROMIUM || 'chromium',
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--hide-scrollbars',
        `--screenshot=${resolve(pngPath)}`,
        '--window-size=1392,760',
        `file://${resolve(htmlPath)}`,
      ],
      { stdio: 'ignore', timeout: 60_000 },
    );
    console.log(`wrote ${pngPath}`);
  }
  return 0;
}

if (import.meta.url === `file://${process.argv[1]}`) process.exitCode = await main();
