// Test support for the e2e suite: cluster paths, kubectl, KubeConfig and per-file namespaces.
export * from './paths.js';
export * from './kubectl.js';
export * from './cluster.js';
export * from './echo-app.js';
