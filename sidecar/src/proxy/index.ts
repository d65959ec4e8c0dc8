/** The sidecar's HTTP data path: servers, stacks, handler/filter API and errors. */
export * from './handler.js';
export * from './error-response.js';
export * from './pipeline.js';
export * from './upstream.js';
export * from './proxy-server.js';
export * from './inbound-server.js';
export * from './outbound-server.js';
export { RequestHeadScan, classifyHeader, HeaderKind, isValidHost } from './headers.js';
