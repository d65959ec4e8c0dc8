export * from './canonical-json.js';
export * from './compile.js';
export * from './label-index.js';
export * from './label-selector.js';
export * from './raft-peers.js';
export * from './types.js';
