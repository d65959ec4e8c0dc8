// The checker lives beside the lease client in src/raft-node/testing (compiled, so the e2e tests
// on real pods use it too); the sidecar tests and chaos/ import it from here.
export * from '../../src/raft-node/testing/history-checker.js';
