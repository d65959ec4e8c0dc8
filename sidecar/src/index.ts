/**
 * Public API of `@palisade/sidecar`: the standalone entry points (`runCli`, `startSidecar`),
 * the policy filters and their compiler, and the parts they are assembled from.
 */
export * from './main.js';
export * from './policies/index.js';
export * from './proxy/index.js';
export * from './filters/index.js';
export * from './config/index.js';
export * from './metrics/index.js';
export * from './tracing/index.js';
export * from './admin/index.js';
export * from './logging/index.js';
export * from './core/clock.js';
export * from './core/random.js';
