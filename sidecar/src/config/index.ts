/**
 * Config delivery for the sidecar: load and validate a SidecarConfig file, hold the config in
 * force, apply reloads atomically across subsystems, watch the file. See
 * docs/decisions/0007-sidecar-runtime.md.
 */
export * from './config-store.js';
export * from './config-watcher.js';
export * from './defaults.js';
export * from './diff.js';
export * from './errors.js';
export * from './load-config.js';
export * from './redact.js';
export * from './reload.js';
