/** The pure Raft core: drive it with a RawNode, read storage through Storage. */
export * from './errors.js';
export {
  applyConfChange,
  bootstrapLog,
  decodeConfChange,
  describeConf,
  encodeConfChange,
} from './membership.js';
export type { Ready, Status, ProposalPosition } from './raw-node.js';
export { RawNode } from './raw-node.js';
export type { RaftOptions } from './raft.js';
export * from './storage.js';
export * from './types.js';
