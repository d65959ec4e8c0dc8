// Copies what a workspace needs at run time into an image's /app folder: its compiled dist/
// (without tests, type declarations and build info), its package.json, the workspaces it depends
// on (@palisade/crds) the same way, and the production dependency closure from node_modules,
// resolved the way Node resolves it (nearest node_modules upwards) so the installed tree is
// reproduced, hoisting included. Dev dependencies are never walked. Used by e2e/images/build.sh
// (this machine's node_modules) and by the Dockerfiles (a fresh `npm install` in the build stage).
//
// Usage: node app-tree.mjs <repo root> <workspace folder> <out folder> [--omit <pkg>[,<pkg>...]]
//   --omit: packages listed as dependencies that the compiled code never loads (e.g. the sidecar's
//   @opentelemetry/sdk-node); refused when a compiled file imports one or a kept package depends on
//   one, so an image never misses a module it loads.
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import console from 'node:console';
import process from 'node:process';

const [root, workspace, out, flag, omitList] = process.argv.slice(2);
if (root === undefined || workspace === undefined || out === undefined) {
  console.error('usage: app-tree.mjs <repo root> <workspace folder> <out folder> [--omit a,b]');
  process.exit(2);
}
if (flag !== undefined && (flag !== '--omit' || omitList === undefined)) {
  console.error(`app-tree.mjs: unknown argument ${flag}`);
  process.exit(2);
}
const omit = new Set((omitList ?? '').split(',').filter((name) => name !== ''));

/** Files of a dependency that nothing loads at run time (type declarations, source maps, docs). */
const DROP = /(\.d\.[cm]?ts|\.map|\.tsbuildinfo|\.md|\.markdown)$/i;
/** Compiled files of our own workspaces that are tests, not the program. */
const TEST = /\.test\.(js|js\.map)$|\.d\.ts(\.map)?$|\.tsbuildinfo$/;

const readJson = (file) => JSON.parse(readFileSync(file, 'utf8'));

/** Workspace folders by package name (package.json "workspaces" of the root). */
const workspaces = new Map(
  readJson(join(root, 'package.json')).workspaces.map((dir) => [
    readJson(join(root, dir, 'package.json')).name,
    dir,
  ]),
);

/** Copies a workspace's package.json and compiled dist/ (no tests) to `dest` under `out`. */
function copyWorkspace(dir, dest) {
  mkdirSync(join(out, dest), { recursive: true });
  cpSync(join(root, dir, 'package.json'), join(out, dest, 'package.json'));
  cpSync(join(root, dir, 'dist'), join(out, dest, 'dist'), {
    recursive: true,
    filter: (source) => !TEST.test(source),
  });
}

/** The folder of package `name` as Node finds it from `fromDir` (nearest node_modules up). */
function resolvePackage(name, fromDir) {
  for (let dir = fromDir; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dir === root || dirname(dir) === dir) return undefined;
  }
}

const copied = new Set();
/** Where each copied workspace lives in the image (repo folder -> folder under `out`). */
const placed = new Map([[workspace, workspace]]);

/** The folder under `out` of a package folder: a workspace's nested node_modules move with it. */
function destination(dir) {
  const rel = relative(root, dir);
  for (const [source, dest] of placed) {
    if (rel.startsWith(`${source}/`)) return dest + rel.slice(source.length);
  }
  return rel;
}
/** Folders (under `out`) holding our own compiled code. */
const ownCode = [workspace];
const queue = [];

/** Queues the production dependencies of the package in `dir`. */
function queueDependencies(dir, optionalToo) {
  const manifest = readJson(join(dir, 'package.json'));
  const required = Object.keys({ ...manifest.dependencies });
  const optional = Object.keys({ ...manifest.optionalDependencies });
  const peers = Object.keys({ ...manifest.peerDependencies }).filter(
    (name) => manifest.peerDependenciesMeta?.[name]?.optional !== true,
  );
  for (const name of [...required, ...peers]) queue.push({ name, from: dir, optional: false });
  if (optionalToo) for (const name of optional) queue.push({ name, from: dir, optional: true });
}

const ownDir = join(root, workspace);
copyWorkspace(workspace, workspace);
queueDependencies(ownDir, true);
while (queue.length > 0) {
  const { name, from, optional } = queue.shift();
  if (workspaces.has(name)) {
    // Another workspace (npm links it): a plain copy at node_modules/<name> in the image.
    const dest = join('node_modules', name);
    if (copied.has(dest)) continue;
    copied.add(dest);
    ownCode.push(dest);
    placed.set(workspaces.get(name), dest);
    copyWorkspace(workspaces.get(name), dest);
    queueDependencies(join(root, workspaces.get(name)), true);
    continue;
  }
  if (omit.has(name)) {
    if (from !== ownDir) {
      console.error(`app-tree.mjs: ${relative(root, from)} depends on omitted ${name}`);
      process.exit(1);
    }
    continue;
  }
  const dir = resolvePackage(name, from);
  if (dir === undefined) {
    if (optional) continue;
    console.error(`app-tree.mjs: ${name} (needed by ${relative(root, from)}) is not installed`);
    process.exit(1);
  }
  const rel = destination(dir);
  if (copied.has(rel)) continue;
  copied.add(rel);
  cpSync(dir, join(out, rel), {
    recursive: true,
    // Nested node_modules are reached through the walk (only what is needed).
    filter: (source) =>
      !relative(dir, source).split('/').includes('node_modules') && !DROP.test(source),
  });
  queueDependencies(dir, true);
}

/** True when a compiled file of our workspaces imports `name` (static or dynamic). */
function imported(name) {
  const pattern = new RegExp(`(from|import\\(|require\\()\\s*['"]${name}(/[^'"]*)?['"]`);
  const scan = (dir) =>
    readdirSync(dir, { withFileTypes: true }).some((entry) =>
      entry.isDirectory()
        ? scan(join(dir, entry.name))
        : entry.name.endsWith('.js') && pattern.test(readFileSync(join(dir, entry.name), 'utf8')),
    );
  return ownCode.some((dir) => scan(join(out, dir, 'dist')));
}
for (const name of omit) {
  if (imported(name)) {
    console.error(`app-tree.mjs: --omit ${name}, but the compiled code imports it`);
    process.exit(1);
  }
}
console.log(`app-tree.mjs: ${workspace} + ${copied.size} packages into ${out}`);
