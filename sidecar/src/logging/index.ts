/** Structured logging of the sidecar. */
export * from './logging.js';
export * from './log-level-applier.js';
