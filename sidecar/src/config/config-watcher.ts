/**
 * Notices when a config file's content changes, however it was replaced:
 * - in place (`echo > file`): the watch on the file fires;
 * - by rename over it (editors, `mv tmp file`): the watch on the directory fires, and the file
 *   watch is re-armed on the new inode;
 * - by a symlink swap (Kubernetes ConfigMap and projected volumes: `file -> ..data/file`,
 *   `..data` renamed to a new timestamped directory): the directory watch fires;
 * - on filesystems where `fs.watch` misses events (network, some overlays): the poll catches it.
 *
 * Events only schedule a check; a check (debounced, serialized) reads the file and calls
 * `onChange` when its SHA-256 differs from the last content seen, so bursts of events and
 * rewrites with identical content cost one read and no reload.
 */
import { watch, type FSWatcher } from 'node:fs';
import { stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { ConfigError } from './errors.js';
import { hashContent, readConfigFile } from './load-config.js';

/** Options of `ConfigWatcher`. */
export interface ConfigWatcherOptions {
  readonly path: string;
  /** New content; awaited before the next check runs. */
  readonly onChange: (content: string, contentHash: string) => void | Promise<void>;
  /** The file could not be read (missing, too large, permissions). */
  readonly onError: (error: ConfigError) => void;
  /** Hash of the content already in force (from `loadConfigFile`), so it is not re-applied. */
  readonly initialHash?: string;
  /** Quiet period after the last event before reading. Default 100 ms. */
  readonly debounceMs?: number;
  /** Poll period; 0 disables polling. Default 5000 ms. */
  readonly pollIntervalMs?: number;
  /** Use `fs.watch` (default true); false leaves only the poll. */
  readonly useFsWatch?: boolean;
}

/** Watches one config file; see the module comment. `start` once, `close` once. */
export class ConfigWatcher {
  private lastHash: string | undefined;
  private lastError: string | undefined;
  private fileWatcher: FSWatcher | null = null;
  private fileWatchIno = -1;
  private dirWatcher: FSWatcher | null = null;
  private debounce: NodeJS.Timeout | null = null;
  private poll: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private closed = false;
  private readonly debounceMs: number;
  private readonly pollIntervalMs: number;
  private readonly useFsWatch: boolean;

  constructor(private readonly options: ConfigWatcherOptions) {
    this.lastHash = options.initialHash;
    this.debounceMs = options.debounceMs ?? 100;
    this.pollIntervalMs = options.pollIntervalMs ?? 5000;
    this.useFsWatch = options.useFsWatch ?? true;
  }

  /** Arms the watches and the poll. Does not read the file until something happens. */
  start(): void {
    if (this.useFsWatch) {
      this.dirWatcher = this.tryWatch(dirname(this.options.path), () => this.schedule());
      void this.rearmFileWatch();
    }
    if (this.pollIntervalMs > 0) {
      this.poll = setInterval(() => this.schedule(0), this.pollIntervalMs);
      this.poll.unref();
    }
  }

  /** Reads the file now (serialized with other checks); resolves when it has been handled. */
  check(): Promise<void> {
    if (this.running !== null) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.checkOnce();
      } while (this.again && !this.closed);
    })().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  /** Stops watching. Pending checks finish; no `onChange` is called after they do. */
  close(): void {
    this.closed = true;
    if (this.debounce !== null) clearTimeout(this.debounce);
    if (this.poll !== null) clearInterval(this.poll);
    this.fileWatcher?.close();
    this.dirWatcher?.close();
    this.fileWatcher = null;
    this.dirWatcher = null;
  }

  private schedule(delay = this.debounceMs): void {
    if (this.closed) return;
    if (this.debounce !== null) clearTimeout(this.debounce);
    this.debounce = setTimeout(() => {
      this.debounce = null;
      void this.check();
    }, delay);
    this.debounce.unref();
  }

  private async checkOnce(): Promise<void> {
    if (this.closed) return;
    if (this.useFsWatch) {
      this.dirWatcher ??= this.tryWatch(dirname(this.options.path), () => this.schedule());
      await this.rearmFileWatch();
    }
    let content: string;
    try {
      content = await readConfigFile(this.options.path);
    } catch (error) {
      const configError = error as ConfigError;
      // Report a failure once, not at every poll, until the file reads again.
      if (!this.closed && this.lastError !== configError.message) {
        this.lastError = configError.message;
        this.options.onError(configError);
      }
      return;
    }
    this.lastError = undefined;
    const hash = hashContent(content);
    if (hash === this.lastHash || this.closed) return;
    this.lastHash = hash;
    await this.options.onChange(content, hash);
  }

  /** Watches the file's current inode; a rename or symlink swap leaves the old watch dead. */
  private async rearmFileWatch(): Promise<void> {
    let ino: number;
    try {
      ino = (await stat(this.options.path)).ino;
    } catch {
      return; // Missing for now: the directory watch or the poll will notice it coming back.
    }
    if (this.closed || (ino === this.fileWatchIno && this.fileWatcher !== null)) return;
    this.fileWatcher?.close();
    this.fileWatchIno = ino;
    this.fileWatcher = this.tryWatch(this.options.path, () => this.schedule());
  }

  /**
   * Any event schedules a check: in the directory, any name may be part of our file's symlink
   * chain (`..data`, `..2026_01_01_…`), and a check of unchanged content costs one small read.
   */
  private tryWatch(path: string, onEvent: () => void): FSWatcher | null {
    try {
      const watcher = watch(path, { persistent: false }, onEvent);
      watcher.on('error', () => {
        watcher.close();
        if (this.fileWatcher === watcher) this.fileWatcher = null;
        if (this.dirWatcher === watcher) this.dirWatcher = null;
      });
      return watcher;
    } catch {
      return null; // e.g. ENOENT or ENOSPC (inotify limit): the poll still runs.
    }
  }
}
