/**
 * The policy filters as the proxy runs them: one thin `Filter` adapter per policy around the
 * pure decision modules of `../filters`, and the compiler that turns a SidecarConfig into the
 * route tables of both directions.
 */
export * from './circuit-breaker-filter.js';
export * from './compile-routes.js';
export * from './fault-filter.js';
export * from './rate-limit-filter.js';
export * from './redis-clients.js';
export * from './retry-filter.js';
export * from './timeout-filter.js';
