/**
 * Writes the generated CRD manifests: `node crds/dist/generate.js [--check]`.
 * With --check, writes nothing and exits 1 when a committed file is stale.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderCrdFiles } from './render.js';

const crdsDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const check = process.argv.includes('--check');
let stale = 0;
for (const file of renderCrdFiles()) {
  const path = join(crdsDir, 'generated', file.name);
  let current = '';
  try {
    current = readFileSync(path, 'utf8');
  } catch {
    current = '';
  }
  if (current === file.content) continue;
  if (check) {
    console.error(`stale: crds/generated/${file.name} (run: make crds)`);
    stale++;
  } else {
    writeFileSync(path, file.content);
    console.log(`wrote crds/generated/${file.name}`);
  }
}
process.exit(stale === 0 ? 0 : 1);
