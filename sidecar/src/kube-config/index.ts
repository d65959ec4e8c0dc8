/**
 * Kubernetes mode's config delivery (decision 0008): a label-selected list+watch of the
 * namespace's config ConfigMaps, the pure choice of this pod's object, and the client-node
 * adapter. See docs/sidecar.md "Running in Kubernetes".
 */
export * from './config-map-cache.js';
export * from './config-map-reflector.js';
export * from './kube-client.js';
export * from './kube-config-source.js';
export * from './select-config.js';
