/**
 * The config file watcher and the reload loop against real files in a temp dir, replaced the
 * ways editors and Kubernetes replace them.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ConfigStore,
  ConfigWatcher,
  hashContent,
  loadConfigFile,
  watchConfigFile,
  type ConfigError,
  type ConfigWatcherOptions,
} from '../src/config/index.js';

const DEADLINE_MS = 5000;

/** Events in arrival order; `next()` waits for the next one, failing after a deadline. */
class EventQueue<T> {
  private readonly items: T[] = [];
  private waiter: ((item: T) => void) | null = null;
  readonly all: T[] = [];

  push = (item: T): void => {
    this.all.push(item);
    if (this.waiter !== null) {
      const waiter = this.waiter;
      this.waiter = null;
      waiter(item);
    } else this.items.push(item);
  };

  next(what: string): Promise<T> {
    const item = this.items.shift();
    if (item !== undefined) return Promise.resolve(item);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no ${what} within ${DEADLINE_MS} ms`)),
        DEADLINE_MS,
      );
      this.waiter = (value) => {
        clearTimeout(timer);
        resolve(value);
      };
    });
  }
}

async function waitUntil(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + DEADLINE_MS;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const closers: (() => void)[] = [];
afterEach(() => {
  for (const close of closers.splice(0)) close();
});

async function setup(initial: string, options: Partial<ConfigWatcherOptions> = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'palisade-watch-'));
  const path = join(dir, 'sidecar.yaml');
  await writeFile(path, initial);
  const changes = new EventQueue<string>();
  const errors = new EventQueue<ConfigError>();
  const watcher = new ConfigWatcher({
    path,
    initialHash: hashContent(initial),
    debounceMs: 20,
    pollIntervalMs: 0,
    onChange: (content) => changes.push(content),
    onError: (error) => errors.push(error),
    ...options,
  });
  watcher.start();
  closers.push(() => watcher.close());
  return { dir, path, watcher, changes, errors };
}

describe('ConfigWatcher', () => {
  it('sees an in-place write', async () => {
    const { path, changes } = await setup('a: 1\n');
    await writeFile(path, 'a: 2\n');
    expect(await changes.next('change')).toBe('a: 2\n');
  });

  it('sees a file renamed over the config (editor save, mv)', async () => {
    const { dir, path, changes } = await setup('a: 1\n');
    await writeFile(join(dir, '.sidecar.yaml.swp'), 'a: 2\n');
    await rename(join(dir, '.sidecar.yaml.swp'), path);
    expect(await changes.next('change after first rename')).toBe('a: 2\n');
    // The file watch was re-armed on the new inode: a second replacement is seen too.
    await writeFile(join(dir, 'tmp'), 'a: 3\n');
    await rename(join(dir, 'tmp'), path);
    expect(await changes.next('change after second rename')).toBe('a: 3\n');
  });

  it('sees a Kubernetes ConfigMap update (..data symlink swap)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'palisade-configmap-'));
    await mkdir(join(dir, '..2026_01_01_v1'));
    await writeFile(join(dir, '..2026_01_01_v1', 'sidecar.yaml'), 'a: 1\n');
    await symlink('..2026_01_01_v1', join(dir, '..data'));
    await symlink('..data/sidecar.yaml', join(dir, 'sidecar.yaml'));
    const changes = new EventQueue<string>();
    const watcher = new ConfigWatcher({
      path: join(dir, 'sidecar.yaml'),
      initialHash: hashContent('a: 1\n'),
      debounceMs: 20,
      pollIntervalMs: 0,
      onChange: (content) => changes.push(content),
      onError: (error) => {
        throw error;
      },
    });
    watcher.start();
    closers.push(() => watcher.close());

    // What the kubelet's AtomicWriter does: new timestamped dir, new ..data_tmp link, rename.
    await mkdir(join(dir, '..2026_01_01_v2'));
    await writeFile(join(dir, '..2026_01_01_v2', 'sidecar.yaml'), 'a: 2\n');
    await symlink('..2026_01_01_v2', join(dir, '..data_tmp'));
    await rename(join(dir, '..data_tmp'), join(dir, '..data'));
    await rm(join(dir, '..2026_01_01_v1'), { recursive: true });
    expect(await changes.next('change after symlink swap')).toBe('a: 2\n');
  });

  it('does not report content identical to what is in force', async () => {
    const { path, watcher, changes } = await setup('a: 1\n');
    await writeFile(path, 'a: 1\n');
    await watcher.check();
    expect(changes.all).toEqual([]);
    await writeFile(path, 'a: 2\n');
    await watcher.check();
    expect(changes.all).toEqual(['a: 2\n']);
  });

  it('falls back to polling when fs.watch is not used', async () => {
    const { path, changes } = await setup('a: 1\n', { useFsWatch: false, pollIntervalMs: 30 });
    await writeFile(path, 'a: 2\n');
    expect(await changes.next('change seen by the poll')).toBe('a: 2\n');
  });

  it('reports a vanished file once, then picks it up when it comes back', async () => {
    const { path, watcher, changes, errors } = await setup('a: 1\n');
    await rm(path);
    const error = await errors.next('read error');
    expect(error.code).toBe('CONFIG_READ_FAILED');
    await watcher.check(); // still missing: not reported again
    expect(errors.all).toHaveLength(1);
    await writeFile(path, 'a: 3\n');
    expect(await changes.next('change after the file came back')).toBe('a: 3\n');
  });
});

describe('watchConfigFile', () => {
  it('settles on the last content after a burst of writes, with no spurious failures', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'palisade-burst-'));
    const path = join(dir, 'sidecar.yaml');
    const doc = (n: number) => `version: v${n}\napp: {host: 127.0.0.1, port: ${8000 + n}}\n`;
    await writeFile(path, doc(0));
    const loaded = await loadConfigFile(path);
    const store = new ConfigStore({ initial: loaded.config });
    const applied: string[] = [];
    store.subscribe((snapshot) => applied.push(snapshot.version));
    const watcher = watchConfigFile({
      path,
      store,
      initialHash: loaded.contentHash,
      debounceMs: 20,
      pollIntervalMs: 0,
    });
    closers.push(() => watcher.close());
    for (let n = 1; n <= 30; n++) {
      // Atomic replacement, as a well-behaved writer does it.
      await writeFile(join(dir, `.tmp-${n}`), doc(n));
      await rename(join(dir, `.tmp-${n}`), path);
    }
    await waitUntil(() => store.current().version === 'v30', 'v30 to be applied');
    expect(store.config.app.port).toBe(8030);
    expect(store.lastFailure()).toBeNull();
    // Reloads are serialized: versions only ever move forward.
    const numbers = applied.map((v) => Number(v.slice(1)));
    expect(numbers).toEqual([...numbers].sort((a, b) => a - b));
    expect(new Set(numbers).size).toBe(numbers.length);
  });

  it('applies valid edits, keeps the last good config on invalid ones', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'palisade-reload-'));
    const path = join(dir, 'sidecar.yaml');
    await writeFile(path, 'version: v1\napp: {host: 127.0.0.1, port: 8080}\n');
    const loaded = await loadConfigFile(path);
    const store = new ConfigStore({ initial: loaded.config });
    const watcher = watchConfigFile({
      path,
      store,
      initialHash: loaded.contentHash,
      debounceMs: 20,
      pollIntervalMs: 0,
    });
    closers.push(() => watcher.close());

    await writeFile(path, 'version: v2\napp: {host: 127.0.0.1, port: 8080\n'); // unclosed flow map
    await waitUntil(() => store.lastFailure() !== null, 'the parse failure to be recorded');
    expect(store.status().lastFailure).toMatchObject({
      code: 'CONFIG_PARSE_FAILED',
      keptVersion: 'v1',
    });

    await writeFile(path, 'version: v3\napp: {host: 127.0.0.1, port: 99999}\n');
    await waitUntil(
      () => store.lastFailure()?.error.code === 'CONFIG_INVALID',
      'the invalid config to be refused',
    );
    expect(store.current().version).toBe('v1');

    await writeFile(path, 'version: v4\napp: {host: 127.0.0.1, port: 8081}\n');
    await waitUntil(() => store.current().version === 'v4', 'v4 to be applied');
    expect(store.config.app.port).toBe(8081);
    expect(store.current().generation).toBe(2);
  });
});
