/** The Raft driver: runs the core among sidecars and serves leases on the admin API. */
export * from './errors.js';
export * from './log-machine.js';
export * from './lease-api.js';
export * from './membership-policy.js';
export * from './partition.js';
export * from './raft-node.js';
export * from './start.js';
export * from './wire-messages.js';
export {
  CoreStorage,
  decodeStoredEntry,
  decodeStoredSnapshot,
  encodeStoredEntry,
  encodeStoredSnapshot,
} from './core-storage.js';
