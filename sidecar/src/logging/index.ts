/** Structured logging of the sidecar. */
export * from './logging.js';
