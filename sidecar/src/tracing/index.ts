/** OpenTelemetry tracing of the sidecar's data path. */
export * from './header-carrier.js';
export * from './tracing.js';
export * from './tracing-applier.js';
export * from './observe-filter.js';
