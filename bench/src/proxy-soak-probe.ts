/**
 * Preloaded into the sidecar by the soak benchmark only (`node --expose-gc --import <this file>`;
 * the sidecar itself has no such hook): on SIGUSR2 it runs two full garbage collections and, a
 * second later, writes one JSON line of the process's memory to PALISADE_SOAK_PROBE_FILE.
 * What survives two full collections is what the process really retains, so a value that grows
 * from one soak step to the next is a leak, and one that returns to the idle level is not.
 * With PALISADE_SOAK_SNAPSHOT_DIR set, each probe also writes a heap snapshot there.
 */
import { appendFileSync, readFileSync } from 'node:fs';
import path from 'node:path';
import v8 from 'node:v8';

const probeFile = process.env.PALISADE_SOAK_PROBE_FILE;
const snapshotDir = process.env.PALISADE_SOAK_SNAPSHOT_DIR;
const gc = (globalThis as { gc?: () => void }).gc;
if (probeFile === undefined || gc === undefined)
  throw new Error('proxy-soak-probe: needs PALISADE_SOAK_PROBE_FILE and --expose-gc');
const out: string = probeFile;

function statusKiB(key: string): number {
  const status = readFileSync('/proc/self/status', 'utf8');
  return Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? NaN);
}

const unmapDelayMs = 1_000;
let probes = 0;
process.on('SIGUSR2', () => {
  const rssBeforeGcKiB = statusKiB('VmRSS');
  const heapTotalBeforeGc = process.memoryUsage().heapTotal;
  gc();
  gc();
  const m = process.memoryUsage();
  // V8 returns the pages a collection freed from a background task: RSS is read a moment later.
  setTimeout(() => write(rssBeforeGcKiB, heapTotalBeforeGc, m), unmapDelayMs);
});

function write(rssBeforeGcKiB: number, heapTotalBeforeGc: number, m: NodeJS.MemoryUsage): void {
  const line = {
    probe: ++probes,
    rssBeforeGcKiB,
    heapTotalBeforeGc,
    rssKiB: statusKiB('VmRSS'),
    anonKiB: statusKiB('RssAnon'),
    fileKiB: statusKiB('RssFile'),
    heapUsed: m.heapUsed,
    heapTotal: m.heapTotal,
    external: m.external,
    arrayBuffers: m.arrayBuffers,
    activeResources: process.getActiveResourcesInfo().length,
  };
  if (snapshotDir !== undefined)
    v8.writeHeapSnapshot(path.join(snapshotDir, `soak-${probes}.heapsnapshot`));
  appendFileSync(out, `${JSON.stringify(line)}\n`);
}
