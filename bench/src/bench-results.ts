/**
 * Where a benchmark leaves its figures: `bench/results/<name>-<UTC minute>.{json,md}`, the JSON
 * with the command that produced it (docs/benchmarks.md).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const resultsDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../results');

/** Writes `<name>-<stamp>.json` (`json`, which should hold `date` and `command`) and `.md`. */
export function writeResults(name: string, date: string, json: object, markdown: string): string {
  mkdirSync(resultsDir, { recursive: true });
  const stamp = date.slice(0, 16).replace(/:/g, '');
  const base = path.join(resultsDir, `${name}-${stamp}`);
  writeFileSync(`${base}.json`, `${JSON.stringify(json, null, 2)}\n`);
  writeFileSync(`${base}.md`, markdown);
  return `bench/results/${name}-${stamp}.{json,md}`;
}

/** The machine's load average (1, 5, 15 min) for a results header: how busy the host was. */
export function loadAverage(): string {
  return os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' / ');
}
