/** Sagas: the pure state machine and decisions, the leader's orchestrator, the admin API. */
export * from './commands.js';
export * from './decisions.js';
export * from './definition.js';
export * from './entry-batcher.js';
export * from './http-caller.js';
export * from './orchestrator.js';
export * from './saga-api.js';
export * from './saga-machine.js';
export * from './saga-table.js';
export * from './start.js';
