/** The lease state machine: locks with fencing tokens, replicated through Raft. */
export * from './commands.js';
export * from './errors.js';
export * from './lease-table.js';
