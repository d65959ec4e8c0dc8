import type { ConfigApplier } from '../config/config-store.js';
import type { Logging } from './logging.js';

/** Reload hook: moves every logger to the new `logLevel` when it changed. */
export function logLevelApplier(logging: Logging): ConfigApplier {
  return {
    name: 'log-level',
    prepare(next, change) {
      if (!change.sections.includes('logLevel')) return;
      return () => logging.setLevel(next.logLevel);
    },
  };
}
