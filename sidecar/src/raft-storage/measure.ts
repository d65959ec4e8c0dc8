/**
 * Measures WAL append throughput with fsync batching and the fsync latency of this disk.
 * Not run by the tests; run after `npx tsc -b` with
 *
 *     node -e "import('./sidecar/dist/raft-storage/measure.js').then((m) => m.main())"
 *
 * (optionally `PALISADE_MEASURE_DIR=/path/on/the/disk/to/test`).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Wal } from './wal.js';

/** One measured configuration. */
export interface WalMeasurement {
  readonly records: number;
  readonly batch: number;
  readonly payloadBytes: number;
  readonly recordsPerSecond: number;
  /** Per sync() call (one write + one fdatasync), milliseconds. */
  readonly syncMeanMs: number;
  readonly syncP50Ms: number;
  readonly syncP99Ms: number;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? 0;
}

/** Appends `records` records of `payloadBytes` in batches of `batch`, one sync per batch. */
export async function measureWal(
  dir: string,
  records: number,
  batch: number,
  payloadBytes: number,
): Promise<WalMeasurement> {
  const { wal } = await Wal.open({ dir });
  const payload = new Uint8Array(payloadBytes).fill(7);
  const latencies: number[] = [];
  const started = performance.now();
  for (let written = 0; written < records; written += batch) {
    const count = Math.min(batch, records - written);
    for (let i = 0; i < count; i++) wal.append([{ type: 2, payload }]);
    const before = performance.now();
    await wal.sync();
    latencies.push(performance.now() - before);
  }
  const seconds = (performance.now() - started) / 1000;
  await wal.close();
  latencies.sort((a, b) => a - b);
  return {
    records,
    batch,
    payloadBytes,
    recordsPerSecond: Math.round(records / seconds),
    syncMeanMs: Number((latencies.reduce((a, b) => a + b, 0) / latencies.length).toFixed(3)),
    syncP50Ms: Number(percentile(latencies, 50).toFixed(3)),
    syncP99Ms: Number(percentile(latencies, 99).toFixed(3)),
  };
}

/** Prints the figures of the decision record as a table. */
export async function main(): Promise<void> {
  const base = process.env.PALISADE_MEASURE_DIR ?? tmpdir();
  const results: WalMeasurement[] = [];
  for (const batch of [1, 10, 100]) {
    const dir = await mkdtemp(join(base, 'palisade-wal-measure-'));
    try {
      results.push(await measureWal(dir, 1000, batch, 100));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  console.table(results);
}
