/** The lifecycle of this sidecar's Raft member and sagas: started when the config asks for them. */
export * from './raft-group-runner.js';
