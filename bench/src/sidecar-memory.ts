/**
 * What the sidecar keeps resident, step by step: a fresh Node process (the flags the sidecar
 * runs with) imports the sidecar's dependencies one after the other and reports, after a full
 * GC, its resident set (anonymous and file-backed: the node binary's touched pages count) and
 * V8 heap. Then the binary itself, idle after start-up, with no policy. Figures in
 * docs/decisions/0019-sidecar-memory-and-filter-cost.md.
 *
 *   npx tsc -b sidecar bench && node bench/dist/sidecar-memory.js
 *
 * Each step includes the ones above it (a module's cost is what it adds to what is loaded);
 * lazily loaded ones (ioredis, OpenTelemetry, @kubernetes/client-node) come last, as they load.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  freePort,
  sidecarNodeFlags,
  startSidecarBinary,
  stop,
  waitForPort,
  writeSidecarConfig,
} from './bench-processes.js';

const sidecarDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../sidecar');

/** Import steps, in the order the sidecar loads them (specifiers resolve from sidecar/). */
const steps: readonly { readonly label: string; readonly specifier: string | null }[] = [
  { label: 'node (ESM entry, nothing imported)', specifier: null },
  { label: '+ pino', specifier: 'pino' },
  { label: '+ prom-client (registry)', specifier: 'prom-client/lib/registry.js' },
  {
    label: '+ @palisade/crds/runtime (generated SidecarConfig validator, CEL)',
    specifier: '@palisade/crds/runtime',
  },
  { label: '+ express', specifier: 'express' },
  { label: '+ the rest of palisade-sidecar (main.js)', specifier: './dist/main.js' },
  { label: '+ ioredis (first global rate limit)', specifier: 'ioredis' },
  {
    label: '+ OpenTelemetry trace SDK + OTLP exporter (tracing on)',
    specifier: '@opentelemetry/exporter-trace-otlp-http',
  },
  { label: '+ undici (saga step calls: first raft section)', specifier: 'undici' },
  {
    label: '+ @kubernetes/client-node (--kubeconfig runs only; pods use in-cluster-client)',
    specifier: '@kubernetes/client-node',
  },
];

/** The child: imports the steps in order, printing one JSON line per step. */
const childProgram = `
import { readFileSync } from 'node:fs';
const steps = JSON.parse(process.argv[1]);
for (const specifier of steps) {
  if (specifier !== null) {
    if (specifier === '@opentelemetry/exporter-trace-otlp-http') await import('@opentelemetry/sdk-trace-base');
    await import(specifier);
  }
  globalThis.gc(); await new Promise((r) => setTimeout(r, 50)); globalThis.gc();
  const status = readFileSync('/proc/self/status', 'utf8');
  const kib = (key) => Number(new RegExp('^' + key + ':\\\\s+(\\\\d+)', 'm').exec(status)[1]);
  console.log(JSON.stringify({ rss: kib('VmRSS'), anon: kib('RssAnon'), file: kib('RssFile'), heap: process.memoryUsage().heapUsed / 1024 }));
}`;

function mib(kib: number): string {
  return (kib / 1024).toFixed(1);
}

const out = execFileSync(
  process.execPath,
  [
    ...sidecarNodeFlags,
    '--expose-gc',
    '--input-type=module',
    '-e',
    childProgram,
    JSON.stringify(steps.map((s) => s.specifier)),
  ],
  { cwd: sidecarDir },
).toString();
const rows = out
  .trim()
  .split('\n')
  .map((line) => JSON.parse(line) as { rss: number; anon: number; file: number; heap: number });

console.log(`node ${process.version} ${sidecarNodeFlags.join(' ')}, after a full GC (MiB)\n`);
console.log('| step | RSS | added | anonymous | file-backed | V8 heap used |');
console.log('|---|---|---|---|---|---|');
rows.forEach((row, i) => {
  const delta = row.rss - (rows[i - 1]?.rss ?? 0);
  const added = i === 0 ? '' : `${delta >= 0 ? '+' : '−'}${mib(Math.abs(delta))}`;
  console.log(
    `| ${steps[i]?.label} | ${mib(row.rss)} | ${added} | ${mib(row.anon)} | ${mib(row.file)} | ${mib(row.heap)} |`,
  );
});

// The binary, idle: no policy, 2 s after its inbound port opened.
const dir = mkdtempSync(path.join(os.tmpdir(), 'sidecar-memory-'));
const app = await freePort();
const inbound = await freePort();
const file = await writeSidecarConfig(dir, 'memory', { app, inbound }, 'warn', {});
const child = startSidecarBinary('0', file);
await waitForPort(inbound, child);
await new Promise((resolve) => setTimeout(resolve, 2000));
const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
const kib = (key: string): number =>
  Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? NaN);
console.log(
  `\npalisade-sidecar --config (no policy), idle 2 s after start: RSS ${mib(kib('VmRSS'))} MiB ` +
    `(anonymous ${mib(kib('RssAnon'))}, file-backed ${mib(kib('RssFile'))}), peak ${mib(kib('VmHWM'))} MiB`,
);
await stop(child);
