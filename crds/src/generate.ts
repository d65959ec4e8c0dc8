/**
 * Writes the generated CRD manifests, reference docs and SidecarConfig validator:
 * `node crds/dist/generate.js [--check]`. With --check, writes nothing and exits 1 when a
 * committed file is stale. The validator is TypeScript source: the next `tsc -b` compiles it.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderCrdFiles } from './render.js';
import { renderReferenceDocs } from './render-docs.js';
import { renderSidecarConfigCheck } from './render-validators.js';

const crdsDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const outputs = [
  ...renderCrdFiles().map((file) => ({ ...file, path: join(crdsDir, 'generated', file.name) })),
  ...renderReferenceDocs().map((file) => ({
    ...file,
    path: join(crdsDir, '..', 'docs', 'reference', file.name),
  })),
  ...[renderSidecarConfigCheck()].map((file) => ({
    ...file,
    path: join(crdsDir, 'src', file.name),
  })),
];
const check = process.argv.includes('--check');
let stale = 0;
for (const file of outputs) {
  const path = file.path;
  let current = '';
  try {
    current = readFileSync(path, 'utf8');
  } catch {
    current = '';
  }
  if (current === file.content) continue;
  if (check) {
    console.error(`stale: ${path} (run: make crds)`);
    stale++;
  } else {
    writeFileSync(path, file.content);
    console.log(`wrote ${path}`);
  }
}
process.exit(stale === 0 ? 0 : 1);
