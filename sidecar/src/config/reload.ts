/**
 * Standalone mode's reload loop: a `ConfigWatcher` on the file feeding a `ConfigStore`.
 */
import type { ConfigStore } from './config-store.js';
import { ConfigWatcher } from './config-watcher.js';
import type { ConfigError } from './errors.js';
import { formatOf, parseConfigText } from './load-config.js';

/** Options of `watchConfigFile`. */
export interface WatchConfigFileOptions {
  readonly path: string;
  readonly store: ConfigStore;
  /** `LoadedConfig.contentHash` of the config the store started with. */
  readonly initialHash?: string;
  readonly debounceMs?: number;
  readonly pollIntervalMs?: number;
  readonly useFsWatch?: boolean;
}

/**
 * Starts watching `path`; every new content is parsed and offered to `store.apply` (read and
 * parse failures are recorded with `store.reject`). Returns the started watcher; `close()` it
 * on shutdown.
 */
export function watchConfigFile(options: WatchConfigFileOptions): ConfigWatcher {
  const { path, store } = options;
  const watcher = new ConfigWatcher({
    path,
    initialHash: options.initialHash,
    debounceMs: options.debounceMs,
    pollIntervalMs: options.pollIntervalMs,
    useFsWatch: options.useFsWatch,
    onChange: async (content) => {
      let document: unknown;
      try {
        document = parseConfigText(content, formatOf(path), path);
      } catch (error) {
        store.reject(error as ConfigError);
        return;
      }
      await store.apply(document, path);
    },
    onError: (error) => store.reject(error),
  });
  watcher.start();
  return watcher;
}
